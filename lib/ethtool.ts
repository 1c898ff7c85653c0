/**
 * ethtool: ring parameters (including header split), channels, and driver
 * identity. Rings and channels go through ethtool netlink; driver identity
 * through the SIOCETHTOOL ioctl, which has no netlink equivalent.
 */
import { call, callSync, invalidArgument } from './errors';
import { resolveInterface, type InterfaceSpec } from './interfaces';
import { native, type Attrs } from './native';

/** ETHTOOL_TCP_DATA_SPLIT_*: `unknown` is the driver default ("auto"), which devmem does not accept. */
export type TcpDataSplit = 'unknown' | 'disabled' | 'enabled';
const TDS: TcpDataSplit[] = ['unknown', 'disabled', 'enabled'];

export interface Rings {
  rx?: number;
  rxMax?: number;
  rxMini?: number;
  rxMiniMax?: number;
  rxJumbo?: number;
  rxJumboMax?: number;
  tx?: number;
  txMax?: number;
  rxBufLen?: number;
  cqeSize?: number;
  txPush?: number;
  rxPush?: number;
  txPushBufLen?: number;
  txPushBufLenMax?: number;
  /** Absent when the driver does not report header split at all. */
  tcpDataSplit?: TcpDataSplit;
  hdsThresh?: number;
  hdsThreshMax?: number;
}

export type RingsUpdate = Partial<Pick<Rings, 'rx' | 'rxMini' | 'rxJumbo' | 'tx' | 'rxBufLen' | 'cqeSize' | 'hdsThresh' | 'tcpDataSplit'>>;

export interface Channels {
  rxMax?: number;
  txMax?: number;
  otherMax?: number;
  combinedMax?: number;
  rxCount?: number;
  txCount?: number;
  otherCount?: number;
  combinedCount?: number;
}

export type ChannelsUpdate = Partial<Pick<Channels, 'rxCount' | 'txCount' | 'otherCount' | 'combinedCount'>>;

export interface DriverInfo {
  driver: string;
  version: string;
  firmwareVersion: string;
  busInfo: string;
}

function stripHeader(a: Attrs): Attrs {
  const { header: _header, ...rest } = a;
  return rest;
}

const RING_KEYS = ['rx', 'rxMini', 'rxJumbo', 'tx', 'rxBufLen', 'cqeSize', 'hdsThresh', 'tcpDataSplit'];
const CHANNEL_KEYS = ['rxCount', 'txCount', 'otherCount', 'combinedCount'];

/** Checks a settings object before any request: only known keys, u32 counts. */
function checkUpdate(update: unknown, keys: string[], what: string): Record<string, unknown> {
  if (update === null || typeof update !== 'object' || Array.isArray(update)) throw new TypeError(`${what} needs an object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(update)) {
    if (v === undefined) continue;
    if (!keys.includes(k)) throw invalidArgument(`${what}: unknown setting ${JSON.stringify(k)}; known: ${keys.join(', ')}`);
    if (k === 'tcpDataSplit') {
      out[k] = v;
      continue;
    }
    if (typeof v !== 'number') throw new TypeError(`${what}: ${k} must be a number, got ${typeof v}`);
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalidArgument(`${what}: ${k} must be an integer in 0..2^32-1, got ${v}`);
    out[k] = v;
  }
  return out;
}

/** Ring sizes and header-split state. */
export async function getRings(iface: InterfaceSpec): Promise<Rings> {
  const { ifindex, ifname } = await resolveInterface(iface);
  const [r] = await call('ethtool', `cannot read ring parameters of ${ifname}`, () =>
    native().netlinkRequest('ethtool', 'rings-get', { header: { devIndex: ifindex } }, false),
  );
  return ringsFrom(r!);
}

/** @internal getRings on the calling thread, for NicConfig's undo (see setRingsSync). */
export function getRingsSync(ifindex: number, ifname: string): Rings {
  const [r] = callSync('ethtool', `cannot read ring parameters of ${ifname}`, () =>
    native().netlinkRequestSync('ethtool', 'rings-get', { header: { devIndex: ifindex } }),
  );
  return ringsFrom(r!);
}

function ringsFrom(r: Attrs): Rings {
  const out = stripHeader(r) as Rings & { tcpDataSplit?: unknown };
  if (typeof out.tcpDataSplit === 'number') out.tcpDataSplit = TDS[out.tcpDataSplit] ?? 'unknown';
  return out as Rings;
}

/**
 * Changes ring parameters. For devmem set `{ tcpDataSplit: 'enabled', hdsThresh: 0 }`:
 * the kernel checks what the user configured, so a driver that splits by
 * default still fails bind-rx until header split is set explicitly.
 */
export async function setRings(iface: InterfaceSpec, update: RingsUpdate): Promise<void> {
  const attrs = ringAttrs(update, 'setRings');
  const { ifindex, ifname } = await resolveInterface(iface);
  await call('ethtool', `cannot set ring parameters of ${ifname}`, () =>
    native().netlinkRequest('ethtool', 'rings-set', { header: { devIndex: ifindex }, ...attrs }, false),
  );
}

/**
 * @internal setRings on the calling thread, for NicConfig, whose changes and
 * their undo entries must never be apart while a signal handler can run.
 */
export function setRingsSync(ifindex: number, ifname: string, update: RingsUpdate): void {
  const attrs = ringAttrs(update, 'setRings');
  callSync('ethtool', `cannot set ring parameters of ${ifname}`, () =>
    native().netlinkRequestSync('ethtool', 'rings-set', { header: { devIndex: ifindex }, ...attrs }),
  );
}

function ringAttrs(update: RingsUpdate, what: string): Attrs {
  const attrs: Attrs = {};
  for (const [k, v] of Object.entries(checkUpdate(update, RING_KEYS, what))) {
    if (v === undefined) continue;
    if (k === 'tcpDataSplit') {
      const i = TDS.indexOf(v as TcpDataSplit);
      if (i < 0) throw invalidArgument(`tcpDataSplit must be one of ${TDS.join(', ')}, got ${String(v)}`);
      attrs.tcpDataSplit = i;
    } else {
      attrs[k] = v;
    }
  }
  return attrs;
}

/** Channel counts; devmem counts RX queues as rxCount + combinedCount. */
export async function getChannels(iface: InterfaceSpec): Promise<Channels> {
  const { ifindex, ifname } = await resolveInterface(iface);
  const [c] = await call('ethtool', `cannot read channels of ${ifname}`, () =>
    native().netlinkRequest('ethtool', 'channels-get', { header: { devIndex: ifindex } }, false),
  );
  return stripHeader(c!) as Channels;
}

/** The RX queues a device has, as devmem counts them: rxCount + combinedCount. */
export function rxChannelCount(c: Channels): number {
  return (c.rxCount ?? 0) + (c.combinedCount ?? 0);
}

/** Changes channel counts; the kernel refuses to drop a queue that is bound. */
export async function setChannels(iface: InterfaceSpec, update: ChannelsUpdate): Promise<void> {
  const counts = checkUpdate(update, CHANNEL_KEYS, 'setChannels');
  const { ifindex, ifname } = await resolveInterface(iface);
  await call('ethtool', `cannot set channels of ${ifname}`, () =>
    native().netlinkRequest('ethtool', 'channels-set', { header: { devIndex: ifindex }, ...counts }, false),
  );
}

/** @internal setChannels on the calling thread, for NicConfig (see setRingsSync). */
export function setChannelsSync(ifindex: number, ifname: string, update: ChannelsUpdate): void {
  const counts = checkUpdate(update, CHANNEL_KEYS, 'setChannels');
  callSync('ethtool', `cannot set channels of ${ifname}`, () =>
    native().netlinkRequestSync('ethtool', 'channels-set', { header: { devIndex: ifindex }, ...counts }),
  );
}

/** Driver name, version, firmware and bus address (ETHTOOL_GDRVINFO). */
export async function getDriverInfo(iface: InterfaceSpec): Promise<DriverInfo> {
  const { ifname } = await resolveInterface(iface);
  return callSync('ethtool', `cannot read driver info of ${ifname}`, () => native().ethtoolDriverInfo(ifname));
}

export {
  addFlowRule,
  deleteFlowRule,
  getNtupleFilter,
  listFlowRules,
  setNtupleFilter,
  type FlowRule,
  type FlowRuleTable,
  type ReportedFlowRule,
} from './flow-rules';
export { equalIndirection, getRssIndirection, getRxRingCount, setRssIndirection } from './rss';

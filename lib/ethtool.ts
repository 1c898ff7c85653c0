/**
 * ethtool: ring parameters (including header split), channels, and driver
 * identity. Rings and channels go through ethtool netlink; driver identity
 * through the SIOCETHTOOL ioctl, which has no netlink equivalent.
 */
import { call, callSync, invalidArgument } from './errors';
import { resolveInterface, type InterfaceSpec } from './interfaces';
import { native, type Attrs } from './native';

/**
 * The ethtool `tcp-data-split` enum (header split): `unknown` means nobody
 * configured it, and bind-rx accepts only `enabled` (docs/kernel-notes.md#header-split).
 * The native codec names the values; one newer than this library arrives as its number.
 */
export type TcpDataSplit = 'unknown' | 'disabled' | 'enabled';

/** Ring parameters as `rings-get` reports them; a field the driver does not report is absent. */
export interface Rings {
  /** RX ring size, in descriptors. */
  rx?: number;
  /** The largest RX ring size the driver accepts. */
  rxMax?: number;
  /** RX mini ring size (drivers with a separate small-buffer ring). */
  rxMini?: number;
  /** The largest RX mini ring size. */
  rxMiniMax?: number;
  /** RX jumbo ring size (drivers with a separate large-buffer ring). */
  rxJumbo?: number;
  /** The largest RX jumbo ring size. */
  rxJumboMax?: number;
  /** TX ring size, in descriptors. */
  tx?: number;
  /** The largest TX ring size. */
  txMax?: number;
  /** RX buffer size, in bytes. */
  rxBufLen?: number;
  /** Completion queue entry size, in bytes. */
  cqeSize?: number;
  /** TX push (descriptors written straight to the device): 1 on, 0 off. */
  txPush?: number;
  /** RX push: 1 on, 0 off. */
  rxPush?: number;
  /** Bytes of a packet TX push may carry. */
  txPushBufLen?: number;
  /** The largest `txPushBufLen`. */
  txPushBufLenMax?: number;
  /** Header split; absent when the driver does not report it at all. */
  tcpDataSplit?: TcpDataSplit | number;
  /** Header-split threshold, in bytes (6.14+): devmem needs 0, so that every payload byte is split off. */
  hdsThresh?: number;
  /** The largest `hdsThresh` the driver accepts. */
  hdsThreshMax?: number;
}

/** The ring parameters `setRings()` can change; absent ones stay as they are. */
export type RingsUpdate = Partial<Pick<Rings, 'rx' | 'rxMini' | 'rxJumbo' | 'tx' | 'rxBufLen' | 'cqeSize' | 'hdsThresh' | 'tcpDataSplit'>>;

/** Channel counts as `channels-get` reports them; devmem's RX queues are `rxCount + combinedCount`. */
export interface Channels {
  /** The largest RX-only channel count. */
  rxMax?: number;
  /** The largest TX-only channel count. */
  txMax?: number;
  /** The largest count of other channels (link interrupts and the like). */
  otherMax?: number;
  /** The largest combined (RX and TX) channel count. */
  combinedMax?: number;
  /** RX-only channels. */
  rxCount?: number;
  /** TX-only channels. */
  txCount?: number;
  /** Other channels. */
  otherCount?: number;
  /** Combined channels, each with an RX and a TX queue. */
  combinedCount?: number;
}

/** The channel counts `setChannels()` can change; absent ones stay as they are. */
export type ChannelsUpdate = Partial<Pick<Channels, 'rxCount' | 'txCount' | 'otherCount' | 'combinedCount'>>;

/** A driver's identity as ETHTOOL_GDRVINFO reports it. */
export interface DriverInfo {
  /** Driver name, e.g. `mlx5_core`, `gve`, `netdevsim`. */
  driver: string;
  /** Driver version string (often the kernel's). */
  version: string;
  /** Firmware version; empty when the driver has none. */
  firmwareVersion: string;
  /** Bus address, e.g. a PCI address; empty for virtual devices. */
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
      // Named natively (native/netlink/spec.cc), which also rejects an unknown name.
      if (typeof v !== 'string' && typeof v !== 'number')
        throw new TypeError(`${what}: tcpDataSplit must be 'unknown', 'disabled' or 'enabled'`);
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
  return stripHeader(r) as Rings;
}

/**
 * Changes ring parameters. For devmem set `{ tcpDataSplit: 'enabled', hdsThresh: 0 }`,
 * even where the driver splits by default (docs/kernel-notes.md#header-split).
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
  return checkUpdate(update, RING_KEYS, what);
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

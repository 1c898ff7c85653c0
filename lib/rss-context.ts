/**
 * RSS contexts: extra indirection tables that n-tuple rules with FLOW_RSS
 * name, so that many flows to one port spread over a chosen set of RX queues
 * (what kperf does for a devmem server) while the main table keeps the other
 * traffic on the remaining queues. Context 0 is the main table and is not a
 * context here.
 *
 * Created and deleted through ethtool netlink RSS_CREATE_ACT and
 * RSS_DELETE_ACT when the kernel's ethtool family has them (6.17), else
 * through the SIOCETHTOOL ioctl (ETHTOOL_SRSSH with ETH_RXFH_CONTEXT_ALLOC;
 * indir_size 0 deletes). Either way the kernel refuses to delete a context
 * while a rule still names it (EBUSY): rules go first.
 */
import { call, callSync, DevmemError, invalidArgument } from './errors';
import { interfaceNameSync, resolveInterface, type InterfaceSpec } from './interfaces';
import { native } from './native';
import { getRssIndirection, getRxRingCount } from './rss';

/** One RSS context as the kernel reports it. */
export interface RssContext {
  /** The context's ID: what a FLOW_RSS rule names (1 or more). */
  id: number;
  /** The context's indirection table: entry i is the RX queue for flow-hash bucket i. */
  indirection: number[];
}

/** How RSS contexts are made on this kernel: ethtool netlink, or the ioctl. */
export type RssContextApi = 'netlink' | 'ioctl';

/**
 * @internal Which API creates and deletes contexts: ethtool netlink when the
 * family has RSS_CREATE_ACT and RSS_DELETE_ACT, else the ioctl (which every
 * kernel with contexts has). Decided once per call site, before any change.
 */
export async function rssContextApi(): Promise<RssContextApi> {
  try {
    const fam = await native().netlinkFamily('ethtool');
    const has = (name: string) => fam.ops.some((o) => o.name === name && o.do);
    return has('rss-create-act') && has('rss-delete-act') ? 'netlink' : 'ioctl';
  } catch {
    return 'ioctl';
  }
}

/** Spreads a table of `size` buckets evenly over `queues`, in their order. */
export function contextIndirection(size: number, queues: readonly number[]): Uint32Array {
  if (queues.length === 0) throw invalidArgument('an RSS context needs at least one queue');
  return Uint32Array.from({ length: size }, (_, i) => queues[i % queues.length]!);
}

/** Checks `queues` against the device's RX ring count; returns them as a plain array. */
function checkQueues(ifname: string, queues: readonly number[]): number[] {
  if (!Array.isArray(queues) || queues.length === 0) throw invalidArgument('an RSS context needs a non-empty array of RX queues');
  const rings = getRxRingCount(ifname);
  const seen = new Set<number>();
  for (const q of queues) {
    if (!Number.isInteger(q) || q < 0) throw invalidArgument(`RX queues are non-negative integers, got ${q}`);
    if (q >= rings) throw new DevmemError(`${ifname} has ${rings} RX rings; queue ${q} does not exist`, { reason: 'TOO_FEW_QUEUES' });
    if (seen.has(q)) throw invalidArgument(`queue ${q} is listed twice`);
    seen.add(q);
  }
  return [...queues];
}

function hostOrderBytes(table: Uint32Array): Buffer {
  // ETHTOOL_A_RSS_INDIR is u32s in host byte order, which a Uint32Array is.
  return Buffer.from(table.buffer, table.byteOffset, table.byteLength);
}

/**
 * @internal Creates a context with `table` on the calling thread (NicConfig
 * makes the change and pushes its undo in one turn); returns its ID.
 */
export function createRssContextSync(ifindex: number, ifname: string, table: Uint32Array, api: RssContextApi): number {
  const what = `cannot create an RSS context on ${ifname}`;
  if (api === 'ioctl') return callSync('rss', what, () => native().ethtoolRssContextCreate(ifname, table));
  const [reply] = callSync('rss', what, () =>
    native().netlinkRequestSync('ethtool', 'rss-create-act', { header: { devIndex: ifindex }, indir: hostOrderBytes(table) }),
  );
  const id = reply?.context;
  if (typeof id !== 'number') throw new DevmemError(`${what}: the kernel's reply names no context`, { reason: 'PROTOCOL_ERROR' });
  return id;
}

/** @internal Deletes context `context` on the calling thread (for NicConfig's undo). */
export function deleteRssContextSync(ifindex: number, ifname: string, context: number, api: RssContextApi): void {
  const what = `cannot delete RSS context ${context} on ${ifname}`;
  if (api === 'ioctl') {
    callSync('rss', what, () => native().ethtoolRssContextDelete(ifname, context));
    return;
  }
  callSync('rss', what, () => native().netlinkRequestSync('ethtool', 'rss-delete-act', { header: { devIndex: ifindex }, context }));
}

function checkContextId(context: unknown): number {
  if (typeof context !== 'number') throw new TypeError(`an RSS context ID must be a number, got ${typeof context}`);
  if (!Number.isInteger(context) || context < 1 || context >= 0xffffffff)
    throw invalidArgument(`an RSS context ID is an integer from 1 to 2^32-2, got ${context}`);
  return context;
}

/**
 * Creates an RSS context spreading flows evenly over `queues` and returns
 * its ID. Delete it with {@link deleteRssContext} once no rule names it.
 *
 * @throws DevmemError INVALID_ARGUMENT or TOO_FEW_QUEUES for bad queues
 * (before any change), RSS_UNSUPPORTED when the device has no RSS contexts.
 */
export async function createRssContext(iface: InterfaceSpec, queues: readonly number[]): Promise<number> {
  const { ifindex, ifname } = await resolveInterface(iface);
  const list = checkQueues(ifname, queues);
  const size = getRssIndirection(ifname).length;
  const api = await rssContextApi();
  return createRssContextSync(ifindex, ifname, contextIndirection(size, list), api);
}

/**
 * Deletes RSS context `context`.
 *
 * @throws DevmemError INVALID_ARGUMENT for an ID that is not an integer of 1
 * or more (before any syscall), RESOURCE_BUSY-like kernel errors (EBUSY)
 * while a FLOW_RSS rule still names the context, and the kernel's ENOENT
 * when there is no such context.
 */
export async function deleteRssContext(iface: InterfaceSpec, context: number): Promise<void> {
  const id = checkContextId(context);
  const { ifindex, ifname } = await resolveInterface(iface);
  deleteRssContextSync(ifindex, ifname, id, await rssContextApi());
}

/**
 * A context's indirection table, or null when there is no such context.
 *
 * @throws DevmemError RSS_UNSUPPORTED when the device has no RSS contexts.
 */
export function getRssContext(iface: InterfaceSpec, context: number): RssContext | null {
  const id = checkContextId(context);
  const ifname = interfaceNameSync(iface);
  try {
    const t = callSync('rss', `cannot read RSS context ${id} of ${ifname}`, () => native().ethtoolRssContextIndirection(ifname, id));
    return { id, indirection: Array.from(t) };
  } catch (e) {
    if (e instanceof DevmemError && e.code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Every RSS context of the device, from an ethtool netlink RSS_GET dump
 * (where the kernel can dump them); null when it cannot list them
 * (the ioctl can only read a context whose ID is known).
 */
export async function listRssContexts(iface: InterfaceSpec): Promise<RssContext[] | null> {
  const { ifindex, ifname } = await resolveInterface(iface);
  let replies;
  try {
    replies = await call('rss', `cannot list the RSS contexts of ${ifname}`, () =>
      native().netlinkRequest('ethtool', 'rss-get', { header: { devIndex: ifindex }, startContext: 1 }, true),
    );
  } catch (e) {
    // A kernel whose RSS_GET cannot dump contexts has no start-context in its
    // strict policy and refuses the attribute (EINVAL).
    if (
      e instanceof DevmemError &&
      (e.reason === 'RSS_UNSUPPORTED' || e.reason === 'KERNEL_TOO_OLD' || e.code === 'EOPNOTSUPP' || e.code === 'EINVAL')
    )
      return null;
    throw e;
  }
  const out: RssContext[] = [];
  for (const r of replies) {
    const id = r.context;
    // The dump starts at the main table on kernels that ignore startContext.
    if (typeof id !== 'number' || id === 0) continue;
    const header = r.header as { devIndex?: number } | undefined;
    if (header?.devIndex !== undefined && header.devIndex !== ifindex) continue;
    const indir = r.indir;
    const table =
      indir instanceof Uint8Array ? new Uint32Array(indir.buffer.slice(indir.byteOffset, indir.byteOffset + indir.byteLength)) : [];
    out.push({ id, indirection: Array.from(table) });
  }
  return out.sort((a, b) => a.id - b.id);
}

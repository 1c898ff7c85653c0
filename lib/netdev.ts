/**
 * The netdev generic netlink family: devices, queues, NAPI instances, page
 * pools and queue statistics, as the running kernel reports them.
 */
import { call, callSync, invalidArgument } from './errors';
import { checkIfindex } from './interfaces';
import { native, type Attrs } from './native';
import { openNetns, type NetnsSpec } from './netns';

/** The netdev `queue-type` enum. */
export type QueueType = 'rx' | 'tx';

/**
 * Names from the kernel's netdev spec for enum values; the native codec
 * (native/netlink/spec.cc) decodes them, so a value newer than this library
 * arrives as its number, and a flag bit it has no name for as `bit-N`.
 */
export type Named<T extends string> = T | number;

/** The netdev `xdp-act` flags: the XDP features a device supports. */
export type XdpFeature = 'basic' | 'redirect' | 'ndo-xmit' | 'xsk-zerocopy' | 'hw-offload' | 'rx-sg' | 'ndo-xmit-sg';
/** The netdev `xdp-rx-metadata` flags: the metadata an XDP program can read. */
export type XdpRxMetadataFeature = 'timestamp' | 'hash' | 'vlan-tag';
/** The netdev `xsk-flags` flags: the AF_XDP TX metadata a device supports. */
export type XskFeature = 'tx-timestamp' | 'tx-checksum' | 'tx-launch-time-fifo';
/** The netdev `napi-threaded` enum: how a NAPI instance is polled. */
export type NapiThreaded = 'disabled' | 'enabled' | 'busy-poll';

/** A device as `dev-get` reports it. */
export interface NetdevDevice {
  /** The device's interface index. */
  ifindex: number;
  /** XDP features the driver supports (an unnamed bit arrives as `bit-N`). */
  xdpFeatures?: (XdpFeature | `bit-${number}`)[];
  /** Most fragments an XDP zero-copy (AF_XDP) frame may span. */
  xdpZcMaxSegs?: number;
  /** XDP RX metadata the driver can provide. */
  xdpRxMetadataFeatures?: (XdpRxMetadataFeature | `bit-${number}`)[];
  /** AF_XDP TX metadata the driver supports. */
  xskFeatures?: (XskFeature | `bit-${number}`)[];
}

/** A queue as `queue-get` reports it. */
export interface NetdevQueue {
  /** The queue's index within its type on the device. */
  id: number;
  /** The device's interface index. */
  ifindex: number;
  /** Whether it is a receive or a transmit queue. */
  type: Named<QueueType>;
  /** The NAPI instance that services the queue, when the driver reports one. */
  napiId?: number;
  /** Id of the devmem binding that owns this RX queue, if any. */
  dmabuf?: number;
  /** Present when an io_uring zero-copy receive ifq owns the queue. */
  ioUring?: Attrs;
  /** Present when an AF_XDP socket uses the queue. */
  xsk?: Attrs;
  /**
   * On a physical device's RX queue that is leased: the virtual device and
   * its queue standing for it. The virtual device's own queue carries none
   * (the kernel reports the lease from the physical side only), but its
   * `dmabuf` and `ioUring` are the physical queue's.
   */
  lease?: NetdevQueueLease;
}

/** Who leases a physical queue, as `queue-get` on the physical device reports it. */
export interface NetdevQueueLease {
  /** The virtual device's ifindex, in its own network namespace. */
  ifindex: number;
  /** The virtual device's queue that stands for this one. */
  queue: {
    /** Its index on the virtual device. */
    id: number;
    /** Always `rx`: only RX queues are leased. */
    type: Named<QueueType>;
  };
  /** The virtual device's namespace, as the physical device's namespace numbers it; absent when they share one. */
  netnsId?: number;
}

/**
 * Why an RX queue cannot be given to a new user, in words that follow "queue
 * N of IF": a binding, a zcrx area, an AF_XDP socket or a lease holds it.
 * Undefined for a free queue.
 *
 * @internal
 */
export function queueBusyBecause(q: NetdevQueue): string | undefined {
  if (q.dmabuf !== undefined) return `is bound to devmem binding ${q.dmabuf}`;
  if (q.ioUring !== undefined) return 'has an io_uring zcrx area';
  if (q.xsk !== undefined) return 'is used by an AF_XDP socket';
  if (q.lease !== undefined) return `is already leased (to queue ${q.lease.queue.id} of ifindex ${q.lease.ifindex})`;
  return undefined;
}

/** A NAPI instance as `napi-get` reports it. */
export interface NetdevNapi {
  /** The NAPI id (also SO_INCOMING_NAPI_ID's value). */
  id: number;
  /** The device's interface index. */
  ifindex: number;
  /** The interrupt line, when the instance has one. */
  irq?: number;
  /** The polling kernel thread's pid, when the instance is threaded. */
  pid?: number;
  /** How many times an empty poll may re-arm the timer instead of the IRQ. */
  deferHardIrqs?: number;
  /** GRO flush timeout, in ns. */
  groFlushTimeout?: number | bigint;
  /** How long busy polling may suspend the IRQ, in ns. */
  irqSuspendTimeout?: number | bigint;
  /** Threaded polling mode. */
  threaded?: Named<NapiThreaded>;
}

/** A page pool as `page-pool-get` reports it. */
export interface NetdevPagePool {
  /** The pool's id. */
  id: number | bigint;
  /** The device the pool serves; absent once the device is gone. */
  ifindex?: number;
  /** The NAPI instance the pool is tied to. */
  napiId?: number | bigint;
  /** Pages (or net_iovs) handed out and not yet returned. */
  inflight?: number | bigint;
  /** Bytes those in-flight pages hold. */
  inflightMem?: number | bigint;
  /** When the pool's driver let go of it (s since boot); it lingers while pages are in flight. */
  detachTime?: number | bigint;
  /** Id of the devmem binding the pool takes memory from. */
  dmabuf?: number;
  /** Present when an io_uring zero-copy receive ifq provides the pool's memory. */
  ioUring?: Attrs;
}

/** Which pool a `page-pool-stats-get` record counts for. */
export interface NetdevPagePoolInfo {
  /** The pool's id. */
  id?: number | bigint;
  /** The device the pool serves. */
  ifindex?: number;
}

/**
 * One pool's counters from `page-pool-stats-get` (needs CONFIG_PAGE_POOL_STATS):
 * `allocFast`, `allocSlow`, `recycleCached`, `recycleRing` and the rest of the
 * kernel's page-pool-stats set, camelCased.
 */
export type NetdevPagePoolStats = Attrs & {
  /** The pool these counters belong to. */
  info?: NetdevPagePoolInfo;
};

/**
 * One `qstats-get` record: a device's (or, by queue, one queue's) traffic
 * counters (`rxPackets`, `rxBytes`, `txPackets`, `rxHwDrops`, ... as the
 * kernel's qstats set names them, camelCased).
 */
export type NetdevQstats = Attrs & {
  /** The device counted. */
  ifindex: number;
  /** With `scope: 'queue'`: which kind of queue the record counts. */
  queueType?: Named<QueueType>;
  /** With `scope: 'queue'`: which queue the record counts. */
  queueId?: number;
};

/** The physical RX queue a queue-create request leases. */
export interface QueueLeaseRequest {
  /** The physical device's ifindex, in its own network namespace. */
  ifindex: number;
  /** The physical RX queue to lease. */
  queue: number;
  /**
   * The physical device's network namespace as the virtual device's namespace
   * numbers it (`ip netns list-id` there); absent when both share one. Giving
   * it needs CAP_NET_ADMIN in the initial user namespace.
   */
  netnsId?: number;
}

/** A queue-create request: a new RX queue on a virtual device, standing for a leased physical queue. */
export interface CreateQueueRequest {
  /** The virtual device (the netkit guest), in the namespace the request is made in. */
  ifindex: number;
  /** Only RX queues can be created. */
  type: 'rx';
  /** The physical queue the new queue leases. */
  lease: QueueLeaseRequest;
}

function queueCreateAttrs(req: CreateQueueRequest): Attrs {
  if (req === null || typeof req !== 'object') throw new TypeError('createQueue needs { ifindex, type, lease }');
  if (req.type !== 'rx') throw invalidArgument(`only RX queues can be created, got type ${JSON.stringify(req.type)}`);
  const l = req.lease;
  if (l === null || typeof l !== 'object') throw new TypeError('createQueue needs lease: { ifindex, queue, netnsId? }');
  if (!Number.isInteger(l.queue) || l.queue < 0 || l.queue > 0xffffffff)
    throw invalidArgument(`the leased queue must be a non-negative 32-bit integer, got ${l.queue}`);
  if (l.netnsId !== undefined && (!Number.isInteger(l.netnsId) || l.netnsId < 0 || l.netnsId > 0x7fffffff))
    throw invalidArgument(`netnsId must be a non-negative 32-bit integer, got ${l.netnsId}`);
  const lease: Attrs = { ifindex: checkIfindex(l.ifindex), queue: { id: l.queue, type: 'rx' } };
  if (l.netnsId !== undefined) lease.netnsId = l.netnsId;
  return { ifindex: checkIfindex(req.ifindex), type: 'rx', lease };
}

function queueCreateWhat(req: CreateQueueRequest): string {
  return `queue-create on ifindex ${req.ifindex} leasing queue ${req.lease.queue} of ifindex ${req.lease.ifindex} failed`;
}

/**
 * queue-create (Linux 7.1+): a new RX queue on a virtual device (a netkit
 * guest) leasing physical RX queue `lease.queue`, so that bind-rx or io_uring
 * zcrx on the virtual device's new queue reaches the physical one. Resolves
 * with the new queue's id on the virtual device. The kernel has no op to end
 * a lease: it lasts until the virtual device is deleted (see leaseQueue()).
 *
 * @throws DevmemError KERNEL_TOO_OLD (no queue-create op), NOT_VIRTUAL (the
 * device is physical), LEASE_UNSUPPORTED (not a netkit guest, or the lending
 * device cannot lend), QUEUE_BUSY, QUEUE_OUT_OF_RANGE, NO_SUCH_DEVICE,
 * NOT_PERMITTED, INVALID_ARGUMENT.
 */
export async function createQueue(
  req: CreateQueueRequest,
  options: {
    /** The namespace the virtual device is in (the request is made there); the caller's when absent. */
    netns?: NetnsSpec;
  } = {},
): Promise<number> {
  const attrs = queueCreateAttrs(req);
  const ns = options.netns === undefined ? undefined : openNetns(options.netns);
  try {
    const [r] = await call('queue-create', queueCreateWhat(req), () =>
      native().netlinkRequest('netdev', 'queue-create', attrs, false, ns?.fd),
    );
    return (r as { id: number }).id;
  } finally {
    ns?.close();
  }
}

/** @internal createQueue() on the calling thread, in the namespace of `netnsFd` when given. */
export function createQueueSync(req: CreateQueueRequest, netnsFd?: number): number {
  const attrs = queueCreateAttrs(req);
  const [r] = callSync('queue-create', queueCreateWhat(req), () => native().netlinkRequestSync('netdev', 'queue-create', attrs, netnsFd));
  return (r as { id: number }).id;
}

/** A netdev multicast group. */
export interface NetdevMcastGroup {
  /** The group's name: `mgmt` (device changes) or `page-pool`. */
  name: string;
  /** Its id, to join with NETLINK_ADD_MEMBERSHIP. */
  id: number;
}

/** A netdev op and what nlctrl says about it. */
export interface NetdevOp {
  /** The op's name in the kernel's netdev spec (`op-N` for one newer than this library). */
  name: string;
  /** The op's id, as this kernel registered it. */
  cmd: number;
  /** Needs CAP_NET_ADMIN in the initial user namespace. */
  admin: boolean;
  /** Needs CAP_NET_ADMIN in the device's user namespace (bind-rx from about 7.2). */
  userNamespaceAdmin: boolean;
  /** Can be issued as a single request. */
  do: boolean;
  /** Can be dumped. */
  dump: boolean;
}

/** The netdev family as nlctrl reports it on this kernel. */
export interface NetdevFamily {
  /** The family id; dynamic, so never hard-coded. */
  id: number;
  /** The family's version. */
  version: number;
  /** Every op the kernel registered. */
  ops: NetdevOp[];
  /** Multicast groups (`mgmt`, `page-pool`) and their ids. */
  mcastGroups: NetdevMcastGroup[];
  /** Whether the kernel has the op, e.g. `has('bind-tx')` (6.16+). */
  has(name: string): boolean;
}

/** The netdev family as this kernel registered it; family ids are dynamic. */
export async function netdevFamily(): Promise<NetdevFamily> {
  const f = await call('netlink', 'cannot resolve the netdev netlink family', () => native().netlinkFamily('netdev'));
  const ops = f.ops.map(({ name, ...op }) => ({ ...op, name: name ?? `op-${op.cmd}` }));
  return {
    id: f.id,
    version: f.version,
    ops,
    mcastGroups: f.mcastGroups,
    has: (name: string) => ops.some((o) => o.name === name),
  };
}

function request(command: string, attrs: Attrs, dump: boolean, what: string): Promise<Attrs[]> {
  return call('netlink', what, () => native().netlinkRequest('netdev', command, attrs, dump));
}

/** dev-get for one device. */
export async function getDevice(ifindex: number): Promise<NetdevDevice> {
  const [d] = await request('dev-get', { ifindex: checkIfindex(ifindex) }, false, `dev-get ${ifindex} failed`);
  return d as unknown as NetdevDevice;
}

/** dev-get dump: every device in this network namespace. */
export async function listDevices(): Promise<NetdevDevice[]> {
  return (await request('dev-get', {}, true, 'dev-get dump failed')) as unknown as NetdevDevice[];
}

/** queue-get for one queue. */
export async function getQueue(ifindex: number, type: QueueType, id: number): Promise<NetdevQueue> {
  const [q] = await request(
    'queue-get',
    { ifindex: checkIfindex(ifindex), type, id },
    false,
    `queue-get ${type} ${id} on ifindex ${ifindex} failed`,
  );
  return q as unknown as NetdevQueue;
}

/**
 * @internal queue-get on the calling thread, for NicConfig's synchronous undo
 * of a zcrx queue (which waits for the kernel to drop the io_uring owner).
 */
export function getQueueSync(ifindex: number, type: QueueType, id: number): NetdevQueue {
  const [q] = callSync('netlink', `queue-get ${type} ${id} on ifindex ${ifindex} failed`, () =>
    native().netlinkRequestSync('netdev', 'queue-get', { ifindex: checkIfindex(ifindex), type, id }),
  );
  return q as unknown as NetdevQueue;
}

/** queue-get dump, for one device or all. Only devices that are up have queues. */
export async function listQueues(ifindex?: number): Promise<NetdevQueue[]> {
  const attrs = ifindex === undefined ? {} : { ifindex: checkIfindex(ifindex) };
  return (await request('queue-get', attrs, true, 'queue-get dump failed')) as unknown as NetdevQueue[];
}

/** napi-get for one NAPI instance. */
export async function getNapi(id: number): Promise<NetdevNapi> {
  const [n] = await request('napi-get', { id }, false, `napi-get ${id} failed`);
  return n as unknown as NetdevNapi;
}

/** napi-get dump, for one device or all. */
export async function listNapis(ifindex?: number): Promise<NetdevNapi[]> {
  const attrs = ifindex === undefined ? {} : { ifindex: checkIfindex(ifindex) };
  return (await request('napi-get', attrs, true, 'napi-get dump failed')) as unknown as NetdevNapi[];
}

/** page-pool-get for one pool. */
export async function getPagePool(id: number): Promise<NetdevPagePool> {
  const [p] = await request('page-pool-get', { id }, false, `page-pool-get ${id} failed`);
  return p as unknown as NetdevPagePool;
}

/** page-pool-get dump, optionally only one device's pools. */
export async function listPagePools(ifindex?: number): Promise<NetdevPagePool[]> {
  const all = (await request('page-pool-get', {}, true, 'page-pool-get dump failed')) as unknown as NetdevPagePool[];
  return ifindex === undefined ? all : all.filter((p) => p.ifindex === ifindex);
}

/** page-pool-stats-get dump (needs CONFIG_PAGE_POOL_STATS; KERNEL_TOO_OLD otherwise). */
export async function listPagePoolStats(): Promise<NetdevPagePoolStats[]> {
  return (await request('page-pool-stats-get', {}, true, 'page-pool-stats-get dump failed')) as NetdevPagePoolStats[];
}

/** qstats-get dump; `scope: 'queue'` breaks the counters down per queue. */
export async function listQstats(opts: { ifindex?: number; scope?: 'device' | 'queue' } = {}): Promise<NetdevQstats[]> {
  const attrs: Attrs = {};
  if (opts.ifindex !== undefined) attrs.ifindex = checkIfindex(opts.ifindex);
  if (opts.scope === 'queue') attrs.scope = ['queue'];
  return (await request('qstats-get', attrs, true, 'qstats-get dump failed')) as NetdevQstats[];
}

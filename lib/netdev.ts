/**
 * The netdev generic netlink family: devices, queues, NAPI instances, page
 * pools and queue statistics, as the running kernel reports them.
 */
import { call } from './errors';
import { checkIfindex } from './interfaces';
import { native, type Attrs } from './native';

export type QueueType = 'rx' | 'tx';

export interface NetdevDevice {
  ifindex: number;
  xdpFeatures?: number | bigint;
  xdpZcMaxSegs?: number;
  xdpRxMetadataFeatures?: number | bigint;
  xskFeatures?: number | bigint;
}

export interface NetdevQueue {
  id: number;
  ifindex: number;
  type: QueueType;
  napiId?: number;
  /** Id of the devmem binding that owns this RX queue, if any. */
  dmabuf?: number;
  /** Present when an io_uring zero-copy receive ifq owns the queue. */
  ioUring?: Attrs;
  /** Present when an AF_XDP socket uses the queue. */
  xsk?: Attrs;
  lease?: Attrs;
}

export interface NetdevNapi {
  id: number;
  ifindex: number;
  irq?: number;
  pid?: number;
  deferHardIrqs?: number;
  groFlushTimeout?: number | bigint;
  irqSuspendTimeout?: number | bigint;
  threaded?: number;
}

export interface NetdevPagePool {
  id: number | bigint;
  ifindex?: number;
  napiId?: number | bigint;
  inflight?: number | bigint;
  inflightMem?: number | bigint;
  detachTime?: number | bigint;
  /** Id of the devmem binding the pool takes memory from. */
  dmabuf?: number;
  ioUring?: Attrs;
}

export type NetdevPagePoolStats = Attrs & { info?: { id?: number | bigint; ifindex?: number } };
export type NetdevQstats = Attrs & { ifindex: number; queueType?: number; queueId?: number };

/** A netdev op and what nlctrl says about it. */
export interface NetdevOp {
  name: string;
  cmd: number;
  /** Needs CAP_NET_ADMIN in the initial user namespace. */
  admin: boolean;
  /** Needs CAP_NET_ADMIN in the device's user namespace (bind-rx from about 7.2). */
  userNamespaceAdmin: boolean;
  do: boolean;
  dump: boolean;
}

export interface NetdevFamily {
  id: number;
  version: number;
  ops: NetdevOp[];
  mcastGroups: { name: string; id: number }[];
  has(name: string): boolean;
}

const OP_NAMES: Record<number, string> = {
  1: 'dev-get', 5: 'page-pool-get', 9: 'page-pool-stats-get', 10: 'queue-get', 11: 'napi-get',
  12: 'qstats-get', 13: 'bind-rx', 14: 'napi-set', 15: 'bind-tx', 16: 'queue-create',
};

/** The netdev family as this kernel registered it; family ids are dynamic. */
export async function netdevFamily(): Promise<NetdevFamily> {
  const f = await call('netlink', 'cannot resolve the netdev netlink family', () => native().netlinkFamily('netdev'));
  const c = native().constants;
  const ops = f.ops.map((op) => ({
    name: OP_NAMES[op.cmd] ?? `op-${op.cmd}`,
    cmd: op.cmd,
    admin: (op.flags & c.GENL_ADMIN_PERM!) !== 0,
    userNamespaceAdmin: (op.flags & c.GENL_UNS_ADMIN_PERM!) !== 0,
    do: (op.flags & c.GENL_CMD_CAP_DO!) !== 0,
    dump: (op.flags & c.GENL_CMD_CAP_DUMP!) !== 0,
  }));
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

function queueFrom(a: Attrs): NetdevQueue {
  return { ...(a as unknown as NetdevQueue), type: a.type === 1 ? 'tx' : 'rx' };
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
    { ifindex: checkIfindex(ifindex), type: type === 'tx' ? 1 : 0, id },
    false,
    `queue-get ${type} ${id} on ifindex ${ifindex} failed`,
  );
  return queueFrom(q!);
}

/** queue-get dump, for one device or all. Only devices that are up have queues. */
export async function listQueues(ifindex?: number): Promise<NetdevQueue[]> {
  const attrs = ifindex === undefined ? {} : { ifindex: checkIfindex(ifindex) };
  return (await request('queue-get', attrs, true, 'queue-get dump failed')).map(queueFrom);
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
  if (opts.scope === 'queue') attrs.scope = 1;
  return (await request('qstats-get', attrs, true, 'qstats-get dump failed')) as NetdevQstats[];
}

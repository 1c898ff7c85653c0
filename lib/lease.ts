/**
 * Queue leasing (Linux 7.1+): how a container reaches devmem. The container's
 * interface is the guest end of a netkit pair; netdev `queue-create` gives it a
 * new RX queue standing for one RX queue of the physical NIC, and bind-rx (or
 * io_uring zcrx) on that queue of the netkit device binds the physical queue.
 *
 * The request is made in the netkit device's network namespace and names the
 * physical device by its ifindex there plus the id the netkit's namespace has
 * for the physical device's namespace (NETNS_ID; `ip netns list-id`), which
 * this module reads, and assigns when there is none.
 *
 * Linux has no op to end a lease (no queue-delete, and netkit cannot drop
 * queues): it ends when the netkit device is deleted (netkit_uninit ->
 * netkit_queue_unlease in drivers/net/netkit.c), which also happens when its
 * namespace goes away, and when the physical device is unregistered (the
 * netkit pair is then deleted with it: netkit_check_lease_unregister). A
 * devmem binding or zcrx area made through the leased queue is closed by
 * the kernel when the lease ends (netif_rxq_cleanup_unlease).
 */
import { call, callSync, DevmemError, invalidArgument } from './errors';
import { checkInterfaceSpec, resolveInterface, type InterfaceRef, type InterfaceSpec } from './interfaces';
import { native } from './native';
import { createQueueSync, listQueues, netdevFamily, queueBusyBecause } from './netdev';
import { netnsPath, openNetns, type NetnsSpec, type OpenNetns } from './netns';

/** An interface in a given network namespace: by `name` or by `ifindex` (as that namespace numbers it). */
export interface NetnsInterfaceSpec {
  /** The namespace the interface is in. */
  netns: NetnsSpec;
  /** The interface's name there. */
  name?: string;
  /** The interface's index there (instead of `name`). */
  ifindex?: number;
}

/** What {@link leaseQueue} leases and where to. */
export interface LeaseQueueOptions {
  /** The physical NIC, in the caller's network namespace. */
  physical: InterfaceSpec;
  /** The physical RX queue to lease. */
  queue: number;
  /**
   * The netkit guest that gets the queue: a name or index in the caller's
   * namespace, or `{ netns, name }` for one inside a container's namespace.
   */
  into: InterfaceSpec | NetnsInterfaceSpec;
}

/** A lease that {@link leaseQueue} made. */
export interface Lease {
  /** The new queue's id on the netkit device: the queue to bind there (`devmem nc -t`). */
  queue: number;
  /** The netkit device, as its own namespace names it. */
  into: InterfaceRef & {
    /** The namespace file it is in; absent for the caller's namespace. */
    netns?: string;
  };
  /** The physical device and its leased queue. */
  physical: InterfaceRef & {
    /** The physical RX queue leased. */
    queue: number;
  };
  /** The id the netkit's namespace has for the physical device's namespace; absent when they are one. */
  netnsId?: number;
}

/** @internal A checked lease, ready to make: leaseQueue() and NicConfig.leaseQueue() share it. */
export interface LeasePlan {
  physical: InterfaceRef;
  queue: number;
  into: InterfaceRef;
  /** Open while the plan is; closeLeasePlan() closes it. Absent for the caller's namespace. */
  netns?: OpenNetns;
}

function checkLeaseOptions(opts: LeaseQueueOptions): void {
  if (opts === null || typeof opts !== 'object') throw new TypeError('leaseQueue needs { physical, queue, into }');
  checkInterfaceSpec(opts.physical);
  if (!Number.isInteger(opts.queue) || opts.queue < 0 || opts.queue > 0xffffffff)
    throw invalidArgument(`the queue to lease must be a non-negative integer, got ${opts.queue}`);
  const into = opts.into;
  if (into !== null && typeof into === 'object') {
    if ((into.name === undefined) === (into.ifindex === undefined))
      throw invalidArgument('into: { netns, name } or { netns, ifindex }: give exactly one of name and ifindex');
    checkInterfaceSpec(into.name ?? into.ifindex);
    netnsPath(into.netns);
  } else checkInterfaceSpec(into);
}

function where(plan: { netns?: OpenNetns }): string {
  return plan.netns ? ` in ${plan.netns.path}` : '';
}

/**
 * @internal Checks everything the kernel would before changing anything:
 * queue-create exists, `into` is a netkit device, the physical queue exists
 * and nothing holds it. Opens the namespace (closeLeasePlan() closes it).
 */
export async function planLease(opts: LeaseQueueOptions): Promise<LeasePlan> {
  checkLeaseOptions(opts);
  const family = await netdevFamily();
  if (!family.has('queue-create'))
    throw new DevmemError('this kernel has no netdev queue-create operation: queue leasing needs Linux 7.1 or later', {
      reason: 'KERNEL_TOO_OLD',
    });
  const physical = await resolveInterface(opts.physical);
  const into = opts.into;
  const ns = into !== null && typeof into === 'object' ? openNetns(into.netns) : undefined;
  const plan: LeasePlan = { physical, queue: opts.queue, into: { ifindex: 0, ifname: '' } };
  if (ns && !ns.own) plan.netns = ns;
  else ns?.close();
  try {
    const spec = typeof into === 'object' ? (into.name ?? (into.ifindex as number)) : into;
    const attrs = typeof spec === 'number' ? { ifindex: spec } : { ifname: spec };
    const [link] = await call('netlink', `cannot find interface ${JSON.stringify(spec)}${where(plan)}`, () =>
      native().netlinkRequest('rtnl', 'link-get', attrs, false, plan.netns?.fd),
    );
    if (!link) throw new DevmemError(`no interface ${JSON.stringify(spec)}${where(plan)}`, { reason: 'NO_SUCH_DEVICE' });
    plan.into = { ifindex: link.ifindex as number, ifname: link.ifname as string };
    const kind = (link.linkinfo as { kind?: string } | undefined)?.kind;
    if (kind !== 'netkit') {
      const what = `${plan.into.ifname}${where(plan)}`;
      if (kind === undefined)
        throw new DevmemError(`${what} is not a virtual device: a queue can only be leased into a netkit guest`, { reason: 'NOT_VIRTUAL' });
      throw new DevmemError(`${what} is a ${kind} device: a queue can only be leased into a netkit guest`, {
        reason: 'LEASE_UNSUPPORTED',
      });
    }
    const rx = (await listQueues(physical.ifindex)).filter((q) => q.type === 'rx');
    const q = rx.find((r) => r.id === opts.queue);
    if (!q)
      throw new DevmemError(
        rx.length === 0
          ? `${physical.ifname} lists no RX queues (is it up?); cannot lease queue ${opts.queue}`
          : `${physical.ifname} has RX queues 0..${rx.length - 1}; there is no queue ${opts.queue} to lease`,
        { reason: 'QUEUE_OUT_OF_RANGE' },
      );
    const busy = queueBusyBecause(q);
    if (busy) throw new DevmemError(`queue ${opts.queue} of ${physical.ifname} ${busy}: it cannot be leased`, { reason: 'QUEUE_BUSY' });
    return plan;
  } catch (e) {
    closeLeasePlan(plan);
    throw e;
  }
}

/** @internal Closes what planLease() opened. */
export function closeLeasePlan(plan: LeasePlan): void {
  plan.netns?.close();
}

/**
 * @internal Makes the lease, synchronously: the namespace id (read, or
 * assigned when the netkit's namespace has none for ours) and queue-create.
 */
export function applyLeaseSync(plan: LeasePlan): Lease {
  let netnsId: number | undefined;
  if (plan.netns) {
    const own = openNetns('/proc/self/ns/net');
    try {
      const fd = plan.netns.fd;
      netnsId = callSync('netlink', `cannot read the id ${plan.netns.path} has for this network namespace`, () =>
        native().netnsPeerId(fd, own.fd),
      );
    } finally {
      own.close();
    }
  }
  const lease = { ifindex: plan.physical.ifindex, queue: plan.queue, ...(netnsId === undefined ? {} : { netnsId }) };
  const queue = createQueueSync({ ifindex: plan.into.ifindex, type: 'rx', lease }, plan.netns?.fd);
  const out: Lease = {
    queue,
    into: { ...plan.into, ...(plan.netns ? { netns: plan.netns.path } : {}) },
    physical: { ...plan.physical, queue: plan.queue },
  };
  if (netnsId !== undefined) out.netnsId = netnsId;
  return out;
}

/** @internal How a lease reads in a step list or a log. */
export function leaseDescription(plan: LeasePlan, queue?: number): string {
  const made = queue === undefined ? '' : ` (queue ${queue} there)`;
  return `queue-create ${plan.into.ifname}${where(plan)} rx leasing ${plan.physical.ifname} queue ${plan.queue}${made}`;
}

/**
 * Leases RX queue `queue` of the physical NIC `physical` to the netkit guest
 * `into` (netdev queue-create, Linux 7.1+), and resolves with the new queue's
 * id on the netkit device: bind-rx there (`devmem nc -f <netkit> -t <id> -q 1
 * -n` inside the container) binds the physical queue. Steering the flow to the
 * physical queue (n-tuple rule, RSS) and header split stay the physical
 * device's business, set up outside the container.
 *
 * Everything is checked before anything changes. The lease cannot be ended
 * on its own: it lasts until the netkit device is deleted (or its namespace
 * is, or the physical device goes).
 *
 * @throws DevmemError KERNEL_TOO_OLD (no queue-create), NO_SUCH_DEVICE (an
 * unknown interface or namespace), NOT_VIRTUAL (`into` is a physical device),
 * LEASE_UNSUPPORTED (`into` is another kind of virtual device, or the primary
 * end of the pair, or the physical device cannot lend), QUEUE_OUT_OF_RANGE,
 * QUEUE_BUSY (the physical queue is bound, has a zcrx area, an AF_XDP socket
 * or a lease already), TOO_FEW_QUEUES (the netkit device has no queue left),
 * NOT_PERMITTED, INVALID_ARGUMENT.
 */
export async function leaseQueue(opts: LeaseQueueOptions): Promise<Lease> {
  const plan = await planLease(opts);
  try {
    return applyLeaseSync(plan);
  } finally {
    closeLeasePlan(plan);
  }
}

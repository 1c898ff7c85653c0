/**
 * Binding a dma-buf to NIC queues.
 *
 * Lifetime rules (see docs/kernel-notes.md#binding-lifetime): each binding
 * object owns the netlink socket that created it, and `close()` is the
 * unbind. A binding that is never closed lives until the process (or the
 * worker thread that made it) exits; the garbage collector never unbinds it,
 * because code may still hold and use its numeric `id`.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';

import { watchDevice } from './device-watch';
import { call, callSync, closedError, DevmemError, invalidArgument } from './errors';
import { checkInterfaceSpec, resolveInterface, type InterfaceSpec } from './interfaces';
import { native, type NativeBinding } from './native';
import { getQueueSync } from './netdev';

/** Anything with a dma-buf fd: a DmaBuf from this library, or `{ fd }` from elsewhere. */
export interface DmaBufLike {
  /**
   * The dma-buf's file descriptor. The binding holds its own reference to
   * the dma-buf in the kernel, so the fd may be closed once bound.
   */
  readonly fd: number;
  /** Its size in bytes. bindTx() reads it from `/proc/self/fdinfo` when absent; bindRx() does not use it. */
  readonly size?: number;
}

/** Options of {@link bindRx} and {@link NicConfig.bindRx}. */
export interface BindRxOptions {
  /**
   * Buffer (niov) size for this binding, a power of two >= PAGE_SIZE; Linux
   * 7.3+. Left out, the attribute is not sent and each buffer is one page.
   * A kernel or driver without it fails the bind with RX_PAGE_SIZE_UNSUPPORTED.
   */
  rxPageSize?: number;
}

/** The events of an RxBinding or TxBinding and their arguments. */
export interface BindingEvents {
  /**
   * Emitted once, when the device is unregistered (deleted, its driver
   * unbound, or moved to another network namespace) while the binding is
   * open. The error's reason is DEVICE_REMOVED.
   */
  deviceRemoved: [err: DevmemError];
}

/**
 * Events: `'deviceRemoved'` (the device was unregistered while the binding
 * was open; the listener gets a DevmemError with reason `DEVICE_REMOVED`).
 */
abstract class Binding extends EventEmitter<BindingEvents> {
  /** The binding id: `dmabuf_id` in received fragments, the cmsg value for TX. */
  readonly id: number;
  /** The bound interface's index. */
  readonly ifindex: number;
  /** The bound interface's name when the binding was made; a later rename does not change it. */
  readonly ifname: string;
  /** `'rx'` or `'tx'`. */
  readonly kind: 'rx' | 'tx';
  readonly #native: NativeBinding;
  #removed: DevmemError | undefined;
  #unwatch: (() => void) | undefined;
  // Sockets on this binding, told of a removal without being event
  // listeners: a server's connections would trip MaxListenersExceeded.
  readonly #removalSubscribers = new Set<(err: DevmemError) => void>();

  protected constructor(nat: NativeBinding, ifname: string) {
    super();
    this.#native = nat;
    this.id = nat.id;
    this.ifindex = nat.ifindex;
    this.ifname = ifname;
    this.kind = nat.kind;
  }

  /** @internal Starts watching for the device's removal; bindRx/bindTx await it. */
  async watchDevice(): Promise<void> {
    const stop = await watchDevice(this.ifindex, () => this.#onDeviceRemoved());
    if (this.closed || this.#removed) stop();
    else this.#unwatch = stop;
  }

  #onDeviceRemoved(): void {
    if (this.closed || this.#removed) return;
    this.#unwatch = undefined;
    this.#removed = new DevmemError(
      `interface ${this.ifname} (ifindex ${this.ifindex}) was removed while ${this.kind.toUpperCase()} binding ${this.id} was open`,
      { reason: 'DEVICE_REMOVED' },
    );
    for (const fn of [...this.#removalSubscribers]) fn(this.#removed);
    this.#removalSubscribers.clear();
    this.emit('deviceRemoved', this.#removed);
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#native.closed;
  }

  /**
   * True once the device was unregistered (deleted, its driver unbound, or
   * moved to another network namespace) while the binding was open. Nothing
   * new can arrive in an RX binding after that, and a TX binding must not be
   * sent from. Close it; bind again once the device is back.
   */
  get deviceRemoved(): boolean {
    return this.#removed !== undefined;
  }

  /**
   * @internal Calls `fn` with the DEVICE_REMOVED error once the device goes
   * away (on the next tick if it already has); returns the unsubscribe.
   */
  onDeviceRemoved(fn: (err: DevmemError) => void): () => void {
    if (this.#removed) {
      const err = this.#removed;
      let live = true;
      queueMicrotask(() => live && fn(err));
      return () => void (live = false);
    }
    this.#removalSubscribers.add(fn);
    return () => void this.#removalSubscribers.delete(fn);
  }

  /**
   * Unbinds by closing the owning netlink socket. Idempotent. Fragments
   * already handed to sockets stay valid until they are released.
   */
  close(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#native.close();
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/** A dma-buf bound to RX queues (bind-rx). */
export class RxBinding extends Binding {
  /** The RX queue ids bound, as given to bindRx() (frozen). */
  readonly queues: readonly number[];

  /** @internal */
  constructor(nat: NativeBinding, ifname: string, queues: number[]) {
    super(nat, ifname);
    this.queues = Object.freeze([...queues]);
  }
}

/** A dma-buf bound for transmit (bind-tx, Linux 6.16+). */
export class TxBinding extends Binding {
  /** Size of the bound dma-buf: send ranges must lie inside it. */
  readonly size: number;

  /** @internal */
  constructor(nat: NativeBinding, ifname: string, size: number) {
    super(nat, ifname);
    this.size = size;
  }
}

function dmabufSize(dmabuf: DmaBufLike | number, fd: number): number {
  if (typeof dmabuf === 'object' && typeof dmabuf.size === 'number') return dmabuf.size;
  try {
    const m = /^size:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // reported below
  }
  throw new DevmemError(`fd ${fd} is not a dma-buf (no size in its fdinfo)`, { reason: 'NOT_A_DMABUF' });
}

function checkDmabufFd(dmabuf: unknown): number {
  const fd = typeof dmabuf === 'number' ? dmabuf : (dmabuf as DmaBufLike | null)?.fd;
  if (typeof fd !== 'number') throw new TypeError('dmabuf must be a DmaBuf, an object with an fd, or an fd number');
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw invalidArgument(`dmabuf fd must be a non-negative integer, got ${fd}`);
  if ((dmabuf as { closed?: boolean }).closed === true) throw closedError('the dma-buf');
  return fd;
}

function checkQueues(queues: unknown): number[] {
  if (!Array.isArray(queues)) throw new TypeError('queues must be an array of RX queue ids');
  if (queues.length === 0) throw invalidArgument('queues is empty: bind-rx needs at least one RX queue');
  const seen = new Set<number>();
  for (const q of queues) {
    if (typeof q !== 'number') throw new TypeError(`queue ids must be numbers, got ${typeof q}`);
    if (!Number.isInteger(q) || q < 0 || q > 0xffffffff) throw invalidArgument(`queue id ${q} is not a valid queue index`);
    if (seen.has(q)) throw invalidArgument(`queue ${q} is listed twice`);
    seen.add(q);
  }
  return [...queues] as number[];
}

/**
 * Binds `dmabuf` to the RX `queues` of `iface`. Needs CAP_NET_ADMIN, header
 * split enabled with threshold 0, and a driver with devmem support. Traffic
 * reaches the binding only when flow steering sends it to those queues.
 *
 * @throws TypeError for arguments of the wrong type, and DevmemError
 * INVALID_ARGUMENT (no queues, a queue listed twice, a bad `rxPageSize` or
 * fd) or CLOSED (a closed DmaBuf) before anything is sent. The kernel's
 * refusal becomes NOT_PERMITTED, NO_SUCH_DEVICE, KERNEL_TOO_OLD,
 * DEVICE_UNSUPPORTED, HEADER_SPLIT_DISABLED, HDS_THRESHOLD_NONZERO,
 * QUEUE_BUSY (also for a queue leased to a netkit device: bind it through
 * that device), QUEUE_OUT_OF_RANGE, XDP_ATTACHED, NOT_A_DMABUF or
 * RX_PAGE_SIZE_UNSUPPORTED.
 */
export async function bindRx(
  iface: InterfaceSpec,
  queues: readonly number[],
  dmabuf: DmaBufLike | number,
  options: BindRxOptions = {},
): Promise<RxBinding> {
  checkInterfaceSpec(iface);
  const { qs, attrs } = bindRxAttrs(queues, dmabuf, options);
  const { ifindex, ifname } = await resolveInterface(iface);
  const nat = await call('bind-rx', `bind-rx of queues ${qs.join(',')} on ${ifname}`, () =>
    native().bind('bind-rx', { ifindex, ...attrs }),
  ).catch((e: unknown) => {
    throw leasedQueueError(e, ifindex, ifname, qs);
  });
  const binding = new RxBinding(nat, ifname, qs);
  await binding.watchDevice();
  return binding;
}

function bindRxAttrs(queues: readonly number[], dmabuf: DmaBufLike | number, options: BindRxOptions) {
  const qs = checkQueues(queues);
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const p = options.rxPageSize;
  if (p !== undefined) {
    if (typeof p !== 'number') throw new TypeError('rxPageSize must be a number');
    if (!Number.isInteger(p) || p < 4096 || p > 0xffffffff || (p & (p - 1)) !== 0)
      throw invalidArgument(`rxPageSize must be a power of two of at least 4096, got ${p}`);
  }
  const fd = checkDmabufFd(dmabuf);
  const attrs: Record<string, unknown> = { fd, queues: qs.map((id) => ({ id, type: 'rx' })) };
  if (p !== undefined) attrs.rxPageSize = p;
  return { qs, attrs };
}

/**
 * @internal bindRx on the calling thread, for NicConfig: the binding exists in
 * JS the moment the kernel has made it, so the caller can put its unbind on
 * the undo stack before any signal handler can run. The device watch starts
 * with `binding.watchDevice()`.
 */
export function bindRxSync(
  ifindex: number,
  ifname: string,
  queues: readonly number[],
  dmabuf: DmaBufLike | number,
  options: BindRxOptions = {},
): RxBinding {
  const { qs, attrs } = bindRxAttrs(queues, dmabuf, options);
  let nat: NativeBinding;
  try {
    nat = callSync('bind-rx', `bind-rx of queues ${qs.join(',')} on ${ifname}`, () => native().bindSync('bind-rx', { ifindex, ...attrs }));
  } catch (e) {
    throw leasedQueueError(e, ifindex, ifname, qs);
  }
  return new RxBinding(nat, ifname, qs);
}

/**
 * A physical queue leased to a netkit device has no DMA device of its own
 * for bind-rx (netdev_queue_get_dma_dev() answers only through the virtual
 * side), so the kernel refuses with EOPNOTSUPP "Device doesn't support DMA",
 * as for a device that cannot do devmem at all. The queue dump tells the two
 * apart: a leased queue is QUEUE_BUSY, to be bound through the netkit device.
 */
function leasedQueueError(e: unknown, ifindex: number, ifname: string, qs: readonly number[]): unknown {
  if (!(e instanceof DevmemError) || e.reason !== 'DEVICE_UNSUPPORTED' || !/support DMA/i.test(e.extack?.message ?? '')) return e;
  for (const id of qs) {
    let lease;
    try {
      lease = getQueueSync(ifindex, 'rx', id).lease;
    } catch {
      continue;
    }
    if (!lease) continue;
    const netns = lease.netnsId === undefined ? '' : ` in the namespace this one numbers ${lease.netnsId}`;
    return new DevmemError(
      `${e.message}: queue ${id} of ${ifname} is leased to queue ${lease.queue.id} of ifindex ${lease.ifindex}${netns}; bind it there (through the netkit device)`,
      { reason: 'QUEUE_BUSY', errno: e.errno, code: e.code, syscall: e.syscall, extack: e.extack, cause: e },
    );
  }
  return e;
}

/**
 * Binds `dmabuf` for transmit on `iface` (Linux 6.16+; no privilege needed).
 *
 * @throws TypeError or DevmemError INVALID_ARGUMENT, CLOSED or NOT_A_DMABUF
 * (an fd whose fdinfo has no size) before anything is sent; from the
 * kernel NO_SUCH_DEVICE, KERNEL_TOO_OLD (no bind-tx), DEVICE_UNSUPPORTED or
 * NOT_A_DMABUF.
 */
export async function bindTx(iface: InterfaceSpec, dmabuf: DmaBufLike | number): Promise<TxBinding> {
  checkInterfaceSpec(iface);
  const fd = checkDmabufFd(dmabuf);
  const size = dmabufSize(dmabuf, fd);
  const { ifindex, ifname } = await resolveInterface(iface);
  const nat = await call('bind-tx', `bind-tx on ${ifname}`, () => native().bind('bind-tx', { ifindex, fd }));
  const binding = new TxBinding(nat, ifname, size);
  await binding.watchDevice();
  return binding;
}

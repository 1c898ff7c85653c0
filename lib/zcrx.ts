/**
 * io_uring zero-copy receive (zcrx): the second receive backend. An
 * interface queue is registered with an io_uring and an area of memory (host
 * memory, or any DmaBuf); sockets created with `{ zcrx: queue }` then receive
 * through it and yield the same {@link FragmentBatch}es as devmem sockets,
 * their offsets into the area. Releasing a batch puts its buffers back on the
 * queue's refill ring: no syscall, and none of SO_DEVMEM_DONTNEED's limits.
 *
 * The queue belongs to the thread that opened it (the kernel lets only that
 * thread submit, and runs the receive work in its io_uring_enter calls):
 * sockets must be created on that thread too. Closing the queue, or the end
 * of that thread, unregisters it.
 */
import type { DmaBuf, DmaBufAccess } from './dmabuf';
import { DmaBufView } from './dmabuf';
import { closedError, DevmemError, invalidArgument } from './errors';
import { getRings } from './ethtool';
import { checkInterfaceSpec, resolveInterface, type InterfaceSpec } from './interfaces';
import { native, type NativeError, type NativeZcrxQueue } from './native';
import { getQueue } from './netdev';

/** The kernel's refill-ring limit (IO_RQ_MAX_ENTRIES). */
export const ZCRX_MAX_RQ_ENTRIES = 32768;

/** Options of {@link openZcrx}. */
export interface ZcrxOptions {
  /**
   * Where received payload lands: a DmaBuf from this library (udmabuf,
   * dma-heap, DRM, CUDA, ROCm; Linux 6.16+) or `{ size }` bytes of host
   * memory that the queue maps itself, a multiple of the page size.
   */
  area:
    | DmaBuf
    | {
        /** Bytes of host memory to map: a positive multiple of the page size. */
        size: number;
      };
  /**
   * Refill-ring entries: a power of two, at most 32768, and at least the
   * area's buffer count (area size / rxBufLen) so that every buffer can go
   * back at once. Left out: the smallest such power of two (capped at 32768).
   */
  rqEntries?: number;
  /**
   * Buffer size, a power of two of at least the page size; kernels that
   * report `ZCRX_FEATURE_RX_PAGE_SIZE` only (KERNEL_TOO_OLD elsewhere).
   * Left out: one page.
   */
  rxBufLen?: number;
}

/** What {@link zcrxSupport} found, without registering anything. */
export interface ZcrxSupport {
  /** This addon was built with liburing (else nothing zcrx works: rebuild with liburing-dev installed). */
  built: boolean;
  /** The kernel sets up an io_uring with SINGLE_ISSUER, DEFER_TASKRUN and 32-byte CQEs. */
  ring: boolean;
  /** `kernel.io_uring_disabled` is 2. */
  disabled: boolean;
  /** The kernel has zcrx (CONFIG_IO_URING_ZCRX): it answered a probe registration as zcrx does. */
  zcrx: boolean;
  /** Where zcrx is missing: why, with what to do. */
  reason?: string;
  /** Where zcrx is missing: the DevmemError reason openZcrx() fails with. */
  reasonCode?: 'ZCRX_UNSUPPORTED' | 'KERNEL_TOO_OLD';
  /** IORING_REGISTER_QUERY answered for zcrx. */
  query: boolean;
  /** Buffers larger than a page (`rxBufLen`). */
  rxBufLen: boolean;
  /** ZCRX_EVENT_ALLOC_FAIL / ZCRX_EVENT_COPY and the copy statistics (7.2). */
  events: boolean;
}

const E = { EPERM: 1, EFAULT: 14, EINVAL: 22, EOPNOTSUPP: 95 };

/** Which io_uring zcrx features this build and kernel have. */
export function zcrxSupport(): ZcrxSupport {
  return supportAndReason().support;
}

function supportAndReason(): { support: ZcrxSupport; reason?: 'ZCRX_UNSUPPORTED' | 'KERNEL_TOO_OLD' } {
  const f = native().zcrxFeatures();
  // EPERM: zcrx is there; registering will say NOT_PERMITTED.
  const zcrx = f.built && f.ring && !f.disabled && (f.zcrxErrno === E.EFAULT || f.zcrxErrno === E.EPERM);
  const support: ZcrxSupport = {
    built: f.built,
    ring: f.ring,
    disabled: f.disabled,
    zcrx,
    query: f.query,
    rxBufLen: f.rxBufLen,
    events: f.events,
  };
  const why = (reason: 'ZCRX_UNSUPPORTED' | 'KERNEL_TOO_OLD', text: string) => {
    support.reason = text;
    support.reasonCode = reason;
    return { support, reason };
  };
  if (!f.built)
    return why(
      'ZCRX_UNSUPPORTED',
      'this build of devmem-tcp has no liburing: install liburing-dev (2.9 or later) and rebuild (npm rebuild devmem-tcp)',
    );
  if (f.disabled) return why('ZCRX_UNSUPPORTED', 'io_uring is disabled (sysctl kernel.io_uring_disabled=2): set it to 0');
  if (!f.ring)
    return why(
      'KERNEL_TOO_OLD',
      'the kernel cannot set up an io_uring with SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1), or has no io_uring',
    );
  if (f.zcrxErrno === E.EOPNOTSUPP) return why('ZCRX_UNSUPPORTED', 'the kernel was built without CONFIG_IO_URING_ZCRX');
  if (f.zcrxErrno === E.EINVAL) return why('KERNEL_TOO_OLD', 'the kernel predates io_uring zcrx (Linux 6.15)');
  if (!zcrx) return why('ZCRX_UNSUPPORTED', `the kernel answered the zcrx probe with errno ${f.zcrxErrno}`);
  return { support };
}

/** The counters of a {@link ZcrxQueue}. */
export interface ZcrxQueueStats {
  /** Times the ring was run (its eventfd fired, or a socket asked for a turn). */
  pumps: number;
  /** Completions reaped: data, ends, events. */
  completions: number;
  /** Completions that carried payload: each one buffer handed out, to go back by release or close. */
  dataCompletions: number;
  /** Payload bytes completed into the area. */
  bytes: number;
  /** Bytes the kernel copied (its fallback) and that were attributed to a socket. */
  copiedBytes: number;
  /**
   * Copied bytes that could not be pinned to one socket: the kernel counts
   * copies per queue, and several sockets received in the same turn.
   */
  unattributedCopyBytes: number;
  /** Buffers put back on the refill ring. */
  returnedBuffers: number;
  /** Receives armed again: after one ended for want of buffers or CQ room, or after a pause. */
  rearms: number;
  /**
   * Receives paused for flow control: a socket that holds half the area's
   * buffers (unread or unreleased) stops taking data from its socket, so TCP's
   * window closes rather than the NIC running out of buffers and dropping.
   */
  pauses: number;
  /** ZCRX_EVENT_ALLOC_FAIL reports: the area ran out of buffers (7.2). */
  allocFailEvents: number;
  /** ZCRX_EVENT_COPY reports: the kernel fell back to copying (7.2). */
  copyEvents: number;
  /** Sockets attached now. */
  sockets: number;
  /** Returned buffers waiting for room on the refill ring. */
  refillBacklog: number;
  /** The kernel's own cumulative copy count and bytes (0 without copy statistics). */
  kernelCopyCount: number;
  /** See kernelCopyCount. */
  kernelCopyBytes: number;
}

/**
 * A host-memory zcrx area, which the queue mapped: the `area` of a queue
 * opened with `{ size }`. Like a DmaBuf it can be given to
 * {@link FragmentBatch.copyOut} and viewed with map().
 */
export class ZcrxHostArea {
  /** Its size in bytes. */
  readonly size: number;
  readonly #memory: Buffer;

  /** @internal */
  constructor(memory: Buffer) {
    this.#memory = memory;
    this.size = memory.length;
  }

  /** A view of the area, as DmaBuf.map() gives one (host memory needs no sync). */
  map(): DmaBufView {
    const mem = this.#memory;
    return new DmaBufView(
      {
        read: (offset: number, target: Uint8Array) => target.set(mem.subarray(offset, offset + target.length)),
        write: (offset: number, data: Uint8Array) => mem.set(data, offset),
        withView: <T>(offset: number, length: number, _access: DmaBufAccess, fn: (view: Uint8Array) => T): T =>
          fn(mem.subarray(offset, offset + length)),
      },
      mem.length,
    );
  }
}

/**
 * An interface queue registered for io_uring zcrx. Pass it as `zcrx` to
 * createServer() or connect(); several sockets may share it.
 */
export class ZcrxQueue {
  /** The interface's name. */
  readonly ifname: string;
  /** The interface's index. */
  readonly ifindex: number;
  /** The RX queue. */
  readonly queue: number;
  /** The kernel's id of this zcrx instance in its ring. */
  readonly zcrxId: number;
  /**
   * What received fragments carry in `dmabufIds`: zcrxId + 1, so that it is
   * never 0 (the id of linear and host fragments).
   */
  readonly fragmentId: number;
  /** The buffer size the kernel uses. */
  readonly rxBufLen: number;
  /** Refill-ring entries (the kernel's rounding). */
  readonly rqEntries: number;
  /** Where payload lands: the DmaBuf given, or the host memory mapped. */
  readonly area: DmaBuf | ZcrxHostArea;
  /**
   * Whether the kernel reports copy statistics (7.2; the same feature as
   * zcrxSupport().events), which the Copied fragment kind and -L rely on.
   */
  readonly copyStats: boolean;
  /** @internal */
  readonly native: NativeZcrxQueue;
  #closed = false;

  /** @internal */
  constructor(nat: NativeZcrxQueue, ifname: string, ifindex: number, queue: number, area: DmaBuf | ZcrxHostArea) {
    this.native = nat;
    const info = nat.info();
    this.ifname = ifname;
    this.ifindex = ifindex;
    this.queue = queue;
    this.zcrxId = info.zcrxId;
    this.fragmentId = info.zcrxId + 1;
    this.rxBufLen = info.rxBufLen;
    this.rqEntries = info.rqEntries;
    this.copyStats = info.copyStats;
    this.area = area;
  }

  /** True once close() was called or the owning thread ended. */
  get closed(): boolean {
    return this.#closed || this.native.info().closed;
  }

  /** The queue's counters. */
  stats(): ZcrxQueueStats {
    return this.native.stats() as unknown as ZcrxQueueStats;
  }

  /**
   * Unregisters the queue: its sockets fail with CLOSED, their batches'
   * buffers go back with it. The kernel restarts the queue without zcrx
   * shortly after the ring closes; the promise resolves once the queue
   * reports no io_uring owner (or after 5 s, when it rejects with TIMEOUT).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.native.close();
    const deadline = Date.now() + 5000;
    for (;;) {
      let owned: boolean;
      try {
        owned = (await getQueue(this.ifindex, 'rx', this.queue)).ioUring !== undefined;
      } catch {
        return; // the device or the queue is gone, or no netdev introspection: nothing left to wait for
      }
      if (!owned) return;
      if (Date.now() > deadline)
        throw new DevmemError(`queue ${this.queue} of ${this.ifname} still has an io_uring owner 5 s after closing`, { reason: 'TIMEOUT' });
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** `await using queue = await openZcrx(...)` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Keeps the event loop alive while the queue is open (the default). */
  ref(): this {
    this.native.ref();
    return this;
  }

  /** Lets the process exit with the queue open. */
  unref(): this {
    this.native.unref();
    return this;
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** @internal What registration needs, checked before anything is touched. */
export function zcrxPlan(
  options: ZcrxOptions,
  pageSize: number,
): { areaSize: number; dmabuf?: DmaBuf; rqEntries: number; rxBufLen: number } {
  if (options === null || typeof options !== 'object') throw new TypeError('openZcrx needs an options object with an area');
  const area = options.area as DmaBuf | { size: number } | undefined;
  if (area === null || typeof area !== 'object' || typeof area.size !== 'number')
    throw new TypeError('area must be a DmaBuf or { size } for host memory');
  const dmabuf = 'fd' in area ? area : undefined;
  if (dmabuf?.closed) throw closedError('the area dma-buf');
  const size = area.size;
  if (!Number.isSafeInteger(size) || size <= 0 || size % pageSize !== 0)
    throw invalidArgument(`the area size must be a positive multiple of the page size (${pageSize}), got ${size}`);
  const rxBufLen = options.rxBufLen ?? 0;
  if (options.rxBufLen !== undefined && (!isPowerOfTwo(rxBufLen) || rxBufLen < pageSize))
    throw invalidArgument(`rxBufLen must be a power of two of at least the page size (${pageSize}), got ${rxBufLen}`);
  const buffers = Math.floor(size / (rxBufLen || pageSize));
  if (buffers < 1) throw invalidArgument(`an area of ${size} bytes holds no ${rxBufLen}-byte buffer`);
  const wanted = Math.min(ZCRX_MAX_RQ_ENTRIES, nextPowerOfTwo(buffers));
  const rqEntries = options.rqEntries ?? wanted;
  if (!isPowerOfTwo(rqEntries) || rqEntries > ZCRX_MAX_RQ_ENTRIES)
    throw invalidArgument(`rqEntries must be a power of two up to ${ZCRX_MAX_RQ_ENTRIES}, got ${rqEntries}`);
  if (rqEntries < wanted)
    throw invalidArgument(
      `a refill ring of ${rqEntries} entries is too small for an area of ${buffers} buffers: use at least ${wanted} (or leave rqEntries out)`,
    );
  return { areaSize: size, ...(dmabuf ? { dmabuf } : {}), rqEntries, rxBufLen };
}

/**
 * Registers queue `queue` of `iface` for io_uring zero-copy receive with the
 * given area. Header split must be enabled ("enabled", hds-thresh 0) and the
 * queue must have no devmem binding or other zcrx; flows reach it by flow
 * steering as for devmem (NicConfig.steerFlow). Needs CAP_NET_ADMIN.
 *
 * @throws DevmemError ZCRX_UNSUPPORTED (no zcrx in this build or kernel, or
 * io_uring disabled), KERNEL_TOO_OLD (rxBufLen, or a dma-buf area before
 * 6.16), NOT_PERMITTED, NO_SUCH_DEVICE, QUEUE_OUT_OF_RANGE, QUEUE_BUSY,
 * HEADER_SPLIT_DISABLED, HDS_THRESHOLD_NONZERO, DEVICE_UNSUPPORTED (the
 * driver cannot serve zcrx), INVALID_ARGUMENT. After any failure nothing is
 * registered.
 */
export async function openZcrx(iface: InterfaceSpec, queue: number, options: ZcrxOptions): Promise<ZcrxQueue> {
  checkInterfaceSpec(iface);
  if (!Number.isSafeInteger(queue) || queue < 0) throw invalidArgument(`queue must be a non-negative integer, got ${queue}`);
  const plan = zcrxPlan(options, native().constants.PAGE_SIZE);
  const { support, reason } = supportAndReason();
  if (reason) throw new DevmemError(`io_uring zcrx is unavailable: ${support.reason}`, { reason });
  if (plan.rxBufLen !== 0 && !support.rxBufLen)
    throw new DevmemError('this kernel takes no rxBufLen for zcrx (it does not report ZCRX_FEATURE_RX_PAGE_SIZE)', {
      reason: 'KERNEL_TOO_OLD',
    });
  const { ifname, ifindex } = await resolveInterface(iface);
  // Precise refusals before registering: the kernel's own answer to these is a bare EINVAL or EEXIST.
  const owner = await getQueue(ifindex, 'rx', queue).catch(() => undefined);
  if (owner?.dmabuf !== undefined)
    throw new DevmemError(`queue ${queue} of ${ifname} has devmem binding ${owner.dmabuf}: zcrx cannot share it`, { reason: 'QUEUE_BUSY' });
  if (owner?.ioUring !== undefined)
    throw new DevmemError(`queue ${queue} of ${ifname} already belongs to an io_uring zcrx instance`, { reason: 'QUEUE_BUSY' });
  let nat: NativeZcrxQueue;
  try {
    nat = new (native().NativeZcrxQueue)({
      ifindex,
      queue,
      rqEntries: plan.rqEntries,
      rxBufLen: plan.rxBufLen,
      dmabufFd: plan.dmabuf ? plan.dmabuf.fd : -1,
      areaSize: plan.areaSize,
    });
  } catch (e) {
    throw await explain(e, ifname, ifindex, queue, plan.dmabuf !== undefined, plan.rxBufLen);
  }
  const hostArea = nat.hostArea();
  return new ZcrxQueue(nat, ifname, ifindex, queue, plan.dmabuf ?? new ZcrxHostArea(hostArea!));
}

// The kernel's zcrx registration has no extack: turn its errno into a reason
// by looking at what it may have refused.
async function explain(
  e: unknown,
  ifname: string,
  ifindex: number,
  queue: number,
  dmabufArea: boolean,
  rxBufLen: number,
): Promise<unknown> {
  const n = e as NativeError;
  if (!(e instanceof Error) || typeof n.errno !== 'number') return e;
  const errno = -n.errno;
  const what = `cannot register queue ${queue} of ${ifname} for io_uring zcrx`;
  const base = { errno: n.errno, syscall: n.syscall, cause: e };
  const fail = (reason: ConstructorParameters<typeof DevmemError>[1]['reason'], detail: string) =>
    new DevmemError(`${what}: ${detail}`, { ...base, reason });
  if (n.reasonHint) return new DevmemError(`${what}: ${n.message}`, { ...base, reason: n.reasonHint as 'KERNEL_TOO_OLD' });
  switch (errno) {
    case E.EPERM:
      return fail('NOT_PERMITTED', 'zcrx needs CAP_NET_ADMIN');
    case 19: // ENODEV
      return fail('NO_SUCH_DEVICE', `no interface with index ${ifindex} in this network namespace`);
    case 34: // ERANGE
      if (rxBufLen)
        return fail(
          'INVALID_ARGUMENT',
          `the area cannot be cut into ${rxBufLen}-byte buffers: its memory is not physically contiguous in such chunks (host memory rarely is); use an area from allocUdmabuf(size, { hugepages: true }), or leave rxBufLen out`,
        );
      return fail('QUEUE_OUT_OF_RANGE', `${ifname} has no RX queue ${queue}`);
    case 17: // EEXIST
    case 16: // EBUSY
      return fail(
        'QUEUE_BUSY',
        'the queue already has a memory provider (a devmem binding or another zcrx), or an XDP program is attached',
      );
    case E.EOPNOTSUPP:
      if (rxBufLen) return fail('RX_PAGE_SIZE_UNSUPPORTED', `the ${ifname} driver cannot use ${rxBufLen}-byte buffers`);
      return fail(
        'DEVICE_UNSUPPORTED',
        `the ${ifname} driver cannot serve zcrx (it needs the queue API and page pools that DMA from the device)`,
      );
    case E.EINVAL: {
      const rings = await getRings(ifname).catch(() => undefined);
      if (rings && rings.tcpDataSplit !== 'enabled')
        return fail('HEADER_SPLIT_DISABLED', `tcp-data-split is ${rings.tcpDataSplit ?? 'not reported'}`);
      if (rings?.hdsThresh) return fail('HDS_THRESHOLD_NONZERO', `hds-thresh is ${rings.hdsThresh}`);
      if (dmabufArea && !zcrxSupport().query)
        return fail('KERNEL_TOO_OLD', 'the kernel refused the dma-buf area (dma-buf areas need Linux 6.16)');
      // Everything else the request holds was checked here first; what is
      // left is the kernel's own condition, which it does not name and ethtool
      // cannot show: header split on by the driver's default, not set.
      return fail(
        'HEADER_SPLIT_DISABLED',
        `the kernel refused the queue (EINVAL); tcp-data-split reads "enabled" but must also be set to "enabled" explicitly, not left to the driver's default`,
      );
    }
    default:
      return fail('KERNEL_ERROR', n.message);
  }
}

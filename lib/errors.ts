import * as os from 'node:os';
import * as util from 'node:util';

import type { NativeError, NativeExtack } from './native';

/**
 * Every reason a DevmemError can carry, each with its advice below: stable,
 * library-level reasons. `code` follows the errno (and Node names errno 95
 * `ENOTSUP`, never `EOPNOTSUPP`), and the same mistake yields different
 * errnos on different kernels, so programs should branch on `reason`.
 */
export const DEVMEM_REASONS = [
  'NOT_PERMITTED',
  'NO_SUCH_DEVICE',
  'DEVICE_UNSUPPORTED',
  'HEADER_SPLIT_DISABLED',
  'HDS_THRESHOLD_NONZERO',
  'QUEUE_BUSY',
  'QUEUE_OUT_OF_RANGE',
  'XDP_ATTACHED',
  'NOT_A_DMABUF',
  'KERNEL_TOO_OLD',
  'ZCRX_UNSUPPORTED',
  'RX_PAGE_SIZE_UNSUPPORTED',
  'NO_UDMABUF',
  'NO_DMA_HEAP',
  'NO_DRM',
  'NO_CUDA',
  'CUDA_DMABUF_UNSUPPORTED',
  'CUDA_ERROR',
  'NO_ROCM',
  'ROCM_ERROR',
  'NO_CPU_VIEW',
  'UDMABUF_SIZE_LIMIT',
  'INVALID_ARGUMENT',
  'TIMEOUT',
  'PROTOCOL_ERROR',
  'CLOSED',
  'ALREADY_RELEASED',
  'FLOW_STEERING',
  'LINEAR_DATA',
  'COPY_FALLBACK',
  'CONTROL_TRUNCATED',
  'CONNECTION_RESET',
  'CONNECTION_REFUSED',
  'INVALID_BINDING',
  'ROUTE_NOT_ON_BOUND_DEVICE',
  'ZEROCOPY_DISABLED',
  'NTUPLE_UNSUPPORTED',
  'RSS_UNSUPPORTED',
  'TOO_FEW_QUEUES',
  'NOT_VIRTUAL',
  'LEASE_UNSUPPORTED',
  'NIC_RESTORE_FAILED',
  'NIC_IN_USE',
  'JOURNAL_CORRUPT',
  'JOURNAL_FOREIGN',
  'DEVICE_REMOVED',
  'NO_PREBUILD',
  'KERNEL_ERROR',
] as const;

/** Why an operation failed: one of DEVMEM_REASONS. */
export type DevmemReason = (typeof DEVMEM_REASONS)[number];

/** What the kernel's extended ACK said, with attribute numbers named. */
export interface Extack {
  /** The kernel's explanation (NLMSGERR_ATTR_MSG); several failures carry none. */
  message?: string;
  /** The attribute of our request the kernel rejected, e.g. `"ifindex"` or `"queues[1].id"`. */
  attribute?: string;
  /** Byte offset of that attribute in our request. */
  offset?: number;
  /** The attribute the kernel needed but did not get, e.g. `"fd"`. */
  missingAttribute?: string;
  /** Its numeric type. */
  missingType?: number;
}

const ADVICE: Record<DevmemReason, string> = {
  NOT_PERMITTED: 'Run with CAP_NET_ADMIN (for example as root); bind-rx and NIC configuration need it.',
  NO_SUCH_DEVICE: 'Check the interface name or index in this network namespace (`ip link`).',
  DEVICE_UNSUPPORTED:
    'This device cannot carry devmem TCP or io_uring zcrx: it needs a driver with the queue API and unreadable-netmem page pools (gve, mlx5, bnxt, fbnic); zcrx also needs its RX page pools to DMA from the device only. Run `devmem probe`.',
  HEADER_SPLIT_DISABLED:
    'Enable header split explicitly (tcp-data-split "enabled", hds-thresh 0) before binding, e.g. with ethtool.setRings() or NicConfig.enableHeaderSplit().',
  HDS_THRESHOLD_NONZERO: 'Set hds-thresh to 0 before binding.',
  QUEUE_BUSY: 'The queue already has a memory provider (another devmem binding or io_uring zcrx); close it or pick another queue.',
  QUEUE_OUT_OF_RANGE: 'Pick queue ids below the number of RX channels (`devmem probe` lists them).',
  XDP_ATTACHED: 'Detach the XDP program from the device; devmem and XDP are mutually exclusive.',
  NOT_A_DMABUF: 'Pass the fd of a dma-buf (allocUdmabuf(), allocDmaHeap(), or one exported by a GPU driver).',
  KERNEL_TOO_OLD:
    'devmem RX needs Linux 6.12 or later and TX needs 6.16 or later; io_uring zcrx needs 6.15 (a dma-buf area 6.16, larger buffers and copy statistics newer kernels: see zcrxSupport()).',
  ZCRX_UNSUPPORTED:
    'io_uring zcrx is not available: the kernel needs CONFIG_IO_URING_ZCRX, sysctl kernel.io_uring_disabled must not be 2, and this addon must be built with liburing (install liburing-dev, then npm rebuild devmem-tcp). zcrxSupport() says which is missing.',
  RX_PAGE_SIZE_UNSUPPORTED: 'Leave rxPageSize unset; this driver or kernel does not support it.',
  NO_UDMABUF:
    'This kernel has no /dev/udmabuf: enable CONFIG_UDMABUF (or `modprobe udmabuf`), or pass a dma-buf from another exporter with DmaBuf.fromFd().',
  NO_DMA_HEAP: 'This dma-heap does not exist: enable CONFIG_DMABUF_HEAPS_SYSTEM, or see /dev/dma_heap/ for the heaps present.',
  NO_CUDA:
    "libcuda.so.1 (the NVIDIA driver's CUDA library) could not be loaded: install the NVIDIA driver, or put the directory holding libcuda.so.1 on the loader path (LD_LIBRARY_PATH, ldconfig).",
  CUDA_DMABUF_UNSUPPORTED:
    'The GPU or its driver cannot export memory as a dma-buf (CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED is 0). Usual causes: the proprietary kernel modules instead of the open ones (nvidia-open; Turing and newer only), a consumer (GeForce) board, or a driver older than CUDA 11.7. See `devmem probe`.',
  CUDA_ERROR:
    'A CUDA driver call failed; libraryCode names its CUresult. Out of memory: free GPU memory or ask for less; an invalid device: check the ordinal or PCI bus id against `devmem probe`.',
  NO_ROCM:
    "libhsa-runtime64.so.1 (AMD ROCm's HSA runtime) could not be loaded or initialised: install ROCm (the amdgpu kernel driver and the ROCr runtime), or put the directory holding libhsa-runtime64.so.1 on the loader path (LD_LIBRARY_PATH, ldconfig).",
  ROCM_ERROR:
    'An HSA runtime call failed; libraryCode names its hsa_status_t. Out of resources: free GPU memory or ask for less; no such GPU: check the ordinal or PCI bus id against `devmem probe`.',
  NO_CPU_VIEW:
    'This memory (GPU device memory: CUDA, ROCm) has no CPU mapping to view: use read(), readInto() or write(), or FragmentBatch.copyOut(), which copy through the GPU driver.',
  NO_DRM:
    'No DRM card node here can make and export a dumb buffer: load the GPU driver (or `modprobe vgem` to test), check /dev/dri/ and its permissions (the video or render group), or name a card node with `device`.',
  UDMABUF_SIZE_LIMIT:
    'Raise the limit with the udmabuf module parameter size_limit_mb (`modprobe udmabuf size_limit_mb=N`, or udmabuf.size_limit_mb=N on the kernel command line), or allocate less.',
  INVALID_ARGUMENT: 'Check the arguments against the documentation.',
  TIMEOUT: 'The kernel did not answer in time; retry, and check dmesg.',
  PROTOCOL_ERROR: 'The kernel answer could not be parsed; please report this with your kernel version.',
  CLOSED: 'The object was already closed; create a new one.',
  ALREADY_RELEASED: 'Release each batch once: its tokens went back to the kernel the first time, and may already belong to newer data.',
  FLOW_STEERING:
    'The flow did not arrive through the bound queue: install an n-tuple rule steering it there and keep RSS off the bound queues (see NicConfig / `devmem nc`).',
  LINEAR_DATA:
    'Payload arrived in host memory (SCM_DEVMEM_LINEAR): header split did not separate it. Check the NIC header-split setup, or accept linear data.',
  COPY_FALLBACK:
    'io_uring zcrx copied payload into the area instead of receiving it into the queue\'s buffers: the flow did not arrive through the zcrx queue (steer it there) or header split did not separate it. Accept copied data (copied: "accept") to let it through.',
  CONTROL_TRUNCATED:
    'The kernel truncated control messages, which loses tokens; the socket was closed so the kernel frees them. Upgrade to a kernel with put_cmsg_notrunc (6.15, or 6.12.y stable).',
  CONNECTION_RESET: 'The peer reset the connection.',
  CONNECTION_REFUSED: 'Nothing listens at that address and port.',
  INVALID_BINDING: 'Send with the id of an open TX binding (bindTx()); RX bindings and closed bindings cannot send.',
  ROUTE_NOT_ON_BOUND_DEVICE:
    'The route to the peer does not leave through the bound device: connect with { bindToDevice: <the bound interface> } or fix the routes.',
  ZEROCOPY_DISABLED: 'devmem TX needs SO_ZEROCOPY on the socket and MSG_ZEROCOPY on each send; sendDmabuf() sets both.',
  NTUPLE_UNSUPPORTED:
    'The device cannot steer flows with n-tuple rules (no driver support, or the rx-ntuple-filter feature is off and fixed). Use a NIC with n-tuple filters, or skip NIC configuration (`devmem nc -n`, NicConfig steerFlow not called) and steer the flow another way.',
  RSS_UNSUPPORTED:
    'The device has no configurable RSS indirection table, so the devmem queues cannot be kept free of other traffic. Skip RSS isolation, or use a NIC that supports it.',
  TOO_FEW_QUEUES: 'The device has too few RX channels for the queues asked for; raise them (setChannels) or ask for fewer.',
  NOT_VIRTUAL:
    "A queue can only be leased into a virtual device: the guest (peer) end of a netkit pair, usually inside the container's network namespace. Name that device, not the physical NIC.",
  LEASE_UNSUPPORTED:
    'Queue leasing needs a netkit guest on the receiving side (the peer end of the pair, not the primary, created with enough RX queues: `ip link add ... type netkit ... numrxqueues N`) and a physical NIC with the queue API on the lending side; one netkit device can lease from one physical device only.',
  NIC_RESTORE_FAILED:
    'Some NIC settings could not be put back; the error lists each step that failed. Check the device with `devmem probe` and fix it by hand.',
  NIC_IN_USE:
    'Another process (named in the message) is configuring this interface; wait for it to finish. If it hangs, stop it: its changes are undone when it exits, or by `devmem restore IFACE` after a SIGKILL.',
  JOURNAL_CORRUPT:
    'The NIC journal (the file named in the message) cannot be read; nothing was changed. Look at it, undo what it lists by hand if that is still in place (`devmem probe`, ethtool), then delete it.',
  JOURNAL_FOREIGN:
    'The NIC journal (the file named in the message) was written for another device of this name, or in another namespace; nothing was changed. If that device is gone or was reset, delete the file; if it was renamed, rename it back and run `devmem restore`.',
  DEVICE_REMOVED:
    'The device was deleted, its driver unbound, or it moved to another network namespace. What arrived before is still readable; close the socket and the binding, and bind again once the device is back. Never delete a device under an open TX binding: Linux up to at least 7.3.4 oopses when that binding is closed (docs/kernel-notes.md#tx-binding-after-device-removal).',
  NO_PREBUILD:
    'The package ships prebuilt addons for linux-x64 and linux-arm64 (glibc) only. Build from source: install a C++17 compiler, make and Python 3 (Debian: `apt-get install g++ make python3`, and liburing-dev 2.9 or later for io_uring zcrx), then run `npm rebuild devmem-tcp`.',
  KERNEL_ERROR: 'See the errno and the kernel message.',
};

/**
 * The error every public function throws for a kernel or argument failure.
 * Shaped like Node's SystemError where a syscall failed: `code` (the errno's
 * name), `errno` (negative, as Node reports it) and `syscall`. Where none
 * failed (a bad argument, a closed object, a device that went away) there is
 * no errno and `code` is `ERR_DEVMEM_<REASON>`. Always: `reason`, `message`
 * (what went wrong), `advice` (what to do about it) and, from netlink, the
 * kernel's `extack`.
 */
export class DevmemError extends Error {
  /** The errno name (`ENOTSUP`, ...) where a syscall failed, else `ERR_DEVMEM_<REASON>`. */
  readonly code: string;
  /** The negative errno of the failed syscall; undefined where none failed. */
  readonly errno?: number;
  /**
   * The call that failed, as the native layer names it: a system call
   * (`sendmsg`, `setsockopt`, `ioctl` for the SIOCETHTOOL paths, ...) or
   * `netlink` for a netlink request the kernel refused, or the GPU library
   * function (`cuMemAlloc`, ...). Absent where none failed.
   */
  readonly syscall?: string;
  /**
   * Why it failed, the same on every kernel: branch on this rather than on
   * `code` or `errno`, which differ between kernels for the same mistake.
   */
  readonly reason: DevmemReason;
  /** What to do about it, for people: the CLI prints it under the message. */
  readonly advice: string;
  /** What the kernel's extended ACK said; only on netlink failures whose answer carried one. */
  readonly extack?: Extack;
  /**
   * Where a GPU library failed rather than the kernel: its result by name,
   * e.g. the CUresult `CUDA_ERROR_OUT_OF_MEMORY`.
   */
  readonly libraryCode?: string;

  constructor(
    message: string,
    fields: {
      reason: DevmemReason;
      /** Where a syscall failed: its negative errno (passed through from another error, it may be absent). */
      errno?: number | undefined;
      code?: string | undefined;
      syscall?: string | undefined;
      extack?: Extack | undefined;
      libraryCode?: string | undefined;
      cause?: unknown;
    },
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    if (fields.errno !== undefined) this.errno = fields.errno;
    this.code = fields.code ?? (fields.errno !== undefined ? util.getSystemErrorName(fields.errno) : `ERR_DEVMEM_${fields.reason}`);
    this.reason = fields.reason;
    this.advice = ADVICE[fields.reason];
    if (fields.syscall !== undefined) this.syscall = fields.syscall;
    if (fields.extack !== undefined) this.extack = fields.extack;
    if (fields.libraryCode !== undefined) this.libraryCode = fields.libraryCode;
  }

  /** `'DevmemError'`. */
  override get name(): string {
    return 'DevmemError';
  }
}

/** An argument error raised before any syscall, so no state has changed. */
export function invalidArgument(message: string): DevmemError {
  return new DevmemError(message, { reason: 'INVALID_ARGUMENT' });
}

/** `<what> is closed` (reason CLOSED unless given): the object was closed before this call. */
export function closedError(what: string, reason: DevmemReason = 'CLOSED'): DevmemError {
  return new DevmemError(`${what} is closed`, { reason });
}

/** The message and, on the next line, the advice: how the CLI prints an error. */
export function describeError(e: unknown): string {
  if (e instanceof DevmemError) return `${e.message}\n  ${e.advice}`;
  return e instanceof Error ? e.message : String(e);
}

/** The operation a native error came from; decides how errno maps to a reason. */
export type Operation =
  'bind-rx' | 'bind-tx' | 'queue-create' | 'netlink' | 'ethtool' | 'ntuple' | 'rss' | 'dmabuf' | 'socket' | 'send-dmabuf';

const E = os.constants.errno;

function cleanExtack(x: NativeExtack | undefined): Extack | undefined {
  if (!x) return undefined;
  const out: Extack = {};
  if (x.message !== undefined) out.message = x.message;
  if (x.attribute !== undefined) out.attribute = x.attribute;
  if (x.offset !== undefined) out.offset = x.offset;
  if (x.missingAttribute !== undefined) out.missingAttribute = x.missingAttribute;
  if (x.missingType !== undefined) out.missingType = x.missingType;
  return out;
}

/** True for a name in DEVMEM_REASONS (native code's reason hints are checked against it). */
export function isDevmemReason(name: string): name is DevmemReason {
  return (DEVMEM_REASONS as readonly string[]).includes(name);
}

// queue-create's own checks (net/core/netdev_queues.c netdev_can_create_queue,
// netdev_can_lease_queue, netdev_queue_busy; netkit_queue_create) all answer
// EINVAL, EOPNOTSUPP or EBUSY: only the extack text tells them apart.
function classifyQueueCreate(errnoPositive: number, msg: string, attr: string): DevmemReason | undefined {
  if (/^Device is not a virtual device/.test(msg)) return 'NOT_VIRTUAL';
  if (
    /^Device does not support queue creation|^Device must have at least one real queue|^Lease device is a virtual device|^Lease device does not support queue management|^Leasing queues from different devices|can only lease against the peer device/.test(
      msg,
    )
  )
    return 'LEASE_UNSUPPORTED';
  if (/^Lease device has been removed/.test(msg)) return 'DEVICE_REMOVED';
  if (/maximum queue limit reached|cannot create more queues/.test(msg)) return 'TOO_FEW_QUEUES';
  if (errnoPositive === E.EBUSY) return 'QUEUE_BUSY';
  if (errnoPositive === E.ERANGE && attr === 'lease.queue.id') return 'QUEUE_OUT_OF_RANGE';
  // ENONET (64; Node's typings lack it): get_net_ns_by_id() found no
  // namespace with the lease's netns-id.
  if (errnoPositive === 64) return 'NO_SUCH_DEVICE';
  return undefined;
}

/** Maps errno and extack together: kernels differ in which errno a mistake gets. */
export function classify(errnoPositive: number, extack: Extack | undefined, op: Operation, hint?: string): DevmemReason {
  if (hint && isDevmemReason(hint)) return hint;
  const msg = extack?.message ?? '';
  const attr = extack?.attribute ?? '';
  const isBind = op === 'bind-rx' || op === 'bind-tx';
  if ((op === 'ntuple' || op === 'rss') && errnoPositive === E.EOPNOTSUPP)
    return op === 'ntuple' ? 'NTUPLE_UNSUPPORTED' : 'RSS_UNSUPPORTED';
  if (op === 'queue-create') {
    const reason = classifyQueueCreate(errnoPositive, msg, attr);
    if (reason) return reason;
  }
  if (op === 'send-dmabuf') {
    if (errnoPositive === E.ENODEV) return 'ROUTE_NOT_ON_BOUND_DEVICE';
    if (errnoPositive === E.EINVAL) return 'INVALID_BINDING';
  }
  switch (errnoPositive) {
    case E.EPERM:
    case E.EACCES:
      return 'NOT_PERMITTED';
    case E.ENODEV:
    case E.ENXIO:
      return 'NO_SUCH_DEVICE';
    case E.EOPNOTSUPP:
      if (/rx_page_size/.test(msg)) return 'RX_PAGE_SIZE_UNSUPPORTED';
      return 'DEVICE_UNSUPPORTED';
    case E.ENODATA:
      // The driver has the queue API but its page pool refused the provider.
      return isBind ? 'DEVICE_UNSUPPORTED' : 'KERNEL_ERROR';
    case E.EEXIST:
      if (/XDP/i.test(msg)) return 'XDP_ATTACHED';
      return isBind ? 'QUEUE_BUSY' : 'KERNEL_ERROR';
    case E.EBUSY:
      return isBind ? 'QUEUE_BUSY' : 'KERNEL_ERROR';
    case E.ERANGE:
      if (/rx queue index/.test(msg) || attr.startsWith('queues')) return 'QUEUE_OUT_OF_RANGE';
      if (attr === 'ifindex') return 'NO_SUCH_DEVICE';
      return 'INVALID_ARGUMENT';
    case E.EBADF:
      return isBind ? 'NOT_A_DMABUF' : 'KERNEL_ERROR';
    case E.EINVAL:
      if (/tcp-data-split is disabled/.test(msg)) return 'HEADER_SPLIT_DISABLED';
      if (/hds-thresh is not zero/.test(msg)) return 'HDS_THRESHOLD_NONZERO';
      if (/rx queue index/.test(msg) || /^queues\[\d+\]\.id$/.test(attr)) return 'QUEUE_OUT_OF_RANGE';
      if (isBind && !msg && !attr && extack?.missingAttribute === undefined) return 'NOT_A_DMABUF';
      if (/dma-?buf/i.test(msg) && isBind) return 'NOT_A_DMABUF';
      return 'INVALID_ARGUMENT';
    case E.ETIMEDOUT:
      return 'TIMEOUT';
    case E.ECONNRESET:
    case E.EPIPE:
      return 'CONNECTION_RESET';
    case E.ECONNREFUSED:
      return 'CONNECTION_REFUSED';
    case E.EPROTO:
      return 'PROTOCOL_ERROR';
    default:
      return 'KERNEL_ERROR';
  }
}

function isNativeError(e: unknown): e is NativeError {
  const n = e as NativeError;
  return (
    e instanceof Error &&
    typeof n.code === 'string' &&
    typeof n.syscall === 'string' &&
    (typeof n.errno === 'number' || typeof n.reasonHint === 'string')
  );
}

/**
 * Converts what the native layer threw into a DevmemError. TypeErrors from
 * argument encoding pass through unchanged; a RangeError from it (a name the
 * kernel's spec does not define) is INVALID_ARGUMENT.
 */
export function fromNative(e: unknown, op: Operation, what: string): unknown {
  if (e instanceof RangeError && !isNativeError(e)) return invalidArgument(what ? `${what}: ${e.message}` : e.message);
  if (!isNativeError(e)) return e;
  const extack = cleanExtack(e.extack);
  const reason = classify(-(e.errno ?? 0), extack, op, e.reasonHint);
  return new DevmemError(what ? `${what}: ${e.message}` : e.message, {
    reason,
    errno: e.errno,
    code: e.code,
    syscall: e.syscall,
    ...(extack ? { extack } : {}),
    ...(e.libraryCode ? { libraryCode: e.libraryCode } : {}),
  });
}

/** Runs a native call and maps its failure. */
export async function call<T>(op: Operation, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw fromNative(e, op, what);
  }
}

export function callSync<T>(op: Operation, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e, op, what);
  }
}

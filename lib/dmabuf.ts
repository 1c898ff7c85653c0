/**
 * dma-buf memory: allocate it (udmabuf, dma-heap), adopt one made elsewhere
 * (a GPU driver's export, say), and read or write it from the CPU.
 */
import * as fs from 'node:fs';

import { callSync, closedError, DevmemError, invalidArgument } from './errors';
import { native, type NativeGpuMemory, type NativeMapping } from './native';

const HUGEPAGE = 2 * 1024 * 1024;

/**
 * Which way a CPU access goes. It picks the DMA_BUF_SYNC_READ and WRITE bits
 * of the sync bracket: `read` makes the device's writes visible to the CPU,
 * `write` the CPU's to the device.
 */
export type DmaBufAccess = 'read' | 'write' | 'readwrite';

/** Options of {@link allocUdmabuf}. */
export interface AllocUdmabufOptions {
  /**
   * Back the buffer with 2 MiB hugetlb pages (size must be a multiple of 2 MiB; needs vm.nr_hugepages).
   * @defaultValue `false`
   */
  hugepages?: boolean;
}

/** Options of {@link DmaBuf.fromFd}. */
export interface FromFdOptions {
  /**
   * Take over `fd` itself (closed by close()) instead of a duplicate of it.
   * @defaultValue `false`
   */
  takeOwnership?: boolean;
}

/** @internal */
export function pageSize(): number {
  return native().constants.PAGE_SIZE;
}

/** @internal */
export function checkSize(size: unknown, align: number, what: string): number {
  if (typeof size !== 'number') throw new TypeError(`${what} size must be a number, got ${typeof size}`);
  if (!Number.isSafeInteger(size) || size <= 0) throw invalidArgument(`${what} size must be a positive integer, got ${size}`);
  if (size % align !== 0)
    throw invalidArgument(`${what} size ${size} is not a multiple of ${align} bytes; round it up to ${Math.ceil(size / align) * align}`);
  return size;
}

/** @internal A file descriptor's /proc fdinfo fields; undefined when the fd is not open. */
export function readFdinfo(fd: number): Map<string, string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/** What a view copies through: a CPU mapping, or a GPU library's copies. */
type ViewBackend = NativeMapping | NativeGpuMemory | HostMemoryBackend;

/** @internal Memory the process itself mapped (a zcrx host area): no sync needed. */
export type HostMemoryBackend = Pick<NativeMapping, 'read' | 'write' | 'withView'>;

/**
 * CPU access to a dma-buf, whatever exported it. For memory the CPU can map
 * (udmabuf, heaps, DRM) every access is bracketed by DMA_BUF_IOCTL_SYNC with
 * the matching READ/WRITE bits; for GPU memory read() and write() copy
 * through the GPU library (cuMemcpy, hsa_memory_copy), and withView() fails
 * with NO_CPU_VIEW.
 */
export class DmaBufView {
  readonly #map: ViewBackend;
  /** The mapping's length in bytes: the whole dma-buf. Every range must lie within it. */
  readonly size: number;
  /** Whether withView() can hand out a zero-copy view (false for CUDA memory). */
  readonly mappable: boolean;

  /** @internal */
  constructor(map: ViewBackend, size: number) {
    this.#map = map;
    this.size = size;
    this.mappable = 'withView' in map;
  }

  #check(offset: unknown, length: unknown): void {
    if (typeof offset !== 'number' || typeof length !== 'number') throw new TypeError('offset and length must be numbers');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
      throw invalidArgument(`offset ${offset} and length ${length} must be non-negative integers`);
    if (offset + length > this.size)
      throw invalidArgument(`range [${offset}, ${offset + length}) lies outside the ${this.size}-byte dma-buf`);
  }

  /** Copies `length` bytes at `offset` out into a new Buffer. */
  read(offset: number, length: number): Buffer {
    this.#check(offset, length);
    const out = Buffer.allocUnsafe(length);
    callSync('dmabuf', 'dma-buf read', () => this.#map.read(offset, out));
    return out;
  }

  /** Copies into `target` (all of it) from `offset`, without allocating. */
  readInto(offset: number, target: Uint8Array): Uint8Array {
    if (!(target instanceof Uint8Array)) throw new TypeError('target must be a Uint8Array');
    this.#check(offset, target.byteLength);
    callSync('dmabuf', 'dma-buf read', () => this.#map.read(offset, target));
    return target;
  }

  /** Copies `data` into the dma-buf at `offset`. */
  write(offset: number, data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Buffer or Uint8Array');
    this.#check(offset, data.byteLength);
    callSync('dmabuf', 'dma-buf write', () => this.#map.write(offset, data));
  }

  /**
   * Runs `fn` on a zero-copy view of `[offset, offset+length)`. The view is
   * valid only during the call: it is detached afterwards, because outside
   * the sync bracket the CPU's view of device memory is not coherent.
   */
  withView<T>(offset: number, length: number, access: DmaBufAccess, fn: (view: Uint8Array) => T): T {
    this.#check(offset, length);
    if (typeof access !== 'string') throw new TypeError(`access must be 'read', 'write' or 'readwrite'`);
    if (access !== 'read' && access !== 'write' && access !== 'readwrite')
      throw invalidArgument(`access must be 'read', 'write' or 'readwrite', got ${JSON.stringify(access)}`);
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    const map = this.#map;
    if (!('withView' in map))
      throw new DevmemError('device memory has no CPU view: read(), readInto() and write() copy instead', { reason: 'NO_CPU_VIEW' });
    return callSync('dmabuf', 'dma-buf view', () => map.withView(offset, length, access, fn));
  }
}

/**
 * Where a {@link DmaBuf} came from: `udmabuf` ({@link allocUdmabuf}),
 * `dma-heap` ({@link allocDmaHeap}), `drm` ({@link allocDrm}), `cuda`
 * ({@link allocCuda}, {@link cudaExportRange}), `rocm` ({@link allocRocm}), or
 * `fd` (adopted with {@link DmaBuf.fromFd}).
 */
export type DmaBufKind = 'udmabuf' | 'dma-heap' | 'drm' | 'cuda' | 'rocm' | 'fd';

/** @internal Where a DmaBuf came from, for its constructor. */
export interface DmaBufOrigin {
  kind: DmaBufKind;
  device?: string | number;
  driver?: string;
  /** GPU memory: copies go through it, and close() frees it. */
  gpu?: NativeGpuMemory;
}

/** A dma-buf file descriptor owned by this object. */
export class DmaBuf {
  /**
   * The file descriptor this object owns (close-on-exec, unless it was
   * adopted with `takeOwnership` as it was). Invalid once closed.
   */
  readonly fd: number;
  /** Size in bytes; for an adopted fd, as its fdinfo reports it. */
  readonly size: number;
  /**
   * The exporter's name as fdinfo's `exp_name` gives it: `udmabuf`, the heap
   * (`system`), `drm` for every DRM PRIME export (see {@link DmaBuf.driver}),
   * or whatever module exported an adopted fd.
   */
  readonly exporter: string;
  /** Which allocator made it, or `fd` for an adopted one. */
  readonly kind: DmaBufKind;
  /**
   * For `drm`: the card node it was made on, e.g. `/dev/dri/card0`. For
   * `cuda` and `rocm`: the GPU's ordinal.
   */
  readonly device: string | number | undefined;
  /**
   * For `cuda` and `rocm`: the device address of the allocation, for handing
   * to GPU kernels and libraries. It lies at {@link DmaBuf.baseOffset} in the
   * dma-buf, so the fragment at dma-buf offset X is at devicePtr - baseOffset + X.
   */
  readonly devicePtr: bigint | undefined;
  /**
   * Where the allocation starts inside the dma-buf: 0 except for ROCm, whose
   * export may cover the whole buffer object the allocation lives in.
   * Fragment offsets are relative to the dma-buf, and read() and write()
   * take dma-buf offsets too.
   */
  readonly baseOffset: number;
  /** For `drm`: the DRM driver that made it (`vgem`, `amdgpu`, `i915`, ...). */
  readonly driver: string | undefined;
  #closed = false;
  #view: DmaBufView | undefined;
  #map: NativeMapping | undefined;
  readonly #gpu: NativeGpuMemory | undefined;

  /** @internal */
  constructor(fd: number, size: number, exporter: string, origin: DmaBufOrigin) {
    this.fd = fd;
    this.size = size;
    this.exporter = exporter;
    this.kind = origin.kind;
    this.device = origin.device;
    this.driver = origin.driver;
    this.#gpu = origin.gpu;
    this.devicePtr = origin.gpu?.devicePtr;
    this.baseOffset = origin.gpu?.baseOffset ?? 0;
  }

  /**
   * Adopts an existing dma-buf fd from any exporter. By default the fd is
   * duplicated, so the caller keeps ownership of the one it passed.
   */
  static fromFd(fd: number, options: FromFdOptions = {}): DmaBuf {
    if (typeof fd !== 'number') throw new TypeError(`fd must be a number, got ${typeof fd}`);
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw invalidArgument(`fd must be a non-negative integer, got ${fd}`);
    const info = readFdinfo(fd);
    if (!info) throw new DevmemError(`fd ${fd} is not open`, { reason: 'NOT_A_DMABUF', errno: -9, code: 'EBADF' });
    const exporter = info.get('exp_name');
    const size = Number(info.get('size'));
    if (!exporter || !Number.isSafeInteger(size))
      throw new DevmemError(`fd ${fd} is not a dma-buf (its fdinfo has no exp_name)`, { reason: 'NOT_A_DMABUF' });
    let own: number;
    if (options.takeOwnership) {
      own = fd;
      native().adoptFd(fd);
    } else own = callSync('dmabuf', `cannot duplicate fd ${fd}`, () => native().dupCloexec(fd));
    return new DmaBuf(own, size, exporter, { kind: 'fd' });
  }

  /** True once close() ran; map(), read() and write() then throw CLOSED. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The CPU mapping (created on first use, shared by later calls). */
  map(): DmaBufView {
    if (this.#closed) throw closedError('the dma-buf');
    if (!this.#view) {
      if (this.#gpu) this.#view = new DmaBufView(this.#gpu, this.size);
      else {
        this.#map = callSync('dmabuf', `cannot map the ${this.exporter} dma-buf`, () => new (native().NativeMapping)(this.fd, this.size));
        this.#view = new DmaBufView(this.#map, this.size);
      }
    }
    return this.#view;
  }

  /** Shorthand for `map().read(offset, length)`. */
  read(offset: number, length: number): Buffer {
    return this.map().read(offset, length);
  }

  /** Shorthand for `map().write(offset, data)`. */
  write(offset: number, data: Uint8Array): void {
    this.map().write(offset, data);
  }

  /**
   * Unmaps and closes the fd. Idempotent. A binding that uses this dma-buf
   * keeps its own reference in the kernel, so closing here does not unbind.
   * GPU memory is freed here as well (unless it was only exported with
   * cudaExportRange()): close its bindings first, since the NIC would
   * otherwise write into freed GPU memory.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#map?.unmap();
    this.#map = undefined;
    this.#view = undefined;
    native().closeOwnedFd(this.fd);
    this.#gpu?.free();
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

/** udmabuf's built-in default for size_limit_mb, in bytes: 64 MiB. */
export const UDMABUF_DEFAULT_LIMIT = 64 * 1024 * 1024;

/**
 * The udmabuf module's per-buffer limit in bytes: its size_limit_mb
 * parameter, or {@link UDMABUF_DEFAULT_LIMIT} when the parameter cannot be
 * read (udmabuf absent or not yet loaded).
 */
export function udmabufSizeLimit(): number {
  try {
    const mb = Number(fs.readFileSync('/sys/module/udmabuf/parameters/size_limit_mb', 'utf8').trim());
    if (Number.isFinite(mb) && mb > 0) return mb * 1024 * 1024;
  } catch {
    // fall through to the default
  }
  return UDMABUF_DEFAULT_LIMIT;
}

/**
 * Allocates host memory exported as a dma-buf through /dev/udmabuf. The size
 * must be page aligned (2 MiB aligned with hugepages) and within
 * {@link udmabufSizeLimit}; both are checked before any syscall.
 *
 * @throws DevmemError INVALID_ARGUMENT for a size that is not a positive
 * multiple of the alignment, UDMABUF_SIZE_LIMIT above the limit, NO_UDMABUF
 * without /dev/udmabuf (all before any syscall), and the errno's reason when
 * the kernel refuses, as it does with `hugepages` when too few are free.
 */
export function allocUdmabuf(size: number, options: AllocUdmabufOptions = {}): DmaBuf {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const hugepages = options.hugepages === true;
  checkSize(size, hugepages ? HUGEPAGE : pageSize(), 'udmabuf');
  const limit = udmabufSizeLimit();
  if (size > limit)
    throw new DevmemError(`udmabuf size ${size} exceeds the kernel's limit of ${limit} bytes (size_limit_mb=${limit / 1048576})`, {
      reason: 'UDMABUF_SIZE_LIMIT',
    });
  if (!fs.existsSync('/dev/udmabuf'))
    throw new DevmemError('cannot allocate a udmabuf: /dev/udmabuf does not exist', { reason: 'NO_UDMABUF', errno: -2, code: 'ENOENT' });
  const fd = callSync('dmabuf', `cannot allocate a ${size}-byte udmabuf`, () => native().allocUdmabuf(size, hugepages));
  return new DmaBuf(fd, size, 'udmabuf', { kind: 'udmabuf' });
}

/** Options of {@link allocDmaHeap}. */
export interface DmaHeapOptions {
  /**
   * The heap under `/dev/dma_heap/`.
   * @defaultValue `'system'`
   */
  heap?: string;
}

/**
 * Allocates a dma-buf of `size` bytes from a dma-heap (`/dev/dma_heap/<heap>`).
 *
 * @throws DevmemError INVALID_ARGUMENT for a heap name with odd characters or
 * a size that is not a positive multiple of the page size, NO_DMA_HEAP when
 * the heap does not exist (all before any syscall), and the errno's reason
 * when the allocation fails.
 */
export function allocDmaHeap(size: number, options: DmaHeapOptions = {}): DmaBuf {
  if (options === null || typeof options !== 'object') throw new TypeError('allocDmaHeap(size, { heap }) takes an options object');
  const heap = options.heap ?? 'system';
  if (typeof heap !== 'string') throw new TypeError('heap must be a string');
  if (!/^[\w.-]+$/.test(heap)) throw invalidArgument(`${JSON.stringify(heap)} is not a dma-heap name`);
  checkSize(size, pageSize(), 'dma-heap buffer');
  if (!fs.existsSync(`/dev/dma_heap/${heap}`))
    throw new DevmemError(`cannot allocate from dma-heap "${heap}": /dev/dma_heap/${heap} does not exist`, {
      reason: 'NO_DMA_HEAP',
      errno: -2,
      code: 'ENOENT',
    });
  const fd = callSync('dmabuf', `cannot allocate ${size} bytes from dma-heap ${heap}`, () => native().allocDmaHeap(heap, size));
  return new DmaBuf(fd, size, heap, { kind: 'dma-heap' });
}

/** Options of {@link allocDrm}. */
export interface DrmOptions {
  /**
   * The DRM card node to allocate on, e.g. `/dev/dri/card1`. Render nodes
   * (`renderD*`) cannot create dumb buffers.
   * @defaultValue the first card node under `/dev/dri` whose driver makes and exports one
   */
  device?: string;
}

/**
 * Allocates a DRM dumb buffer of at least `size` bytes and exports it as a
 * dma-buf with PRIME: the generic way to get memory from any GEM driver
 * (vgem, amdgpu, i915, virtio-gpu, ...). The GEM handle is closed at once,
 * so the returned fd is the buffer's only reference. The buffer is rounded
 * up to whole 4 KiB rows, and `size` says how big it really is. Which memory
 * a dumb buffer lives in is the driver's choice (system RAM for vgem, VRAM or
 * GTT for discrete GPUs).
 *
 * @throws DevmemError INVALID_ARGUMENT for a size that is not a positive
 * multiple of the page size or a `device` outside /dev/dri (before any
 * syscall), NO_DRM when no node can do it or `device` does not exist, and the
 * errno's reason when the driver refuses.
 */
export function allocDrm(size: number, options: DrmOptions = {}): DmaBuf {
  if (options === null || typeof options !== 'object') throw new TypeError('allocDrm(size, { device }) takes an options object');
  const device = options.device;
  if (device !== undefined && typeof device !== 'string') throw new TypeError('device must be a string such as /dev/dri/card0');
  if (device !== undefined && !/^\/dev\/dri\/(card|renderD)\d+$/.test(device))
    throw invalidArgument(`${JSON.stringify(device)} is not a DRM node: pass /dev/dri/cardN`);
  checkSize(size, pageSize(), 'DRM buffer');
  const b = callSync('dmabuf', `cannot allocate a ${size}-byte DRM dumb buffer${device ? ` on ${device}` : ''}`, () =>
    native().allocDrm(size, device ?? ''),
  );
  return new DmaBuf(b.fd, b.size, 'drm', { kind: 'drm', device: b.node, driver: b.driver });
}

/** A DRM node as {@link drmNodes} finds it. */
export interface DrmNode {
  /** `/dev/dri/card0`, `/dev/dri/renderD128`, ... */
  path: string;
  /** A render node; it cannot create dumb buffers. */
  render: boolean;
  /** This process could open it (the video or render group, or root). */
  readable: boolean;
  /** The driver's name; null when the node could not be opened. */
  driver: string | null;
  /**
   * DRM_CAP_DUMB_BUFFER; null where the driver does not say (render-only
   * drivers such as vgem answer so, yet make dumb buffers).
   */
  dumbBuffers: boolean | null;
}

/** The DRM nodes under /dev/dri, card nodes first; read-only and unprivileged. */
export function drmNodes(): DrmNode[] {
  return native().drmNodes();
}

/** @internal A DmaBuf over GPU memory the addon allocated or exported. */
export function gpuDmaBuf(mem: NativeGpuMemory, kind: 'cuda' | 'rocm'): DmaBuf {
  // The exporter is whatever the driver's dma-buf calls itself in fdinfo.
  const exporter = readFdinfo(mem.fd)?.get('exp_name') ?? kind;
  return new DmaBuf(mem.fd, mem.dmabufSize, exporter, { kind, device: mem.device, gpu: mem });
}

/** @internal A GPU chosen by ordinal or PCI bus id, checked before any library is loaded. */
export function checkGpuDevice(device: unknown): number | string {
  if (device === undefined) return 0;
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device < 0 || device > 0x7fffffff)
      throw invalidArgument(`device must be a GPU ordinal, got ${device}`);
    return device;
  }
  if (typeof device === 'string') {
    if (!/^([0-9a-f]{4,8}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(device))
      throw invalidArgument(`device ${JSON.stringify(device)} is not a PCI bus id such as 0000:3b:00.0`);
    return device.toLowerCase();
  }
  throw new TypeError('device must be a GPU ordinal or a PCI bus id string');
}

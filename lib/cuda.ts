/**
 * CUDA device memory as dma-bufs (NVIDIA), through the driver API the addon
 * loads at run time with `dlopen("libcuda.so.1")`: nothing here needs CUDA to
 * build, and without the driver every call fails with NO_CUDA.
 *
 * A CUDA context belongs to the process that made it. A forked child must not
 * use its parent's (CUDA fails there, and so would these calls): run workers
 * as threads.
 */
import { callSync, invalidArgument } from './errors';
import { checkGpuDevice, checkSize, gpuDmaBuf, pageSize, type DmaBuf } from './dmabuf';
import { native } from './native';

/** Options of {@link allocCuda}. */
export interface CudaOptions {
  /**
   * The GPU: its ordinal, or its PCI bus id (`0000:3b:00.0`, as
   * cuDeviceGetByPCIBusId takes it), to pick the GPU beside the NIC.
   * @defaultValue `0`
   */
  device?: number | string;
}

/** A GPU as the CUDA driver reports it. */
export interface CudaDeviceInfo {
  /** Its ordinal. */
  ordinal: number;
  /** Its name, e.g. `NVIDIA H200`. */
  name: string;
  /** Its PCI bus id, lower case as sysfs writes it. */
  pciBusId: string;
  /** CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED: it can export memory as a dma-buf. */
  dmabufSupported: boolean;
}

/** What {@link cudaInfo} found; read-only. */
export interface CudaInfo {
  /** libcuda.so.1 was loaded and has the calls this library makes. */
  loaded: boolean;
  /** Why not, or why cuInit failed; null when all is well. */
  error: string | null;
  /** cuDriverGetVersion, e.g. 12080 for CUDA 12.8; null without the library. */
  driverVersion: number | null;
  /** Every GPU the driver sees. */
  devices: CudaDeviceInfo[];
}

/**
 * Allocates `size` bytes of GPU memory and exports it as a dma-buf:
 * cuInit, the device, its DMA_BUF_SUPPORTED attribute (checked before
 * anything is allocated), its primary context, a page-aligned cuMemAlloc and
 * cuMemGetHandleForAddressRange (with the PCIe mapping flag on drivers from
 * CUDA 12.8). The DmaBuf's `devicePtr` is where it starts; close() frees it.
 * CPU access copies with cuMemcpy (read, readInto, write, copyOut); there is
 * no zero-copy view.
 *
 * @throws DevmemError INVALID_ARGUMENT for a size that is not a positive page
 * multiple or a bad `device` (before any call), NO_CUDA without the driver
 * library, CUDA_DMABUF_UNSUPPORTED where the GPU cannot export dma-bufs,
 * CUDA_ERROR with `libraryCode` (the CUresult's name) when a call fails;
 * nothing is left allocated.
 */
export function allocCuda(size: number, options: CudaOptions = {}): DmaBuf {
  if (options === null || typeof options !== 'object') throw new TypeError('allocCuda(size, { device }) takes an options object');
  const device = checkGpuDevice(options.device);
  checkSize(size, pageSize(), 'CUDA buffer');
  return gpuDmaBuf(
    callSync('dmabuf', `cannot allocate ${size} bytes of CUDA memory`, () => native().cudaAlloc(size, device)),
    'cuda',
  );
}

/**
 * Exports `[devicePtr, devicePtr + size)` of GPU memory that something else
 * in this process allocated (a CUDA library, another addon) as a dma-buf, to
 * bind and receive into. It must lie in one allocation of its device's
 * primary context, and start and end on page boundaries. close() closes the
 * dma-buf but leaves the memory to its owner, who must not free it while a
 * binding uses it.
 *
 * @throws DevmemError INVALID_ARGUMENT for an unaligned range, one past its
 * allocation, or memory of another context; NO_CUDA, CUDA_ERROR as for
 * {@link allocCuda}.
 */
export function cudaExportRange(devicePtr: bigint, size: number): DmaBuf {
  if (typeof devicePtr !== 'bigint') throw new TypeError('devicePtr must be a bigint');
  if (devicePtr <= 0n || devicePtr >= 1n << 64n) throw invalidArgument(`devicePtr ${devicePtr} is not a device address`);
  if (devicePtr % BigInt(pageSize()) !== 0n) throw invalidArgument(`devicePtr 0x${devicePtr.toString(16)} is not page aligned`);
  checkSize(size, pageSize(), 'CUDA range');
  return gpuDmaBuf(
    callSync('dmabuf', `cannot export the CUDA range at 0x${devicePtr.toString(16)}`, () => native().cudaExportRange(devicePtr, size)),
    'cuda',
  );
}

/** The CUDA driver and its GPUs, as far as this process can see them; never throws. */
export function cudaInfo(): CudaInfo {
  const i = native().cudaProbe();
  return { loaded: i.loaded, error: i.error, driverVersion: i.driverVersion, devices: i.devices };
}

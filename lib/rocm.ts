/**
 * ROCm (AMD) GPU memory as dma-bufs, through the HSA runtime the addon loads
 * at run time with `dlopen("libhsa-runtime64.so.1")`: nothing here needs ROCm
 * to build, and without it every call fails with NO_ROCM.
 */
import { callSync } from './errors';
import { checkGpuDevice, checkSize, gpuDmaBuf, pageSize, type DmaBuf } from './dmabuf';
import { native } from './native';

/** Options of {@link allocRocm}. */
export interface RocmOptions {
  /**
   * The GPU: its ordinal among the HSA GPU agents, or its PCI bus id
   * (`0000:c1:00.0`), to pick the GPU beside the NIC.
   * @defaultValue `0`
   */
  device?: number | string;
}

/** A GPU as the HSA runtime reports it. */
export interface RocmDeviceInfo {
  /** Its ordinal among the GPU agents. */
  ordinal: number;
  /** Its agent name, e.g. `gfx942`. */
  name: string;
  /** Its PCI bus id, from the agent's BDF and domain. */
  pciBusId: string;
}

/** What {@link rocmInfo} found; read-only. */
export interface RocmInfo {
  /** libhsa-runtime64.so.1 was loaded and initialised. */
  loaded: boolean;
  /** Why not; null when it was. */
  error: string | null;
  /** Every GPU agent. */
  devices: RocmDeviceInfo[];
}

/**
 * Allocates `size` bytes from the GPU's coarse-grained global pool (VRAM)
 * and exports it with hsa_amd_portable_export_dmabuf. The export may cover
 * the whole buffer object the allocation lives in, so the DmaBuf's `size` is
 * the dma-buf's and `baseOffset` says where the allocation starts inside it:
 * fragment offsets, and the offsets of read() and write(), are the
 * dma-buf's. CPU access copies with hsa_memory_copy; there is no view.
 * close() closes the export through the runtime and frees the memory.
 *
 * amdgpu may migrate a buffer that devmem attaches statically to GTT (host
 * RAM) without saying so: validate with `devmem nc -v` and measure before
 * trusting the data is in VRAM (`devmem probe` warns about it).
 *
 * @throws DevmemError INVALID_ARGUMENT for a size that is not a positive page
 * multiple or a bad `device` (before any call), NO_ROCM without the runtime,
 * ROCM_ERROR with `libraryCode` (the hsa_status_t) when a call fails;
 * nothing is left allocated.
 */
export function allocRocm(size: number, options: RocmOptions = {}): DmaBuf {
  if (options === null || typeof options !== 'object') throw new TypeError('allocRocm(size, { device }) takes an options object');
  const device = checkGpuDevice(options.device);
  checkSize(size, pageSize(), 'ROCm buffer');
  return gpuDmaBuf(
    callSync('dmabuf', `cannot allocate ${size} bytes of ROCm memory`, () => native().rocmAlloc(size, device)),
    'rocm',
  );
}

/** The HSA runtime and its GPUs, as far as this process can see them; never throws. */
export function rocmInfo(): RocmInfo {
  return native().rocmProbe();
}

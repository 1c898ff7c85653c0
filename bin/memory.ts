/**
 * `--memory KIND[:ARG]`, shared by `devmem nc` and `devmem bench`: which
 * allocator a CLI's dma-buf comes from, and allocating it.
 */
// Module by module, not lib/index: `devmem nc` must start fast (see
// bin/devmem.ts), and GPU memory loads its modules only when asked for.
import type * as Cuda from '../lib/cuda';
import { allocDmaHeap, allocDrm, allocUdmabuf, type DmaBuf } from '../lib/dmabuf';
import type * as Rocm from '../lib/rocm';

/** A parsed `--memory`: the allocator, and its argument (the heap, the DRM node, the GPU). */
export type MemorySpec =
  | { kind: 'udmabuf' }
  | { kind: 'dmaheap'; heap?: string }
  | { kind: 'drm'; device?: string }
  | { kind: 'cuda' | 'rocm'; device?: number | string };

/** What `--memory` accepts, for help texts and errors. */
export const MEMORY_KINDS = 'udmabuf, dmaheap[:HEAP], drm[:/dev/dri/cardN], cuda[:GPU] or rocm[:GPU]';

/** A `--memory` value that is not one of MEMORY_KINDS. */
export class MemorySpecError extends Error {
  override get name(): string {
    return 'MemorySpecError';
  }
}

/** `--memory KIND[:ARG]`; undefined is the default, udmabuf. */
export function parseMemory(text: string | undefined): MemorySpec {
  if (text === undefined || text === 'udmabuf') return { kind: 'udmabuf' };
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const arg = colon < 0 ? undefined : text.slice(colon + 1);
  if (arg === '') throw new MemorySpecError(`--memory ${text}: nothing after the colon`);
  if (kind === 'dmaheap') return arg === undefined ? { kind } : { kind, heap: arg };
  if (kind === 'drm') return arg === undefined ? { kind } : { kind, device: arg };
  if (kind === 'cuda' || kind === 'rocm') return arg === undefined ? { kind } : { kind, device: /^\d+$/.test(arg) ? Number(arg) : arg };
  throw new MemorySpecError(`--memory needs ${MEMORY_KINDS}, got ${JSON.stringify(text)}`);
}

/** Allocates `size` bytes of the given kind (udmabuf with 2 MiB huge pages when asked). */
export function allocMemory(spec: MemorySpec, size: number, options: { hugepages?: boolean } = {}): DmaBuf {
  switch (spec.kind) {
    case 'dmaheap':
      return allocDmaHeap(size, spec.heap === undefined ? {} : { heap: spec.heap });
    case 'drm':
      return allocDrm(size, spec.device === undefined ? {} : { device: spec.device });
    case 'cuda':
      return (require('../lib/cuda') as typeof Cuda).allocCuda(size, spec.device === undefined ? {} : { device: spec.device });
    case 'rocm':
      return (require('../lib/rocm') as typeof Rocm).allocRocm(size, spec.device === undefined ? {} : { device: spec.device });
    case 'udmabuf':
      return allocUdmabuf(size, options.hugepages ? { hugepages: true } : {});
  }
}

/** How `--json` names a buffer: its allocator and exporter (and the DRM node and driver, or the GPU). */
export function describeBuffer(d: DmaBuf): { kind: string; exporter: string; device?: string | number; driver?: string } {
  return {
    kind: d.kind,
    exporter: d.exporter,
    ...(d.device !== undefined ? { device: d.device } : {}),
    ...(d.driver ? { driver: d.driver } : {}),
  };
}

/** The dma-buf `devmem nc` receives into or sends from: ncdevmem's size, page size * 16000. */
import { allocCuda, allocDmaHeap, allocDrm, allocUdmabuf, type DmaBuf } from '../../lib/index';
import { native } from '../../lib/internal';
import type { NcMemory } from './options';

const HUGEPAGE = 2 * 1024 * 1024;

export function allocNcBuffer(memory: NcMemory, rxPageSize?: number): DmaBuf {
  const page = native().constants.PAGE_SIZE;
  const size = page * 16000;
  switch (memory.kind) {
    case 'dmaheap':
      return allocDmaHeap(size, memory.heap === undefined ? {} : { heap: memory.heap });
    case 'drm':
      return allocDrm(size, memory.device === undefined ? {} : { device: memory.device });
    case 'cuda':
      return allocCuda(size, memory.device === undefined ? {} : { device: memory.device });
    case 'udmabuf':
      // A buffer size above the page size needs physically larger chunks: back
      // the udmabuf with 2 MiB huge pages, rounded down to whole ones.
      if (rxPageSize !== undefined && rxPageSize > page) return allocUdmabuf(Math.floor(size / HUGEPAGE) * HUGEPAGE, { hugepages: true });
      return allocUdmabuf(size);
  }
}

/** How `--json` names the buffer: its allocator and exporter (and the DRM node and driver). */
export function describeBuffer(d: DmaBuf): { kind: string; exporter: string; device?: string | number; driver?: string } {
  return {
    kind: d.kind,
    exporter: d.exporter,
    ...(d.device !== undefined ? { device: d.device } : {}),
    ...(d.driver ? { driver: d.driver } : {}),
  };
}

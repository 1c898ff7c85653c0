/** The dma-buf `devmem nc` receives into or sends from: ncdevmem's size, page size * 16000. */
import type { DmaBuf } from '../../lib/index';
import { native } from '../../lib/internal';
import { allocMemory, type MemorySpec } from '../memory';

const HUGEPAGE = 2 * 1024 * 1024;

export function allocNcBuffer(memory: MemorySpec, rxPageSize?: number): DmaBuf {
  const page = native().constants.PAGE_SIZE;
  const size = page * 16000;
  // A buffer size above the page size needs physically larger chunks: back
  // the udmabuf with 2 MiB huge pages, rounded down to whole ones.
  if (memory.kind === 'udmabuf' && rxPageSize !== undefined && rxPageSize > page)
    return allocMemory(memory, Math.floor(size / HUGEPAGE) * HUGEPAGE, { hugepages: true });
  return allocMemory(memory, size);
}

export { describeBuffer } from '../memory';

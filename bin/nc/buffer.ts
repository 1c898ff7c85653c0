/**
 * The memory `devmem nc` receives into or sends from: ncdevmem's size, page
 * size * 16000. A dma-buf for devmem (and for a --zcrx dma-buf area), or with
 * --zcrx host memory that the queue maps itself.
 */
import type { DmaBuf } from '../../lib/index';
import { native } from '../../lib/internal';
import { allocMemory } from '../memory';
import { UsageError, type NcMemory } from './options';

const HUGEPAGE = 2 * 1024 * 1024;

function hugepages(memory: NcMemory, rxPageSize: number | undefined): boolean {
  return memory.kind === 'udmabuf' && rxPageSize !== undefined && rxPageSize > native().constants.PAGE_SIZE;
}

/**
 * The size allocNcBuffer() gives for these options: page size * 16000, and
 * with a buffer size above the page size rounded down to whole 2 MiB huge
 * pages.
 */
export function ncBufferSize(memory: NcMemory, rxPageSize?: number): number {
  const size = native().constants.PAGE_SIZE * 16000;
  return hugepages(memory, rxPageSize) ? Math.floor(size / HUGEPAGE) * HUGEPAGE : size;
}

export function allocNcBuffer(memory: NcMemory, rxPageSize?: number): DmaBuf {
  if (memory.kind === 'host') throw new UsageError('--memory host is a zcrx area: it needs --zcrx');
  // A buffer size above the page size needs physically larger chunks: back
  // the udmabuf with 2 MiB huge pages.
  const size = ncBufferSize(memory, rxPageSize);
  return hugepages(memory, rxPageSize) ? allocMemory(memory, size, { hugepages: true }) : allocMemory(memory, size);
}

export { describeBuffer } from '../memory';

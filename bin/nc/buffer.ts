/** The dma-buf `devmem nc` receives into or sends from: ncdevmem's size, page size * 16000. */
import { allocUdmabuf, type DmaBuf } from '../../lib/index';
import { native } from '../../lib/internal';

const HUGEPAGE = 2 * 1024 * 1024;

export function allocNcBuffer(rxPageSize?: number): DmaBuf {
  const page = native().constants.PAGE_SIZE;
  const size = page * 16000;
  // A buffer size above the page size needs physically larger chunks: back
  // the udmabuf with 2 MiB huge pages, rounded down to whole ones.
  if (rxPageSize !== undefined && rxPageSize > page) return allocUdmabuf(Math.floor(size / HUGEPAGE) * HUGEPAGE, { hugepages: true });
  return allocUdmabuf(size);
}

// Reads a devmem socket to the end (or `limit` bytes), checking every byte
// against the stream pattern through the dma-buf view.
import type { DevmemSocket, DmaBuf, ZcrxHostArea } from '../../../lib/index';
import { countMismatches } from '../../support/pattern.cjs';

export async function verifyPatternStream(
  sock: DevmemSocket,
  dmabuf: DmaBuf | ZcrxHostArea,
  limit = Infinity,
): Promise<{ bytes: number; mismatches: number }> {
  let bytes = 0;
  let mismatches = 0;
  for await (const batch of sock) {
    const data = batch.copyOut(dmabuf);
    mismatches += countMismatches(data, bytes);
    bytes += data.length;
    if (bytes >= limit) break;
  }
  return { bytes, mismatches };
}

// Reads a devmem socket to the end (or `limit` bytes), checking every byte
// against the test pattern through the dma-buf view.
import type { DevmemSocket, DmaBuf } from '../../../lib/index';

const { patternByte } = require('../fixtures/pattern.cjs') as { patternByte(i: number): number };

export async function verifyPatternStream(sock: DevmemSocket, dmabuf: DmaBuf, limit = Infinity): Promise<{ bytes: number; mismatches: number }> {
  let bytes = 0;
  let mismatches = 0;
  for await (const batch of sock) {
    const data = batch.copyOut(dmabuf);
    for (let i = 0; i < data.length; i++) if (data[i] !== patternByte(bytes + i)) mismatches++;
    bytes += data.length;
    if (bytes >= limit) break;
  }
  return { bytes, mismatches };
}

// Shared set-up for the guest receive tests: header split on (and the rings put
// back after), and the local port's queues to bind. The remote pattern sender is
// in traffic.ts, the pattern itself in test/support/pattern.cjs.
import * as assert from 'node:assert/strict';

import { createServer, ethtool, type DmaBuf, type RxBinding, type SocketStats } from '../../../lib/index';
import { countMismatches } from '../../support/pattern.cjs';
import { e2eEnv } from './env';
import { sendFromRemote } from './traffic';

/** Reads the header-split settings of `ifname`'s rings and gives back a function that puts them back. */
export async function saveRings(ifname: string = e2eEnv().ifLocal): Promise<() => Promise<void>> {
  const saved = await ethtool.getRings(ifname);
  return async () => {
    await ethtool.setRings(ifname, { tcpDataSplit: saved.tcpDataSplit ?? 'unknown', hdsThresh: saved.hdsThresh ?? 0 });
  };
}

/** Enables header split on `ifname` (the local port by default) and gives back a function that restores the rings. */
export async function enableHeaderSplit(ifname: string = e2eEnv().ifLocal): Promise<() => Promise<void>> {
  const restore = await saveRings(ifname);
  await ethtool.setRings(ifname, { tcpDataSplit: 'enabled', hdsThresh: 0 });
  return restore;
}

/** All of the local port's RX queues. */
export function allQueues(): number[] {
  return Array.from({ length: e2eEnv().queues }, (_, i) => i);
}

/** What {@link receivePattern} saw. */
export interface PatternReceipt {
  /** Payload bytes read back through the dma-buf, and how many differ from the stream pattern. */
  bytes: number;
  mismatches: number;
  /** Fragments in all, dma-buf fragments among them, and batches. */
  fragments: number;
  dmabufFragments: number;
  batches: number;
  /** The socket's counters at the end of the stream. */
  stats: SocketStats;
}

/**
 * Listens on the local address with `binding`, has the remote netns send `total`
 * bytes of the stream pattern, and reads every fragment back through `dmabuf`
 * (asserting each carries the binding's id) until the stream ends.
 */
export async function receivePattern(binding: RxBinding, dmabuf: DmaBuf, total: number, port: number): Promise<PatternReceipt> {
  const env = e2eEnv();
  const server = createServer({ host: env.addr4Local, port, binding, dmabuf });
  await server.listen();
  const sending = sendFromRemote(env.addr4Local, port, total);
  const sock = await server.accept();
  const r = { bytes: 0, mismatches: 0, fragments: 0, dmabufFragments: 0, batches: 0 };
  for await (const batch of sock) {
    r.batches++;
    r.fragments += batch.count;
    for (let i = 0; i < batch.count; i++) {
      if (batch.kinds[i] === 0) r.dmabufFragments++;
      assert.equal(batch.dmabufIds[i], binding.id);
    }
    const data = batch.copyOut(dmabuf);
    r.mismatches += countMismatches(data, r.bytes);
    r.bytes += data.length;
  }
  const stats = sock.stats();
  sock.close(); // the sender waits for this before it exits
  server.close();
  await sending;
  return { ...r, stats };
}

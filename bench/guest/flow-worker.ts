/**
 * One worker thread of the guest scaling benchmark (./scaling.ts): it
 * listens on its ports, receives one connection on each at once, sums the
 * batches' bytes as the other receivers do, and posts its counts back.
 * The binding is the main thread's; a worker only needs its id, which every
 * fragment's cmsg is checked against.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { createServer, type DevmemSocket } from '../../lib/index';

/** What the main thread gives a worker. */
export interface FlowWorkerData {
  host: string;
  ports: number[];
  bindingId: number;
}

/** One flow's counts, as a worker posts them. */
export interface FlowResult {
  port: number;
  bytes: number;
  fragments: number;
  batches: number;
  dontneedCalls: number;
  recvmsgCalls: number;
}

/** The first and the last batch's arrival in this worker, ms since the epoch (comparable across threads). */
const window = { first: Infinity, last: 0 };
const now = () => performance.timeOrigin + performance.now();

async function receive(sock: DevmemSocket, port: number): Promise<FlowResult> {
  let bytes = 0;
  for await (const batch of sock) {
    bytes += batch.bytes;
    window.last = now();
    if (window.first === Infinity) window.first = window.last;
  }
  const s = sock.stats();
  sock.close();
  if (s.releasedTokens !== s.fragments - s.outstandingTokens) throw new Error(`port ${port}: ${s.releasedTokens} of ${s.fragments} freed`);
  return { port, bytes, fragments: s.fragments, batches: s.batches, dontneedCalls: s.dontneedCalls, recvmsgCalls: s.recvmsgCalls };
}

async function main(): Promise<void> {
  const d = workerData as FlowWorkerData;
  const servers = d.ports.map((port) => createServer({ host: d.host, port, binding: { id: d.bindingId } }));
  await Promise.all(servers.map((s) => s.listen()));
  parentPort!.postMessage({ listening: true });
  const results = await Promise.all(
    servers.map(async (server, i) => {
      const sock = await server.accept();
      server.close();
      return receive(sock, d.ports[i]!);
    }),
  );
  parentPort!.postMessage({ results, ...window });
}

main().catch((e: unknown) => {
  parentPort!.postMessage({ error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
});

/**
 * The fragment pipeline on our production code without a kernel: a
 * NativeSocket whose receive source replays ABI-exact control areas
 * (testing.replaySocket), read through DevmemSocket's async iterator, which
 * releases each batch (coalescing, DONTNEED encoding) as the loop moves on.
 *
 * Usage: pipeline-rx FRAGMENTS [PER_RECVMSG] [BATCH] [SAMPLE_EVERY]
 * Prints one JSON line: fragments, seconds, cpuSeconds, DONTNEED calls, JS heap
 * bytes allocated per fragment (from GC-free windows) and RSS samples.
 */
import * as v8 from 'node:v8';

import { native } from '../../lib/native';
import { DevmemSocket } from '../../lib/socket';
import { dmabufControl } from '../cmsg';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1e7);
  const per = Number(process.argv[3] ?? 2048);
  const batch = Number(process.argv[4] ?? 4096);
  const sampleEvery = Number(process.argv[5] ?? 1e6);
  const size = 4096;
  const records = Math.ceil(batch / per);
  const controls = Array.from({ length: records }, (_, r) => dmabufControl({ fragments: per, fragmentSize: size, firstToken: 1 + r * per, dmabufId: 1 }));
  const recvmsgs = Math.ceil(total / per);
  const nat = native().testing.replaySocket(controls, controls.map(() => per * size), recvmsgs);
  const sock = new DevmemSocket(nat, {
    binding: { id: 1 },
    batchFragments: batch,
    batchBytes: batch * size,
    maxOutstandingFragments: 8 * batch + per,
    maxOutstandingBytes: (8 * batch + per) * size,
  });

  const heapUsed = () => v8.getHeapStatistics().used_heap_size;
  const rss: number[] = [];
  const heapPerFragment: number[] = [];
  let frags = 0;
  let nextSample = sampleEvery;
  let windowStart = heapUsed();
  let windowFrags = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for await (const b of sock) {
    frags += b.count;
    if (frags >= nextSample) {
      nextSample += sampleEvery;
      const h = heapUsed();
      // A window in which the heap shrank saw a GC and says nothing about allocation.
      if (h >= windowStart) heapPerFragment.push((h - windowStart) / (frags - windowFrags));
      windowStart = heapUsed();
      windowFrags = frags;
      rss.push(process.memoryUsage.rss());
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const s = sock.stats();
  sock.close();
  heapPerFragment.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      fragments: frags,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      dontneedCalls: s.dontneedCalls,
      released: s.releasedTokens,
      batches: s.batches,
      recvmsgCalls: s.recvmsgCalls,
      heapBytesPerFragment: heapPerFragment.length ? heapPerFragment[heapPerFragment.length >> 1] : null,
      rssSamples: rss,
    })}\n`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

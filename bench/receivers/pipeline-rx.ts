/**
 * The fragment pipeline on our production code without a kernel: a
 * NativeSocket whose receive source replays ABI-exact control areas
 * (testing.replaySocket), read through DevmemSocket's async iterator, which
 * releases each batch (coalescing, DONTNEED encoding) as the loop moves on.
 *
 * Usage: pipeline-rx FRAGMENTS [PER_RECVMSG] [BATCH] [SAMPLE_EVERY]
 * Prints one JSON line: fragments, seconds, cpuSeconds, DONTNEED calls, JS heap
 * bytes allocated per fragment in steady state (after the first sample) and
 * RSS samples. Allocation is counted exactly with v8.GCProfiler: what the heap
 * grew by between collections, plus the growth since the last one.
 */
import * as v8 from 'node:v8';

import { replaySocket } from '../replay';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1e7);
  const per = Number(process.argv[3] ?? 2048);
  const batch = Number(process.argv[4] ?? 4096);
  const sampleEvery = Number(process.argv[5] ?? 1e6);
  const sock = replaySocket(total, per, batch);

  const heapUsed = () => v8.getHeapStatistics().used_heap_size;
  const rss: number[] = [];
  let frags = 0;
  let nextSample = sampleEvery;
  let profiler: v8.GCProfiler | undefined;
  let steadyHeap = 0;
  let steadyFrags = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for await (const b of sock) {
    frags += b.count;
    if (frags >= nextSample) {
      nextSample += sampleEvery;
      rss.push(process.memoryUsage.rss());
      if (!profiler) {
        profiler = new v8.GCProfiler();
        profiler.start();
        steadyHeap = heapUsed();
        steadyFrags = frags;
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const endHeap = heapUsed();
  const gcs = profiler?.stop().statistics ?? [];
  let allocated = 0;
  let last = steadyHeap;
  for (const gc of gcs) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - last;
    last = gc.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += endHeap - last;
  const s = sock.stats();
  sock.close();
  process.stdout.write(
    `${JSON.stringify({
      fragments: frags,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      dontneedCalls: s.dontneedCalls,
      releasedTokens: s.releasedTokens,
      batches: s.batches,
      recvmsgCalls: s.recvmsgCalls,
      heapBytesPerFragment: profiler ? allocated / (frags - steadyFrags) : null,
      heapBytesPerBatch: profiler ? allocated / (s.batches - Math.ceil(steadyFrags / batch)) : null,
      gcs: gcs.length,
      rssSamples: rss,
    })}\n`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

/**
 * The fragment pipeline on W worker threads of one process: each worker
 * builds its own replay socket (testing.replaySocket) and DevmemSocket, as
 * pipeline-rx does, and drains its fragments through `for await` (release,
 * coalescing and DONTNEED encoding included) on its own event loop. Nothing
 * is shared between the workers but the process: the addon, the V8 platform's
 * helper threads and the cores.
 *
 * The workers build everything first and then block on a start barrier (an
 * Int32Array over a SharedArrayBuffer), so the timed window runs from "all go"
 * to the last worker's end and holds no thread start-up, module loading or
 * socket set-up.
 *
 * Usage: scaling-rx WORKERS FRAGMENTS_PER_WORKER [PER_RECVMSG] [BATCH]
 * Prints one JSON line: workers, fragments (total), seconds (the window),
 * cpuSeconds (the whole process over the window, every thread, from
 * process.cpuUsage) and perWorker: each worker's exact counts from its
 * socket's stats, its own end within the window, and its thread's CPU time
 * (the kernel's run time from /proc/thread-self/schedstat; null where that
 * file cannot be read; Node 20 has no per-thread CPU call).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { replaySocket } from '../replay';

interface WorkerInput {
  fragments: number;
  perRecvmsg: number;
  batch: number;
  /** One Int32: 0 until the main thread says go. */
  barrier: SharedArrayBuffer;
}

/** What each worker posts when its socket reached the end of its replay. */
export interface WorkerResult {
  fragments: number;
  dontneedCalls: number;
  releasedTokens: number;
  batches: number;
  recvmsgCalls: number;
  /** process.hrtime.bigint() at the end (the same clock in every thread), as a string. */
  endNs: string;
  /** The thread's own CPU seconds over its drain, or null where they cannot be read. */
  threadCpuSeconds: number | null;
}

/** The calling thread's run time in seconds (user and system), or null. */
function threadCpu(): number | null {
  try {
    const first = fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0];
    const ns = Number(first);
    return Number.isFinite(ns) ? ns / 1e9 : null;
  } catch {
    return null;
  }
}

async function worker(input: WorkerInput): Promise<void> {
  const { fragments, perRecvmsg: per, batch } = input;
  const sock = replaySocket(fragments, per, batch);
  const barrier = new Int32Array(input.barrier);
  parentPort!.postMessage('ready');
  // Blocks this thread (not the process) until the main thread stores 1.
  Atomics.wait(barrier, 0, 0);
  const cpu0 = threadCpu();
  let frags = 0;
  for await (const b of sock) frags += b.count;
  const end = process.hrtime.bigint();
  const cpu1 = threadCpu();
  const s = sock.stats();
  sock.close();
  const result: WorkerResult = {
    fragments: frags,
    dontneedCalls: s.dontneedCalls,
    releasedTokens: s.releasedTokens,
    batches: s.batches,
    recvmsgCalls: s.recvmsgCalls,
    endNs: end.toString(),
    threadCpuSeconds: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
  };
  parentPort!.postMessage(result);
}

async function main(): Promise<void> {
  const workers = Number(process.argv[2] ?? 1);
  const fragments = Number(process.argv[3] ?? 1e7);
  const perRecvmsg = Number(process.argv[4] ?? 512);
  const batch = Number(process.argv[5] ?? 4096);
  const barrier = new SharedArrayBuffer(4);
  // Compiled, a worker runs this file; as .ts (the smoke test, under tsx) it
  // needs tsx's CommonJS hook first: --import=tsx does not reach a worker's
  // loader on Node 20.
  const entry = path.extname(__filename) === '.ts' ? `require('tsx/cjs'); require(${JSON.stringify(__filename)});` : __filename;
  const ready: Promise<void>[] = [];
  const done: Promise<WorkerResult>[] = [];
  for (let i = 0; i < workers; i++) {
    const w = new Worker(entry, {
      eval: entry !== __filename,
      workerData: { fragments, perRecvmsg, batch, barrier } satisfies WorkerInput,
    });
    let gotReady: () => void;
    ready.push(new Promise<void>((res) => (gotReady = res)));
    done.push(
      new Promise<WorkerResult>((resolve, reject) => {
        w.on('message', (m: 'ready' | WorkerResult) => (m === 'ready' ? gotReady() : resolve(m)));
        w.on('error', reject);
        w.on('exit', (code) => reject(new Error(`worker ${i} exited (${code}) before its result`)));
      }),
    );
  }
  await Promise.all(ready);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  Atomics.store(new Int32Array(barrier), 0, 1);
  Atomics.notify(new Int32Array(barrier), 0);
  const results = await Promise.all(done);
  const cpu = process.cpuUsage(c0);
  const ends = results.map((r) => BigInt(r.endNs) - t0);
  const last = ends.reduce((a, b) => (b > a ? b : a));
  process.stdout.write(
    `${JSON.stringify({
      workers,
      fragments: results.reduce((a, r) => a + r.fragments, 0),
      seconds: Number(last) / 1e9,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      perWorker: results.map((r, i) => ({ ...r, endNs: undefined, seconds: Number(ends[i]!) / 1e9 })),
    })}\n`,
  );
}

if (isMainThread)
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
else
  worker(workerData as WorkerInput).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });

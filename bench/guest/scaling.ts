/**
 * Flows over queues, in the guest: one flow per RX queue, every queue bound
 * to one dma-buf, n-tuple rules steering flow i's port to queue i, and the
 * flows received by one worker thread (all of them on its event loop) or by
 * one worker each. The main thread only starts the workers and the senders;
 * what is reported is the data window (the first batch in any worker to the
 * last one) and the CPU of every thread but the main one over it: the
 * workers, V8's helpers and libuv's. Each mode runs once per run, in
 * alternating order, so drift of the shared host falls on both.
 *
 * The guest has one vCPU (the lab's rule): several workers can overlap their
 * waits, not their work, and the result says so rather than scaling.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { NicConfig } from '../../lib/index';
import { allocMemory, parseMemory } from '../../bin/memory';
import type { e2eEnv } from '../../test/e2e/helpers/env';
import { remoteArgv } from '../../test/e2e/helpers/remote';
import { start } from '../child';
import type { FlowResult, FlowWorkerData } from './flow-worker';

/** The flows' ports; flow i goes to port FIRST_PORT + i and queue i. */
const FIRST_PORT = 7420;

/** One run of one mode. */
export interface GuestScalingSample {
  workers: number;
  flows: number;
  bytes: number;
  fragments: number;
  batches: number;
  /** First batch in any worker to the last batch in any. */
  seconds: number;
  /** Every thread but the main one, over the run (user + system). */
  cpuSeconds: number;
}

export interface GuestScalingReport {
  flows: number;
  cpus: number;
  samples: Record<string, GuestScalingSample[]>;
}

/**
 * CPU seconds of every thread of this process but the main one, so far:
 * getrusage counts the threads that already exited too (a worker's, once
 * terminated), and the main thread's own run time is in its schedstat.
 */
function offMainCpu(): number {
  const all = process.cpuUsage();
  const main = Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  return (all.user + all.system) / 1e6 - main;
}

/**
 * A Worker running flow-worker: the compiled .js as it is, the .ts (the
 * guest runs the benchmark through tsx) behind tsx's CommonJS hook, which a
 * Worker's execArgv cannot register.
 */
function newWorker(data: FlowWorkerData): Worker {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `flow-worker${ext}`);
  if (ext !== '.ts') return new Worker(file, { workerData: data });
  const hook = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(hook)}); require(${JSON.stringify(file)});`, { eval: true, workerData: data });
}

interface Running {
  worker: Worker;
  listening: Promise<void>;
  done: Promise<FlowResult[] & { first: number; last: number }>;
}

function startWorker(data: FlowWorkerData): Running {
  const worker = newWorker(data);
  let listened!: () => void;
  const listening = new Promise<void>((r) => (listened = r));
  const done = new Promise<FlowResult[] & { first: number; last: number }>((resolve, reject) => {
    worker.on('message', (m: { listening?: true; results?: FlowResult[]; first?: number; last?: number; error?: string }) => {
      if (m.listening) listened();
      else if (m.error) reject(new Error(`flow worker (ports ${data.ports.join(',')}): ${m.error}`));
      else if (m.results) resolve(Object.assign(m.results, { first: m.first!, last: m.last! }));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`flow worker (ports ${data.ports.join(',')}) exited ${code} before its results`)));
  });
  listening.catch(() => undefined);
  return { worker, listening: Promise.race([listening, done.then(() => undefined)]), done };
}

async function oneRun(
  workers: number,
  flows: number,
  host: string,
  bindingId: number,
  send: (port: number) => Promise<unknown>,
): Promise<GuestScalingSample> {
  const ports = Array.from({ length: flows }, (_, i) => FIRST_PORT + i);
  const share = (w: number) => ports.filter((_, i) => i % workers === w);
  const running = Array.from({ length: workers }, (_, w) => startWorker({ host, ports: share(w), bindingId }));
  try {
    await Promise.all(running.map((r) => r.listening));
    const c0 = offMainCpu();
    const [results] = await Promise.all([Promise.all(running.map((r) => r.done)), Promise.all(ports.map((p) => send(p)))]);
    const c1 = offMainCpu();
    const flat = results.flat();
    return {
      workers,
      flows,
      bytes: flat.reduce((n, r) => n + r.bytes, 0),
      fragments: flat.reduce((n, r) => n + r.fragments, 0),
      batches: flat.reduce((n, r) => n + r.batches, 0),
      seconds: (Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first))) / 1000,
      cpuSeconds: c1 - c0,
    };
  } finally {
    await Promise.all(running.map((r) => r.worker.terminate()));
  }
}

/**
 * Binds every queue, steers one flow to each and runs `runs` rounds of
 * {one worker, one worker per flow}; restores the NIC after.
 */
export async function runGuestScaling(o: {
  env: ReturnType<typeof e2eEnv>;
  c: string;
  runs: number;
  bytesPerFlow: number;
  dmabufMib: number;
  memory?: string | undefined;
  log: (line: string) => void;
}): Promise<GuestScalingReport> {
  const { env } = o;
  const flows = env.queues;
  const nic = await NicConfig.open(env.ifLocal);
  // The same dma-buf per queue as the other receivers have.
  const dmabuf = allocMemory(parseMemory(o.memory), flows * o.dmabufMib * 2 ** 20);
  const samples: Record<string, GuestScalingSample[]> = { '1 worker': [], [`${flows} workers`]: [] };
  try {
    await nic.enableHeaderSplit();
    for (let q = 0; q < flows; q++) await nic.steerFlow({ serverIp: env.addr4Local, port: FIRST_PORT + q, queue: q });
    const binding = await nic.bindRx(
      Array.from({ length: flows }, (_, q) => q),
      dmabuf,
    );
    const send = (port: number) =>
      start(remoteArgv([o.c, 'send', '--host', env.addr4Local, '--port', String(port), '--bytes', String(o.bytesPerFlow)])).result;
    for (let run = 0; run < o.runs; run++) {
      const order = run % 2 ? [flows, 1] : [1, flows];
      for (const workers of order) {
        const s = await oneRun(workers, flows, env.addr4Local, binding.id, send);
        if (s.bytes !== flows * o.bytesPerFlow) throw new Error(`${workers} worker(s): ${s.bytes} of ${flows * o.bytesPerFlow} bytes`);
        samples[workers === 1 ? '1 worker' : `${flows} workers`]!.push(s);
        o.log(
          `bench scaling run ${run + 1}/${o.runs}: ${flows} flows, ${workers} worker(s): ` +
            `${(s.fragments / s.seconds / 1e3).toFixed(1)} k fragments/s, ${(s.bytes / s.seconds / 2 ** 20).toFixed(1)} MiB/s, ` +
            `CPU ${s.cpuSeconds.toFixed(2)} s, ${s.batches} batches`,
        );
      }
    }
  } finally {
    nic.close();
    dmabuf.close();
  }
  return { flows, cpus: Number(fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? 0), samples };
}

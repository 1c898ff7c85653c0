/**
 * Host scaling: the fragment pipeline (bench/pipeline.ts) on 1 and on 2
 * worker threads of one process, each worker with its own replay socket and
 * DevmemSocket (bench/receivers/scaling-rx.ts), beside what the machine
 * itself allows: 1 and 2 concurrent C pipeline processes doing the same
 * parse, coalesce and encode. The C pair shares nothing but the cores, the
 * caches and the memory bus, so its 2/1 speed-up, measured in the same run,
 * is the ceiling the JS pair can be held to on this host; a shared host with
 * other jobs on it (2 cores here) lowers both alike.
 *
 * Within a run the 1 and 2 variants alternate order from run to run (1 first
 * in even runs, 2 first in odd ones), so drift of the shared machine over a
 * run does not favour either; speed-ups are taken within a run.
 */
import * as os from 'node:os';

import { buildCReference } from './c-reference';
import { receiverArgv, start } from './child';
import { fixed, median, pairedRatios, range } from './stats';

export interface ScalingOptions {
  /** Fragments per worker (JS) and per process (C), each run. */
  fragments: number;
  runs: number;
  perRecvmsg: number;
  batch: number;
  log?: (line: string) => void;
}

/** One worker's part of a JS run, counted exactly by its socket. */
export interface ScalingWorker {
  fragments: number;
  dontneedCalls: number;
  releasedTokens: number;
  batches: number;
  recvmsgCalls: number;
  /** When this worker ended, from "all go". */
  seconds: number;
  /** The worker thread's own CPU seconds (its run time), or null where not readable. */
  threadCpuSeconds: number | null;
}

/** One run of one variant: W workers of one process, or W C processes at once. */
export interface ScalingSample {
  fragments: number;
  /**
   * JS: from "all go" to the last worker's end. C: from spawning the
   * processes to the last one's exit, as seen by this process (their start-up,
   * about a millisecond, is inside).
   */
  seconds: number;
  /** JS: the whole process (every thread) over the window. C: the processes' sum. */
  cpuSeconds: number;
  /** Aggregate fragments per wall second. */
  rate: number;
  /** Fragments per CPU second. */
  perCpu: number;
  /** JS: each worker's exact counts. C: each process's fragments and DONTNEED calls. */
  parts: (ScalingWorker | { fragments: number; dontneedCalls: number; seconds: number; cpuSeconds: number })[];
}

/** The four variants, in table order. */
export const SCALING_VARIANTS = ['JS, 1 worker', 'JS, 2 workers', 'C, 1 process', 'C, 2 processes'] as const;
export type ScalingVariant = (typeof SCALING_VARIANTS)[number];

export interface ScalingSummary {
  fragmentsPerWorker: number;
  runs: number;
  perRecvmsg: number;
  batch: number;
  cores: number;
  /** os.loadavg() (1, 5, 15 minutes) before the first run and after the last. */
  loadStart: number[];
  loadEnd: number[];
  samples: Record<ScalingVariant, ScalingSample[]>;
  /** Per run: 2 workers' fragments/s over 1 worker's. */
  jsSpeedup: number[];
  /** Per run: 2 C processes' fragments/s over 1 process's: what the machine allows. */
  cSpeedup: number[];
}

const load = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

function sample(parts: ScalingSample['parts'], seconds: number, cpuSeconds: number): ScalingSample {
  const fragments = parts.reduce((a, p) => a + p.fragments, 0);
  return { fragments, seconds, cpuSeconds, rate: fragments / seconds, perCpu: fragments / cpuSeconds, parts };
}

async function js(workers: number, o: ScalingOptions): Promise<ScalingSample> {
  const r = (await start(receiverArgv('scaling-rx', [String(workers), String(o.fragments), String(o.perRecvmsg), String(o.batch)]))
    .result) as unknown as { seconds: number; cpuSeconds: number; perWorker: ScalingWorker[] };
  if (r.perWorker.length !== workers) throw new Error(`scaling-rx reported ${r.perWorker.length} workers, not ${workers}`);
  return sample(r.perWorker, r.seconds, r.cpuSeconds);
}

async function c(processes: number, binary: string, o: ScalingOptions): Promise<ScalingSample> {
  const argv = [binary, 'pipeline', '--fragments', String(o.fragments), '--per-recvmsg', String(o.perRecvmsg), '--batch', String(o.batch)];
  const t0 = process.hrtime.bigint();
  const rs = await Promise.all(Array.from({ length: processes }, () => start(argv).result));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const parts = rs.map((r) => ({
    fragments: r.fragments!,
    dontneedCalls: r.dontneedCalls!,
    seconds: r.seconds!,
    cpuSeconds: r.cpuSeconds!,
  }));
  return sample(
    parts,
    seconds,
    parts.reduce((a, p) => a + p.cpuSeconds, 0),
  );
}

export async function runScaling(o: ScalingOptions): Promise<ScalingSummary> {
  const binary = buildCReference();
  const samples = Object.fromEntries(SCALING_VARIANTS.map((v) => [v, [] as ScalingSample[]])) as Record<ScalingVariant, ScalingSample[]>;
  const loadStart = load();
  for (let run = 0; run < o.runs; run++) {
    const order = run % 2 ? [2, 1] : [1, 2];
    for (const w of order) samples[w === 1 ? 'JS, 1 worker' : 'JS, 2 workers'].push(await js(w, o));
    for (const p of order) samples[p === 1 ? 'C, 1 process' : 'C, 2 processes'].push(await c(p, binary, o));
    const m = (v: ScalingVariant) => fixed(samples[v].at(-1)!.rate / 1e6, 1);
    o.log?.(
      `scaling run ${run + 1}/${o.runs}: JS ${m('JS, 1 worker')} / ${m('JS, 2 workers')} M fragments/s (1 / 2 workers), ` +
        `C ${m('C, 1 process')} / ${m('C, 2 processes')} M/s (1 / 2 processes)`,
    );
  }
  const rates = (v: ScalingVariant) => samples[v].map((s) => s.rate);
  return {
    fragmentsPerWorker: o.fragments,
    runs: o.runs,
    perRecvmsg: o.perRecvmsg,
    batch: o.batch,
    cores: os.cpus().length,
    loadStart,
    loadEnd: load(),
    samples,
    jsSpeedup: pairedRatios(rates('JS, 2 workers'), rates('JS, 1 worker')),
    cSpeedup: pairedRatios(rates('C, 2 processes'), rates('C, 1 process')),
  };
}

/** "median (min-max)" of a list, each value through `f`. */
function spread(values: number[], f: (v: number) => string): string {
  const [lo, hi] = range(values);
  return `${f(median(values))} (${f(lo)}-${f(hi)})`;
}

export function scalingRows(s: ScalingSummary): string[][] {
  const mega = (v: number) => `${fixed(v / 1e6, 1)} M`;
  const speedup: Record<ScalingVariant, string> = {
    'JS, 1 worker': '1.00',
    'JS, 2 workers': spread(s.jsSpeedup, (v) => fixed(v)),
    'C, 1 process': '1.00',
    'C, 2 processes': spread(s.cSpeedup, (v) => fixed(v)),
  };
  return [
    ['variant', 'fragments/s, all workers (median, min-max)', 'fragments per CPU second (median)', 'speed-up over 1 (median, min-max)'],
    ...SCALING_VARIANTS.map((v) => [
      v,
      spread(
        s.samples[v].map((x) => x.rate),
        mega,
      ),
      mega(median(s.samples[v].map((x) => x.perCpu))),
      speedup[v],
    ]),
  ];
}

/**
 * The lines under the table that say where the host caps the result: its
 * cores and load; how many cores one worker's process keeps busy (CPU seconds
 * over wall seconds: the worker's thread, and V8's helper threads beside it),
 * which bounds what 2 workers can reach on these cores; and the C pair's
 * speed-up, measured in the same runs, as what the machine gives two
 * independent loops, overall and run by run.
 */
export function scalingCapLines(s: ScalingSummary): string[] {
  const busy = (v: ScalingVariant) => median(s.samples[v].map((x) => x.cpuSeconds / x.seconds));
  // The worker thread's share, where every sample has its thread CPU.
  const shares = s.samples['JS, 1 worker'].flatMap((x) =>
    x.parts.map((p) => ('threadCpuSeconds' in p && p.threadCpuSeconds !== null ? p.threadCpuSeconds / x.seconds : null)),
  );
  const workerThread = shares.every((v) => v !== null) ? median(shares as number[]) : NaN;
  const one = busy('JS, 1 worker');
  const bound = Math.min(2 * one, s.cores) / one;
  const x = (v: number) => `${fixed(v)}x`;
  const spreadX = (vs: number[]) => spread(vs, x);
  return [
    `${s.cores} cores; load average (1 min) ${s.loadStart[0]} at start, ${s.loadEnd[0]} at end.`,
    `1 JS worker keeps ${fixed(one)} cores busy (its own thread ${Number.isNaN(workerThread) ? 'n/a' : fixed(workerThread)}), ` +
      `so ${s.cores} cores allow 2 workers at most ${x(bound)}; they kept ${fixed(busy('JS, 2 workers'))} busy ` +
      `and ran ${spreadX(s.jsSpeedup)} as fast as 1.`,
    `The machine's cap: 2 C processes ran ${spreadX(s.cSpeedup)} as fast as 1 (${fixed(busy('C, 2 processes'))} cores busy); ` +
      `JS 2/1 over C 2/1 in the same runs: ${fixed(median(pairedRatios(s.jsSpeedup, s.cSpeedup)))} (median).`,
    // Run by run: a run where another job held a core shows C's 2/1 near 1
    // too, which the medians alone would hide.
    `Speed-up 2/1 by run, JS and C: ${s.jsSpeedup.map((j, i) => `${fixed(j)} ${fixed(s.cSpeedup[i]!)}`).join('; ')}.`,
  ];
}

/**
 * The end-to-end suite from the host: boots the guest lab in benchmark mode
 * (`scripts/vm/run.mjs --bench`), which runs bench/guest/e2e-rx.ts against
 * the patched netdevsim, and summarises its report. Ratios pair each run's
 * receivers, which ran back to back in the same guest.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { SocketStats } from '../lib/index';
import { packageRoot } from '../lib/internal';
import { fixed, median, pairedRatios, range } from './stats';
import type { SyscallCounts, SyscallName } from './syscalls';
import type { GuestScalingReport } from './guest/scaling';
import type { ProfileReport } from './guest/profile';

export interface GuestOptions {
  runs: number;
  bytes: number;
  /** The dma-buf, as `--memory` names it (bin/memory.ts); default udmabuf. */
  memory?: string;
  /** MiB each of the C loop and DevmemSocket receive under perf record after the timed runs (0: none). */
  profileMib?: number;
  log?: (line: string) => void;
}

/**
 * One run of one receiver. recvmsgCalls and dontneedCalls are the devmem
 * receivers' own counts (SocketStats, or the C loop's); zcrx receivers make
 * neither call and report 0.
 */
export interface GuestSample extends Pick<SocketStats, 'fragments' | 'recvmsgCalls' | 'dontneedCalls'> {
  /** Which receive path (reports from before zcrx have only devmem, and no backend). */
  backend?: 'devmem' | 'zcrx';
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  /** User-mode part of cpuSeconds: JS, V8 and the addon for ours, the loop for C. */
  userSeconds?: number;
  /**
   * perf stat's syscall counts over the timed window, every thread of the
   * receiving process (bench/syscalls.ts); absent where not counted.
   */
  syscalls?: SyscallCounts;
  /** C zcrx loop: its own count of io_uring_enter calls in the window. */
  enterCalls?: number;
  /** DevmemSocket (zcrx): times the queue's ring was run (ZcrxQueueStats.pumps). */
  pumps?: number;
  /** DevmemSocket (zcrx): bytes the kernel copied into the area instead of receiving them in place. */
  copiedBytes?: number;
  /** Our receivers: batches delivered. */
  batches?: number;
  /** Our receivers: readiness events that waited to coalesce (ReceiveOptions.coalesce). */
  coalesceWaits?: number;
  /** Our receivers: batches by fragment count, index i counting those of 2^i to 2^(i+1)-1 fragments. */
  batchSizes?: number[];
}

/** Where the guest suite put the devmem binding and the zcrx queues. */
export interface GuestZcrxLayout {
  devmemQueues: number[];
  /** DevmemSocket (zcrx)'s queue, opened once for all runs. */
  jsQueue: number;
  /** The C zcrx loop's queue, registered by each run. */
  cQueue: number;
  /** Each zcrx receiver's host-memory area. */
  areaBytes: number;
}

/** `devmem nc -l` start-up, seconds from exec; the phases are the --json events' own clock. */
export interface StartupSample {
  /** `node -e 0`, exec to exit. */
  node: number;
  /** The first NIC step done: Node's start, the module loads, the interface and channel reads. */
  firstStep: number;
  /** bind-rx done: the NIC steps, the dma-buf, the bind. */
  bound: number;
  /** The listening socket, by nc's own clock. */
  listening: number;
  /** The listening socket as a poller of /proc/net/tcp sees it, from exec. */
  listenSeen: number;
}

export interface GuestReport {
  kernel: string;
  bytes: number;
  runs: number;
  samples: Record<string, GuestSample[]>;
  /** `devmem nc -l` from exec to listening, per run (reports from before it have none). */
  startups?: StartupSample[];
  /** How syscalls were counted, or why not. */
  syscallMethod?: string;
  /** The queues, when the zcrx receivers ran. */
  zcrx?: GuestZcrxLayout;
  /** Receivers left out, and why. */
  skipped?: Record<string, string>;
  /** The `DevmemSocket, coalesce` receiver's coalesce.waitMicros. */
  coalesceMicros?: number;
  /** Flows over queues, with one worker thread and with one per flow (absent with --no-scaling). */
  scaling?: GuestScalingReport;
  /** perf record of one receive per receiver (with --profile). */
  profiles?: Record<string, ProfileReport & { sample: GuestSample }>;
}

export async function runGuest(o: GuestOptions): Promise<GuestReport> {
  const harness = path.join(packageRoot, 'scripts/vm/run.mjs');
  if (!fs.existsSync(harness)) throw new Error('the guest suite needs the guest lab (scripts/vm) of a clone of the repository');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-bench-'));
  const out = path.join(dir, 'bench.json');
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          harness,
          '--bench',
          `--bench-args=--runs ${o.runs} --bytes ${o.bytes}${o.memory ? ` --memory ${o.memory}` : ''}` +
            `${o.profileMib ? ` --profile ${o.profileMib}` : ''}`,
          '--bench-out',
          out,
        ],
        {
          cwd: packageRoot,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      child.stdout.setEncoding('utf8');
      let rest = '';
      child.stdout.on('data', (d: string) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop()!;
        for (const l of lines) if (/bench (run|memory|zcrx|syscalls|scaling|profile)|test:vm|OK|FAILED|problem/.test(l)) o.log?.(l);
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0 || !fs.existsSync(out)) throw new Error(`the guest benchmark failed (scripts/vm/run.mjs exit ${code})`);
    return JSON.parse(fs.readFileSync(out, 'utf8')) as GuestReport;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const GiB = 2 ** 30;

const perGiB = (n: number, x: GuestSample) => (n / x.bytes) * GiB;

export function guestRows(r: GuestReport): string[][] {
  const names = Object.keys(r.samples);
  const base = r.samples[names[0]!]!.map((s) => s.bytes / s.seconds);
  return [
    [
      'receiver',
      'MiB/s (median, min-max)',
      'ratio to C (median, min-max)',
      'CPU s/GiB (median, min-max)',
      'user s/GiB (median)',
      'syscalls/GiB (median)',
      'recvmsg/GiB',
      'DONTNEED calls/GiB',
      'fragments per DONTNEED',
    ],
    ...names.map((n) => {
      const s = r.samples[n]!;
      const rate = s.map((x) => x.bytes / x.seconds);
      const zcrx = s.some((x) => x.backend === 'zcrx');
      const spread = (v: number[], digits: number) => {
        const [lo, hi] = range(v);
        return `${fixed(median(v), digits)} (${fixed(lo, digits)}-${fixed(hi, digits)})`;
      };
      return [
        n,
        spread(
          rate.map((x) => x / 2 ** 20),
          1,
        ),
        spread(pairedRatios(rate, base), 2),
        spread(
          s.map((x) => x.cpuSeconds / (x.bytes / GiB)),
          1,
        ),
        s.every((x) => x.userSeconds !== undefined) ? fixed(median(s.map((x) => x.userSeconds! / (x.bytes / GiB))), 1) : 'n/a',
        s.every((x) => x.syscalls) ? fixed(median(s.map((x) => perGiB(x.syscalls!.total, x))), 0) : 'n/a',
        zcrx ? '-' : fixed(median(s.map((x) => perGiB(x.recvmsgCalls, x))), 0),
        zcrx ? '-' : fixed(median(s.map((x) => perGiB(x.dontneedCalls, x))), 0),
        zcrx ? '-' : fixed(median(s.map((x) => x.fragments / x.dontneedCalls)), 1),
      ];
    }),
  ];
}

const SYSCALL_COLUMNS: [string, SyscallName[]][] = [
  ['io_uring_enter', ['io_uring_enter']],
  ['recvmsg', ['recvmsg']],
  ['setsockopt', ['setsockopt']],
  ['epoll_(p)wait', ['epoll_pwait', 'epoll_wait']],
  ['read', ['read']],
  ['write', ['write']],
  ['futex', ['futex']],
];

/** perf's syscall counts per GiB, by call (medians); empty when none were counted. */
export function guestSyscallRows(r: GuestReport): string[][] {
  const names = Object.keys(r.samples).filter((n) => r.samples[n]!.every((x) => x.syscalls));
  if (names.length === 0) return [];
  const sum = (c: SyscallCounts, keys: SyscallName[]) => keys.reduce((a, k) => a + c[k], 0);
  const named = SYSCALL_COLUMNS.flatMap(([, keys]) => keys);
  return [
    ['receiver (syscalls per GiB, median)', 'all', ...SYSCALL_COLUMNS.map(([h]) => h), 'other'],
    ...names.map((n) => {
      const s = r.samples[n]!;
      const m = (f: (c: SyscallCounts) => number) => fixed(median(s.map((x) => perGiB(f(x.syscalls!), x))), 0);
      return [n, m((c) => c.total), ...SYSCALL_COLUMNS.map(([, keys]) => m((c) => sum(c, keys))), m((c) => c.total - sum(c, named))];
    }),
  ];
}

/** The zcrx comparisons, as medians of per-run ratios; empty without zcrx samples. */
export function guestZcrxRows(r: GuestReport): string[][] {
  const pairs: [string, string][] = [
    ['DevmemSocket (zcrx)', 'DevmemSocket'],
    ['DevmemSocket (zcrx)', 'C zcrx loop'],
    ['C zcrx loop', 'C recvmsg loop'],
  ];
  const rows = pairs
    .filter(([a, b]) => r.samples[a]?.length && r.samples[a]!.length === r.samples[b]?.length)
    .map(([a, b]) => {
      const x = r.samples[a]!;
      const y = r.samples[b]!;
      const ratio = (f: (s: GuestSample) => number) => fixed(median(pairedRatios(x.map(f), y.map(f))));
      const calls = x.every((s) => s.syscalls) && y.every((s) => s.syscalls);
      return [
        `${a} / ${b}`,
        ratio((s) => s.bytes / s.seconds),
        ratio((s) => s.cpuSeconds / s.bytes),
        calls ? ratio((s) => s.syscalls!.total / s.bytes) : 'n/a',
      ];
    });
  return rows.length ? [['ratio (median of per-run ratios)', 'MiB/s', 'CPU s/GiB', 'syscalls/GiB'], ...rows] : [];
}

/** `devmem nc -l` start-up in the guest: medians, in seconds from exec. */
export function guestStartupRows(r: GuestReport): string[][] {
  const s = r.startups ?? [];
  if (s.length === 0) return [];
  const m = (f: (x: StartupSample) => number) => fixed(median(s.map(f)), 2);
  return [
    ['phase (devmem nc -l, seconds from exec, median)', 'at', 'took'],
    ['node -e 0 (the floor of any Node CLI)', '', m((x) => x.node)],
    ['first NIC step done (Node, modules, interface and channel reads)', m((x) => x.firstStep), m((x) => x.firstStep)],
    ['bound (NIC steps, the dma-buf, bind-rx)', m((x) => x.bound), m((x) => x.bound - x.firstStep)],
    ["listening (nc's clock)", m((x) => x.listening), m((x) => x.listening - x.bound)],
    ['listening, seen in /proc/net/tcp from exec', m((x) => x.listenSeen), ''],
  ];
}

/** Flows over queues: one worker thread against one per flow, medians and the paired speed-up. */
export function guestScalingRows(r: GuestReport): string[][] {
  const sc = r.scaling;
  if (!sc) return [];
  const one = Object.keys(sc.samples)[0]!;
  const base = sc.samples[one]!;
  const rows = Object.entries(sc.samples).map(([name, s]) => {
    const rate = s.map((x) => x.fragments / x.seconds);
    const [lo, hi] = range(rate);
    const speedup = pairedRatios(
      rate,
      base.map((x) => x.fragments / x.seconds),
    );
    const [slo, shi] = range(speedup);
    return [
      `${sc.flows} flows, ${name}`,
      `${fixed(median(rate) / 1e3, 1)} k (${fixed(lo / 1e3, 1)}-${fixed(hi / 1e3, 1)} k)`,
      fixed(median(s.map((x) => x.bytes / x.seconds / 2 ** 20)), 1),
      fixed(median(s.map((x) => x.cpuSeconds / (x.bytes / GiB))), 1),
      fixed(median(s.map((x) => x.fragments / x.batches)), 0),
      name === one ? '1.00' : `${fixed(median(speedup))} (${fixed(slo)}-${fixed(shi)})`,
    ];
  });
  return [
    [
      'receivers',
      'fragments/s (median, min-max)',
      'MiB/s (median)',
      'CPU s/GiB (median)',
      'fragments per batch',
      'speed-up (median, min-max)',
    ],
    ...rows,
  ];
}

/** Our receivers' batches by size: the median of each bucket's share over the runs. */
export function guestBatchRows(r: GuestReport): string[][] {
  const names = Object.keys(r.samples).filter((n) => r.samples[n]!.every((x) => x.batchSizes && x.batches));
  if (names.length === 0) return [];
  const buckets = Math.max(...names.flatMap((n) => r.samples[n]!.map((x) => x.batchSizes!.length)));
  const label = (i: number) => (i === 0 ? '1' : `${2 ** i}-${2 ** (i + 1) - 1}`);
  return [
    ['receiver (share of batches, median)', 'fragments per batch (median)', ...Array.from({ length: buckets }, (_, i) => label(i))],
    ...names.map((n) => {
      const s = r.samples[n]!;
      return [
        n,
        fixed(median(s.map((x) => x.fragments / x.batches!)), 0),
        ...Array.from({ length: buckets }, (_, i) => `${fixed(100 * median(s.map((x) => (x.batchSizes![i] ?? 0) / x.batches!)), 0)}%`),
      ];
    }),
  ];
}

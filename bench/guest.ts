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
import { fixed, median, pairedRatios } from './stats';

export interface GuestOptions {
  runs: number;
  bytes: number;
  /** The dma-buf, as `--memory` names it (bin/memory.ts); default udmabuf. */
  memory?: string;
  log?: (line: string) => void;
}

/** One run; the receive counters are the socket's own (SocketStats). */
interface Sample extends Pick<SocketStats, 'fragments' | 'recvmsgCalls' | 'dontneedCalls'> {
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  userSeconds?: number;
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
  samples: Record<string, Sample[]>;
  /** `devmem nc -l` from exec to listening, per run (reports from before it have none). */
  startups?: StartupSample[];
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
          `--bench-args=--runs ${o.runs} --bytes ${o.bytes}${o.memory ? ` --memory ${o.memory}` : ''}`,
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
        for (const l of lines) if (/bench run|bench memory|test:vm|OK|FAILED|problem/.test(l)) o.log?.(l);
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

export function guestRows(r: GuestReport): string[][] {
  const names = Object.keys(r.samples);
  const base = r.samples[names[0]!]!.map((s) => s.bytes / s.seconds);
  return [
    [
      'receiver',
      'MiB/s (median)',
      'ratio to C (median)',
      'CPU s/GiB (median)',
      'user s/GiB (median)',
      'recvmsg/GiB',
      'DONTNEED calls/GiB',
      'fragments per DONTNEED',
    ],
    ...names.map((n) => {
      const s = r.samples[n]!;
      const rate = s.map((x) => x.bytes / x.seconds);
      const calls = median(s.map((x) => (x.dontneedCalls / x.bytes) * GiB));
      return [
        n,
        fixed(median(rate) / 2 ** 20, 1),
        fixed(median(pairedRatios(rate, base))),
        fixed(median(s.map((x) => x.cpuSeconds / (x.bytes / GiB))), 1),
        s.every((x) => x.userSeconds !== undefined) ? fixed(median(s.map((x) => x.userSeconds! / (x.bytes / GiB))), 1) : 'n/a',
        fixed(median(s.map((x) => (x.recvmsgCalls / x.bytes) * GiB)), 0),
        fixed(calls, 0),
        fixed(median(s.map((x) => x.fragments / x.dontneedCalls)), 1),
      ];
    }),
  ];
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

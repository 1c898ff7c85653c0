/**
 * Loopback receive: the same C sender feeds, in turn, the C recvmsg loop,
 * our DevmemSocket and Node's net.Socket, each in its own process, once per
 * run. Reports GB/s and CPU seconds per GB at the receiver, and each
 * receiver's throughput as a ratio to C's within the same run.
 *
 * The C loop reads into one buffer that stays in cache; a receiver that hands
 * every read's bytes to a consumer who may keep them cannot. The row of the
 * same C loop reading into 32 buffers in turn prices that difference, and
 * DevmemSocket with linearLifetime 'batch' (bytes borrowed until release, so
 * the receive memory is reused warm) shows what giving up keeping them buys.
 * DevmemSocket with `coalesce: { waitMicros: 250 }` shows what readiness
 * coalescing does to a fast flow: its batches count as small (one recvmsg
 * of under 2 MiB each), so every readiness event waits.
 *
 * recvmsg per GiB is what each receiver counted itself (the C loop and
 * DevmemSocket; net.Socket reads with read(2)). Where perf can count the
 * syscall tracepoints, each receiver runs under `perf stat`, which counts
 * its recvmsg and epoll_wait/epoll_pwait calls over the whole process, its
 * start-up included (a few dozen calls): the C loop blocks in recvmsg and
 * never polls.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { buildCReference } from './c-reference';
import { receiverArgv, start } from './child';
import { fixed, median, pairedRatios, range } from './stats';
import { parsePerfStat, SYSCALL_EVENTS, syscallCounting, type SyscallCounts } from './syscalls';

export interface LoopbackOptions {
  bytes: number;
  runs: number;
  log?: (line: string) => void;
}

export interface ReceiverSummary {
  name: string;
  gbps: number[];
  cpuPerGb: number[];
  /** Throughput divided by the C loop's in the same run. */
  ratioToC: number[];
  /** Borrowed mode: per run, whether the receiver found its last batch's bytes gone after release. */
  useAfterReleaseCaught?: boolean[];
  /** Our receivers: batches delivered per GiB. */
  batchesPerGiB?: number[];
  /** recvmsg calls per GiB as the receiver counted them; absent for one that does not (net.Socket). */
  recvmsgPerGiB?: number[];
  /** perf's recvmsg and epoll_wait + epoll_pwait calls per GiB, whole process; absent where perf cannot count. */
  perfPerGiB?: { recvmsg: number; epoll: number }[];
}

const RECEIVERS = [
  { name: 'C recvmsg loop', argv: (c: string) => [c, 'recv'] },
  { name: 'DevmemSocket', argv: () => receiverArgv('devmem-rx') },
  { name: "DevmemSocket, linearLifetime 'batch'", argv: () => receiverArgv('devmem-rx', ['--borrowed']) },
  { name: 'DevmemSocket, coalesce 250 µs', argv: () => receiverArgv('devmem-rx', ['--coalesce', '250']) },
  { name: 'net.Socket', argv: () => receiverArgv('net-rx') },
  { name: 'C loop, 32 buffers in turn', argv: (c: string) => [c, 'recv', '--rotate', '32'] },
] as const;

const PERF = process.env.PERF ?? 'perf';

async function once(
  receiver: string[],
  sender: string,
  bytes: number,
  perf: boolean,
): Promise<{ r: Record<string, number>; calls?: SyscallCounts | undefined }> {
  const dir = perf ? fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-loopback-')) : undefined;
  try {
    const out = dir && path.join(dir, 'perf');
    const events = Object.values(SYSCALL_EVENTS).join(',');
    const rx = start(out ? [PERF, 'stat', '-x,', '-o', out, '-e', events, '--', ...receiver] : receiver);
    const port = await rx.port;
    const tx = start([sender, 'send', '--host', '127.0.0.1', '--port', String(port), '--bytes', String(bytes)]);
    const [r] = await Promise.all([rx.result, tx.result]);
    if (r.bytes !== bytes) throw new Error(`receiver got ${r.bytes} bytes, ${bytes} were sent`);
    return { r, calls: out ? parsePerfStat(fs.readFileSync(out, 'utf8')) : undefined };
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function runLoopback(o: LoopbackOptions): Promise<ReceiverSummary[]> {
  const c = buildCReference();
  const out: ReceiverSummary[] = RECEIVERS.map((r) => ({ name: r.name, gbps: [], cpuPerGb: [], ratioToC: [] }));
  const perf = syscallCounting().ok;
  for (let run = 0; run < o.runs; run++) {
    for (let i = 0; i < RECEIVERS.length; i++) {
      const { r, calls } = await once([...RECEIVERS[i]!.argv(c)], c, o.bytes, perf);
      const gib = r.bytes! / 2 ** 30;
      out[i]!.gbps.push(r.bytes! / r.seconds! / 1e9);
      out[i]!.cpuPerGb.push(r.cpuSeconds! / (r.bytes! / 1e9));
      if (r.recvmsgCalls !== undefined) (out[i]!.recvmsgPerGiB ??= []).push(r.recvmsgCalls / gib);
      if (r.batches !== undefined) (out[i]!.batchesPerGiB ??= []).push(r.batches / gib);
      if (calls) (out[i]!.perfPerGiB ??= []).push({ recvmsg: calls.recvmsg / gib, epoll: (calls.epoll_wait + calls.epoll_pwait) / gib });
      if (r.useAfterReleaseCaught !== undefined) (out[i]!.useAfterReleaseCaught ??= []).push(r.useAfterReleaseCaught === 1);
    }
    o.log?.(`loopback run ${run + 1}/${o.runs}: ${out.map((s) => `${s.name} ${fixed(s.gbps.at(-1)!)} GB/s`).join(', ')}`);
  }
  for (const s of out) s.ratioToC = pairedRatios(s.gbps, out[0]!.gbps);
  return out;
}

export function loopbackRows(summary: ReceiverSummary[]): string[][] {
  const spread = (v: number[], digits: number) => {
    const [lo, hi] = range(v);
    return `${fixed(median(v), digits)} (${fixed(lo, digits)}-${fixed(hi, digits)})`;
  };
  const cBase = summary[0]!.cpuPerGb;
  return [
    [
      'receiver',
      'GB/s (median, min-max)',
      'CPU s/GB (median, min-max)',
      'throughput / C (median, min-max)',
      'CPU / C (median, min-max)',
      'batches/GiB',
      'recvmsg/GiB',
      'perf recvmsg/GiB',
      'perf epoll/GiB',
    ],
    ...summary.map((s) => {
      const perf = (f: (p: { recvmsg: number; epoll: number }) => number) => (s.perfPerGiB ? fixed(median(s.perfPerGiB.map(f)), 0) : 'n/a');
      return [
        s.name,
        spread(s.gbps, 2),
        spread(s.cpuPerGb, 3),
        spread(s.ratioToC, 2),
        spread(pairedRatios(s.cpuPerGb, cBase), 2),
        s.batchesPerGiB ? fixed(median(s.batchesPerGiB), 0) : '-',
        s.recvmsgPerGiB ? fixed(median(s.recvmsgPerGiB), 0) : '-',
        perf((p) => p.recvmsg),
        perf((p) => p.epoll),
      ];
    }),
  ];
}

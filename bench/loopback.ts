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
 */
import { buildCReference } from './c-reference';
import { receiverArgv, start } from './child';
import { fixed, median, pairedRatios, range } from './stats';

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
}

const RECEIVERS = [
  { name: 'C recvmsg loop', argv: (c: string) => [c, 'recv'] },
  { name: 'DevmemSocket', argv: () => receiverArgv('devmem-rx') },
  { name: "DevmemSocket, linearLifetime 'batch'", argv: () => receiverArgv('devmem-rx', ['--borrowed']) },
  { name: 'net.Socket', argv: () => receiverArgv('net-rx') },
  { name: 'C loop, 32 buffers in turn', argv: (c: string) => [c, 'recv', '--rotate', '32'] },
] as const;

async function once(receiver: string[], sender: string, bytes: number): Promise<Record<string, number>> {
  const rx = start(receiver);
  const port = await rx.port;
  const tx = start([sender, 'send', '--host', '127.0.0.1', '--port', String(port), '--bytes', String(bytes)]);
  const [r] = await Promise.all([rx.result, tx.result]);
  if (r.bytes !== bytes) throw new Error(`receiver got ${r.bytes} bytes, ${bytes} were sent`);
  return r;
}

export async function runLoopback(o: LoopbackOptions): Promise<ReceiverSummary[]> {
  const c = buildCReference();
  const out: ReceiverSummary[] = RECEIVERS.map((r) => ({ name: r.name, gbps: [], cpuPerGb: [], ratioToC: [] }));
  for (let run = 0; run < o.runs; run++) {
    for (let i = 0; i < RECEIVERS.length; i++) {
      const r = await once([...RECEIVERS[i]!.argv(c)], c, o.bytes);
      out[i]!.gbps.push(r.bytes! / r.seconds! / 1e9);
      out[i]!.cpuPerGb.push(r.cpuSeconds! / (r.bytes! / 1e9));
      if (r.useAfterReleaseCaught !== undefined) (out[i]!.useAfterReleaseCaught ??= []).push(r.useAfterReleaseCaught === 1);
    }
    o.log?.(`loopback run ${run + 1}/${o.runs}: ${out.map((s) => `${s.name} ${fixed(s.gbps.at(-1)!)} GB/s`).join(', ')}`);
  }
  for (const s of out) s.ratioToC = pairedRatios(s.gbps, out[0]!.gbps);
  return out;
}

export function loopbackRows(summary: ReceiverSummary[]): string[][] {
  return [
    ['receiver', 'GB/s (median)', 'GB/s min-max', 'CPU s/GB (median)', 'ratio to C (median)'],
    ...summary.map((s) => {
      const [lo, hi] = range(s.gbps);
      return [s.name, fixed(median(s.gbps)), `${fixed(lo)}-${fixed(hi)}`, fixed(median(s.cpuPerGb), 3), fixed(median(s.ratioToC))];
    }),
  ];
}

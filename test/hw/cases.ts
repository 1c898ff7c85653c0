// The hardware suite's cases: devmem.py's (check_rx, check_tx, check_tx_chunks,
// check_rx_hds) run through `devmem nc`, plus the self-test probe, RX on
// several queues, a soak, and the NIC state read back at the end. Every RX
// case runs on both receive backends: devmem (a dma-buf bound to the queues)
// and io_uring zcrx (the same case with a `_zcrx` suffix, one zcrx queue per
// RX queue, each with a host-memory area).
import {
  allocUdmabuf,
  createServer,
  DevmemError,
  type DevmemSocket,
  ethtool,
  NicConfig,
  readNicState,
  type NicState,
  type DmaBuf,
  type ReceiveOptions,
  type ZcrxHostArea,
  type ZcrxQueue,
  type ZcrxQueueStats,
  zcrxSupport,
} from '../../lib/index';
import { NcdevmemValidator } from '../support/ncdevmem';
import { addresses, type HwConfig } from './config';
import type { CaseResult } from './ktap';
import { runLocal, startLocal, tail } from './local';
import type { PeerCommands } from './peer';
import type { Done, Remote } from './remote';

/** The two receive backends every RX case runs on. */
export type Backend = 'devmem' | 'zcrx';
export const BACKENDS: readonly Backend[] = ['devmem', 'zcrx'];

export interface Ctx {
  config: HwConfig;
  remote: Remote;
  peer: PeerCommands;
  soakSeconds: number;
  diag(text: string): void;
  nextPort(): number;
}

const pass: CaseResult = { status: 'pass' };

/** `devmem nc`'s last "devmem nc: ok|FAIL|SKIP: ..." line. */
function verdictLine(stderr: string): string | undefined {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('devmem nc: '))
    .pop();
}
const failWith = (reason: string): CaseResult => ({ status: 'fail', reason });
const skipWith = (reason: string): CaseResult => ({ status: 'skip', reason });

/**
 * Why this host cannot run a zcrx case at all (no liburing in this build,
 * io_uring disabled, a kernel without zcrx), from zcrxSupport(); undefined
 * when it can. A devmem-only host skips the zcrx cases, never fails them.
 */
function zcrxMissing(): string | undefined {
  const s = zcrxSupport();
  return s.zcrx ? undefined : `io_uring zcrx is unavailable: ${s.reason ?? 'the kernel refused the probe'}`;
}

/** Why a NIC whose driver cannot serve zcrx (DEVICE_UNSUPPORTED) skips; any other refusal fails the case. */
const deviceUnsupported = (ctx: Ctx, message: string): string =>
  `${ctx.config.netif} cannot serve io_uring zcrx (DEVICE_UNSUPPORTED): ${message}`;

/** `devmem nc --json`'s events, one JSON object a line on stdout. */
function ncEvents(stdout: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not an event line
    }
  }
  return out;
}

/**
 * The verdict on one `devmem nc -l --zcrx --json` run that received `size`
 * bytes: every one of them zero-copy in the area (dmabufBytes), and, where the
 * kernel has copy statistics, none copied by its fallback (copiedBytes).
 */
function zcrxNcVerdict(ctx: Ctx, r: Done, size: number, copyStats: boolean, what = ''): CaseResult {
  const events = ncEvents(r.stdout);
  const summary = events.find((e) => e.event === 'summary');
  // DEVICE_UNSUPPORTED once the NIC set-up is done (the flow rule is in) is
  // the zcrx registration's: the driver cannot serve zcrx. Anything else the
  // NIC or kernel refuses, with zcrx present, is a failure.
  const setUp = events.some((e) => e.event === 'nic-step' && e.kind === 'flow-rule' && e.state === 'done');
  if (r.code === 4 && summary?.reason === 'DEVICE_UNSUPPORTED' && setUp) return skipWith(deviceUnsupported(ctx, String(summary.message)));
  if (r.code !== 0) return failWith(`${what}${tail(r)}`);
  const got = events.find((e) => e.event === 'received');
  if (got?.backend !== 'zcrx') return failWith(`${what}no zcrx 'received' event: ${String(got?.backend)}`);
  if (got.dmabufBytes !== size) return failWith(`${what}${String(got.dmabufBytes)} of ${size} bytes zero-copy in the zcrx area`);
  if (copyStats && got.copiedBytes !== 0) return failWith(`${what}${String(got.copiedBytes)} bytes copied by the kernel (copy fallback)`);
  return pass;
}

/**
 * `devmem nc -l` with the remote sending `bytes` of `period`'s pattern. When
 * `devmem nc` ends before it listens (a refusal), the peer is not started and
 * its result is what comes back.
 */
async function rxOnce(ctx: Ctx, extra: string[], bytes: number, period: number, withClient = true): Promise<{ r: Done }> {
  const { local, remote } = addresses(ctx.config);
  const port = ctx.nextPort();
  const nc = startLocal([
    'nc',
    '-l',
    '-f',
    ctx.config.netif,
    '-s',
    local,
    '-p',
    String(port),
    ...(withClient ? ['-c', remote] : []),
    ...extra,
  ]);
  const listening = await nc.waitFor('waiting for a connection').then(
    () => true,
    () => false,
  );
  if (!listening) return { r: await nc.done };
  const peer = ctx.remote.spawn(ctx.peer.send(local, remote, port, bytes, period));
  const r = await nc.done;
  peer.child.kill();
  await peer.done;
  return { r };
}

export async function checkSelftest(ctx: Ctx): Promise<CaseResult> {
  const r = await runLocal(['nc', '-f', ctx.config.netif]);
  if (r.code === 0) return pass;
  // The verdict line names why; the advice printed under it says what to do.
  if (r.code === 4) return { status: 'skip', reason: verdictLine(r.stderr) ?? 'skipped' };
  return failWith(tail(r));
}

export async function checkRx(ctx: Ctx): Promise<CaseResult> {
  const { r } = await rxOnce(ctx, ['-v', '7'], 1024, 7);
  return r.code === 0 ? pass : failWith(tail(r));
}

/**
 * check_rx through zcrx: `devmem nc -l --zcrx` on the same queue check_rx
 * uses, with a host-memory area; the 1 KiB must all arrive zero-copy. `-L`
 * (copy fallback is an error) needs the kernel's copy statistics (7.2):
 * without them the case still validates the data and the zero-copy count.
 */
export async function checkRxZcrx(ctx: Ctx): Promise<CaseResult> {
  const why = zcrxMissing();
  if (why) return skipWith(why);
  const copyStats = zcrxSupport().events;
  if (!copyStats) ctx.diag('check_rx_zcrx: no zcrx copy statistics on this kernel (7.2): copy fallback goes undetected, no -L');
  const { r } = await rxOnce(ctx, ['--zcrx', '-v', '7', '--json', ...(copyStats ? ['-L'] : [])], 1024, 7);
  return zcrxNcVerdict(ctx, r, 1024, copyStats);
}

const HDS_SIZES = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 3, 1000, 1448, 4097, 8191];

export async function checkRxHds(ctx: Ctx): Promise<CaseResult> {
  for (const size of HDS_SIZES) {
    const { r } = await rxOnce(ctx, ['-L', '--json'], size, 0, false);
    if (r.code !== 0) return failWith(`payload size ${size}: ${tail(r)}`);
    const got = ncEvents(r.stdout).find((e) => e.event === 'received');
    if (got?.dmabufBytes !== size) return failWith(`payload size ${size}: ${String(got?.dmabufBytes)} bytes in the dma-buf`);
  }
  return pass;
}

/** check_rx_hds through zcrx: every payload size entirely zero-copy in the area, with -L where the kernel can tell copies. */
export async function checkRxHdsZcrx(ctx: Ctx): Promise<CaseResult> {
  const why = zcrxMissing();
  if (why) return skipWith(why);
  const copyStats = zcrxSupport().events;
  if (!copyStats) ctx.diag('check_rx_hds_zcrx: no zcrx copy statistics on this kernel (7.2): copy fallback goes undetected, no -L');
  for (const size of HDS_SIZES) {
    const { r } = await rxOnce(ctx, ['--zcrx', '--json', ...(copyStats ? ['-L'] : [])], size, 0, false);
    const v = zcrxNcVerdict(ctx, r, size, copyStats, `payload size ${size}: `);
    if (v.status !== 'pass') return v;
  }
  return pass;
}

async function tx(ctx: Ctx, chunk?: number): Promise<CaseResult> {
  const { remote } = addresses(ctx.config);
  const port = ctx.nextPort();
  const listener = ctx.remote.spawn(ctx.peer.listen(remote, port));
  await new Promise((r) => setTimeout(r, 1000)); // socat prints nothing when it listens
  const r = await runLocal(
    ['nc', '-f', ctx.config.netif, '-s', remote, '-p', String(port), ...(chunk ? ['-z', String(chunk)] : [])],
    'hello\nworld\n',
  );
  const got = await Promise.race([listener.done, new Promise<null>((res) => setTimeout(() => res(null), 10_000))]);
  if (got === null) listener.child.kill();
  if (r.code !== 0) return failWith(tail(r));
  if (got?.stdout !== 'hello\nworld\n') return failWith(`the remote received ${JSON.stringify(got?.stdout)}`);
  return pass;
}

export const checkTx = (ctx: Ctx) => tx(ctx);
export const checkTxChunks = (ctx: Ctx) => tx(ctx, 3);

/** Each zcrx queue's host-memory area in the multi-queue and soak cases: the size of the devmem cases' dma-buf, so that a consumer slowed by validation does not run the NIC out of buffers. */
const ZCRX_AREA = 64 * 1024 * 1024;

interface FlowResult {
  stats: ReturnType<DevmemSocket['stats']>;
  mismatches: number;
  /** zcrx: the counters of the flow's queue once its socket closed, and whether the kernel reports copies. */
  zcrx?: { stats: ZcrxQueueStats; copyStats: boolean };
}

type Flows = { skip: string } | { results: FlowResult[]; secs: number };

/** What one flow's socket receives through, and where its fragments' offsets point. */
type Receive = (flow: number) => { options: ReceiveOptions; area: DmaBuf | ZcrxHostArea; queue?: ZcrxQueue };

/**
 * Receives `flows` parallel flows on as many queues, each steered there by
 * its own rule, with RSS spread over the queues below them: devmem binds one
 * dma-buf to them all, zcrx opens one zcrx queue with a host-memory area on
 * each. Validates the pattern; linear (devmem) or copied (zcrx) data fails
 * the socket. Returns receive stats.
 */
async function receiveFlows(ctx: Ctx, backend: Backend, flows: number, seconds: number | undefined, bytes: number): Promise<Flows> {
  if (backend === 'zcrx') {
    const why = zcrxMissing();
    if (why) return { skip: why };
  }
  const { local, remote } = addresses(ctx.config);
  const ch = await ethtool.getChannels(ctx.config.netif);
  const n = (ch.rxCount ?? 0) + (ch.combinedCount ?? 0);
  if (n < flows + 1) return { skip: `${ctx.config.netif} has ${n} RX queues; ${flows} flows need ${flows + 1}` };
  const start = n - flows;
  const queues = Array.from({ length: flows }, (_, i) => start + i);
  const nic = await NicConfig.open(ctx.config.netif);
  const dmabuf = backend === 'devmem' ? allocUdmabuf(64 * 1024 * 1024 - 4096 * 16) : undefined;
  const zcrx: ZcrxQueue[] = [];
  let out: Flows;
  let closed: PromiseSettledResult<void>[] = [];
  try {
    await nic.enableHeaderSplit();
    await nic.isolateQueues(start);
    const ports = queues.map(() => ctx.nextPort());
    for (let i = 0; i < flows; i++) await nic.steerFlow({ serverIp: local, clientIp: remote, port: ports[i]!, queue: queues[i]! });
    if (dmabuf) {
      const binding = await nic.bindRx(queues, dmabuf);
      out = await runFlows(ctx, ports, () => ({ options: { binding, dmabuf, linear: 'error' }, area: dmabuf }), seconds, bytes);
    } else {
      const refused = await openZcrxQueues(ctx, nic, queues, zcrx);
      out = refused
        ? { skip: refused }
        : await runFlows(
            ctx,
            ports,
            (flow) => ({ options: { zcrx: zcrx[flow]!, copied: 'error' }, area: zcrx[flow]!.area, queue: zcrx[flow]! }),
            seconds,
            bytes,
          );
    }
  } finally {
    // Every zcrx queue closed, and the kernel done with it, before the NIC set-up unwinds.
    closed = await Promise.allSettled(zcrx.map((q) => q.close()));
    nic.close();
    dmabuf?.close();
  }
  const failed = closed.find((c) => c.status === 'rejected');
  if (failed) throw failed.reason;
  return out;
}

/**
 * Opens a zcrx queue with a host-memory area on each of `queues`, into
 * `opened`. Returns the skip reason when the driver cannot serve zcrx; any
 * other refusal throws, failing the case.
 */
async function openZcrxQueues(ctx: Ctx, nic: NicConfig, queues: number[], opened: ZcrxQueue[]): Promise<string | undefined> {
  for (const q of queues) {
    try {
      opened.push(await nic.openZcrx(q, { area: { size: ZCRX_AREA } }));
    } catch (e) {
      if (e instanceof DevmemError && e.reason === 'DEVICE_UNSUPPORTED') return deviceUnsupported(ctx, e.message);
      throw e;
    }
  }
  return undefined;
}

async function runFlows(ctx: Ctx, ports: number[], receive: Receive, seconds: number | undefined, bytes: number): Promise<Flows> {
  const { local, remote } = addresses(ctx.config);
  const t0 = process.hrtime.bigint();
  // A flow that never connects or never ends fails the case in bounded time,
  // saying where it stopped, instead of hanging the suite.
  const limitMs = ((seconds ?? 0) + 120) * 1000;
  const results = await Promise.all(
    ports.map(async (port, flow): Promise<FlowResult> => {
      const signal = AbortSignal.timeout(limitMs);
      const { options, area, queue } = receive(flow);
      const srv = createServer({ host: local, port, ...options });
      await srv.listen();
      const peer = ctx.remote.spawn(
        seconds ? ctx.peer.stream(local, remote, port, 7, seconds) : ctx.peer.send(local, remote, port, bytes, 7),
      );
      const stuck =
        (where: string, received: number) =>
        async (e: unknown): Promise<never> => {
          peer.child.kill();
          const p = await peer.done;
          const how = signal.aborted ? `${where} after ${limitMs / 1000} s` : `failed (${where})`;
          throw new Error(
            `flow ${flow} (port ${port}) ${how} (${received} bytes received): ${String(e)}; peer: ${p.stderr.trim().split('\n').slice(-3).join(' / ')}`,
          );
        };
      const sock = await srv
        .accept({ signal })
        .catch(stuck('was never accepted', 0))
        .finally(() => srv.close());
      const v = new NcdevmemValidator(7);
      let scratch = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const batch = await sock.read({ signal }).catch((e: unknown) => {
          const got = sock.stats().bytes;
          sock.close();
          return stuck('did not end', got)(e);
        });
        if (batch === null) break;
        if (batch.bytes > scratch.length) scratch = Buffer.allocUnsafe(batch.bytes);
        v.check(batch.copyOut(area, scratch).subarray(0, batch.bytes));
        batch.release();
      }
      const stats = sock.stats();
      sock.close();
      peer.child.kill();
      await peer.done;
      return { stats, mismatches: v.mismatches, ...(queue ? { zcrx: { stats: queue.stats(), copyStats: queue.copyStats } } : {}) };
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { results, secs };
}

/** zcrx's own end-of-flow checks: no buffer kept from the refill ring, nothing copied by the kernel. */
function zcrxFlowProblem(r: FlowResult): string | undefined {
  if (!r.zcrx) return undefined;
  if (r.stats.copiedBytes !== 0) return `${r.stats.copiedBytes} bytes copied by the kernel (copy fallback)`;
  const q = r.zcrx.stats;
  if (r.zcrx.copyStats && q.kernelCopyBytes !== 0) return `the kernel copied ${q.kernelCopyBytes} bytes into the zcrx area (copy fallback)`;
  if (q.returnedBuffers !== q.dataCompletions)
    return `${q.returnedBuffers} of ${q.dataCompletions} received buffers back on the refill ring after the socket closed`;
  return undefined;
}

async function multiQueue(ctx: Ctx, backend: Backend): Promise<CaseResult> {
  const out = await receiveFlows(ctx, backend, 2, undefined, 4 * 1024 * 1024);
  if ('skip' in out) return skipWith(out.skip);
  const where = backend === 'zcrx' ? 'zero-copy in the zcrx area' : 'in the dma-buf';
  for (const [i, r] of out.results.entries()) {
    if (r.mismatches) return failWith(`flow ${i}: ${r.mismatches} bytes differ from the pattern`);
    if (r.stats.dmabufBytes !== 4 * 1024 * 1024) return failWith(`flow ${i}: ${r.stats.dmabufBytes} of 4 MiB ${where}`);
    const problem = zcrxFlowProblem(r);
    if (problem) return failWith(`flow ${i}: ${problem}`);
  }
  return pass;
}

export const checkRxMultiQueue = (ctx: Ctx) => multiQueue(ctx, 'devmem');
export const checkRxMultiQueueZcrx = (ctx: Ctx) => multiQueue(ctx, 'zcrx');

async function soak(ctx: Ctx, backend: Backend): Promise<CaseResult> {
  if (ctx.soakSeconds <= 0) return skipWith('no --soak SECONDS given');
  const out = await receiveFlows(ctx, backend, 1, ctx.soakSeconds, 0);
  if ('skip' in out) return skipWith(out.skip);
  const [r] = out.results;
  const s = r!.stats;
  const head = backend === 'zcrx' ? 'soak (zcrx):' : 'soak:';
  const lines = [
    `${head} ${out.secs.toFixed(1)} s, ${(s.bytes / 1e9).toFixed(3)} GB, ${((s.bytes * 8) / out.secs / 1e9).toFixed(2)} Gb/s`,
    `${head} ${s.fragments} fragments, ${Math.round(s.fragments / out.secs)} fragments/s`,
  ];
  if (r!.zcrx) {
    const q = r!.zcrx.stats;
    lines.push(
      `${head} ${q.returnedBuffers} buffers back on the refill ring, ${q.rearms} rearms, ${q.allocFailEvents} ALLOC_FAIL events, ${q.kernelCopyBytes} bytes copied by the kernel`,
      `${head} buffers outstanding at the end: ${s.outstandingTokens}`,
    );
  } else {
    lines.push(
      `${head} ${s.dontneedCalls} DONTNEED calls (${((s.dontneedCalls / Math.max(1, s.fragments)) * 1024).toFixed(2)} per 1024 fragments), ${s.shortReleases} short`,
      `${head} tokens outstanding at the end: ${s.outstandingTokens}`,
    );
  }
  ctx.diag(lines.join('\n'));
  const what = backend === 'zcrx' ? 'buffers' : 'tokens';
  if (r!.mismatches) return failWith(`${r!.mismatches} bytes differ from the pattern`);
  if (s.outstandingTokens !== 0) return failWith(`${s.outstandingTokens} ${what} outstanding at the end`);
  if (s.bytes === 0) return failWith('nothing was received');
  const problem = zcrxFlowProblem(r!);
  if (problem) return failWith(problem);
  return pass;
}

export const checkRxSoak = (ctx: Ctx) => soak(ctx, 'devmem');
export const checkRxSoakZcrx = (ctx: Ctx) => soak(ctx, 'zcrx');

export function checkStateRestored(before: NicState) {
  return async (ctx: Ctx): Promise<CaseResult> => {
    const after = await readNicState(ctx.config.netif);
    const a = JSON.stringify(before);
    const b = JSON.stringify(after);
    return a === b ? pass : failWith(`before: ${a}\nafter:  ${b}`);
  };
}

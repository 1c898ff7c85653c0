// The hardware suite's cases: devmem.py's (check_rx, check_tx, check_tx_chunks,
// check_rx_hds) run through `devmem nc`, plus the self-test probe, RX on
// several queues, a soak, and the NIC state read back at the end.
import { allocUdmabuf, createServer, ethtool, NicConfig, readNicState, type NicState } from '../../lib/index';
import { NcdevmemValidator } from '../support/ncdevmem';
import { addresses, type HwConfig } from './config';
import type { CaseResult } from './ktap';
import { runLocal, startLocal, tail } from './local';
import type { PeerCommands } from './peer';
import type { Remote } from './remote';

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

/** `devmem nc -l` with the remote sending `bytes` of `period`'s pattern. */
async function rxOnce(ctx: Ctx, extra: string[], bytes: number, period: number, withClient = true) {
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
  await nc.waitFor('waiting for a connection');
  const peer = ctx.remote.spawn(ctx.peer.send(local, remote, port, bytes, period));
  const r = await nc.done;
  peer.child.kill();
  const p = await peer.done;
  return { r, p };
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

export async function checkRxHds(ctx: Ctx): Promise<CaseResult> {
  for (const size of [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 3, 1000, 1448, 4097, 8191]) {
    const { r } = await rxOnce(ctx, ['-L', '--json'], size, 0, false);
    if (r.code !== 0) return failWith(`payload size ${size}: ${tail(r)}`);
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.event === 'received');
    if (got?.dmabufBytes !== size) return failWith(`payload size ${size}: ${String(got?.dmabufBytes)} bytes in the dma-buf`);
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

/**
 * Receives `flows` parallel flows on as many bound queues, each steered there
 * by its own rule, with RSS spread over the queues below them. Validates the
 * pattern and that every byte landed in the dma-buf; returns receive stats.
 */
async function receiveFlows(ctx: Ctx, flows: number, seconds: number | undefined, bytes: number) {
  const { local, remote } = addresses(ctx.config);
  const ch = await ethtool.getChannels(ctx.config.netif);
  const n = (ch.rxCount ?? 0) + (ch.combinedCount ?? 0);
  if (n < flows + 1) return { skip: `${ctx.config.netif} has ${n} RX queues; ${flows} flows need ${flows + 1}` };
  const start = n - flows;
  const nic = await NicConfig.open(ctx.config.netif);
  const dmabuf = allocUdmabuf(64 * 1024 * 1024 - 4096 * 16);
  try {
    await nic.enableHeaderSplit();
    await nic.isolateQueues(start);
    const ports = Array.from({ length: flows }, () => ctx.nextPort());
    for (let i = 0; i < flows; i++) await nic.steerFlow({ serverIp: local, clientIp: remote, port: ports[i]!, queue: start + i });
    const binding = await nic.bindRx(
      Array.from({ length: flows }, (_, i) => start + i),
      dmabuf,
    );
    const t0 = process.hrtime.bigint();
    // A flow that never connects or never ends fails the case in bounded time,
    // saying where it stopped, instead of hanging the suite.
    const limitMs = ((seconds ?? 0) + 120) * 1000;
    const results = await Promise.all(
      ports.map(async (port, flow) => {
        const signal = AbortSignal.timeout(limitMs);
        const srv = createServer({ host: local, port, binding, dmabuf, linear: 'error' });
        await srv.listen();
        const peer = ctx.remote.spawn(
          seconds ? ctx.peer.stream(local, remote, port, 7, seconds) : ctx.peer.send(local, remote, port, bytes, 7),
        );
        const stuck =
          (where: string, received: number) =>
          async (e: unknown): Promise<never> => {
            peer.child.kill();
            const p = await peer.done;
            throw new Error(
              `flow ${flow} (port ${port}) ${where} after ${limitMs / 1000} s (${received} bytes received): ${String(e)}; peer: ${p.stderr.trim().split('\n').slice(-3).join(' / ')}`,
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
          v.check(batch.copyOut(dmabuf, scratch).subarray(0, batch.bytes));
          batch.release();
        }
        const stats = sock.stats();
        sock.close();
        peer.child.kill();
        await peer.done;
        return { stats, mismatches: v.mismatches };
      }),
    );
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return { results, secs };
  } finally {
    nic.close();
    dmabuf.close();
  }
}

export async function checkRxMultiQueue(ctx: Ctx): Promise<CaseResult> {
  const out = await receiveFlows(ctx, 2, undefined, 4 * 1024 * 1024);
  if ('skip' in out) return { status: 'skip', reason: out.skip! };
  for (const [i, r] of out.results.entries()) {
    if (r.mismatches) return failWith(`flow ${i}: ${r.mismatches} bytes differ from the pattern`);
    if (r.stats.dmabufBytes !== 4 * 1024 * 1024) return failWith(`flow ${i}: ${r.stats.dmabufBytes} of 4 MiB in the dma-buf`);
  }
  return pass;
}

export async function checkRxSoak(ctx: Ctx): Promise<CaseResult> {
  if (ctx.soakSeconds <= 0) return { status: 'skip', reason: 'no --soak SECONDS given' };
  const out = await receiveFlows(ctx, 1, ctx.soakSeconds, 0);
  if ('skip' in out) return { status: 'skip', reason: out.skip! };
  const [r] = out.results;
  const s = r!.stats;
  ctx.diag(
    [
      `soak: ${out.secs.toFixed(1)} s, ${(s.bytes / 1e9).toFixed(3)} GB, ${((s.bytes * 8) / out.secs / 1e9).toFixed(2)} Gb/s`,
      `soak: ${s.fragments} fragments, ${Math.round(s.fragments / out.secs)} fragments/s`,
      `soak: ${s.dontneedCalls} DONTNEED calls (${((s.dontneedCalls / Math.max(1, s.fragments)) * 1024).toFixed(2)} per 1024 fragments), ${s.shortReleases} short`,
      `soak: tokens outstanding at the end: ${s.outstandingTokens}`,
    ].join('\n'),
  );
  if (r!.mismatches) return failWith(`${r!.mismatches} bytes differ from the pattern`);
  if (s.outstandingTokens !== 0) return failWith(`${s.outstandingTokens} tokens outstanding at the end`);
  if (s.bytes === 0) return failWith('nothing was received');
  return pass;
}

export function checkStateRestored(before: NicState) {
  return async (ctx: Ctx): Promise<CaseResult> => {
    const after = await readNicState(ctx.config.netif);
    const a = JSON.stringify(before);
    const b = JSON.stringify(after);
    return a === b ? pass : failWith(`before: ${a}\nafter:  ${b}`);
  };
}

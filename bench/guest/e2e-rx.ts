/**
 * End-to-end receive benchmark inside the guest lab (run by
 * `npm run test:vm -- --bench`, in netns nsa): the patched netdevsim with
 * header split on, the C sender in the remote netns, and in turn five
 * receivers, each run back to back:
 *
 * - devmem, on a udmabuf bound to the queues RSS spreads flows over: the C
 *   recvmsg loop returning tokens in coalesced batches, our DevmemSocket (in
 *   this process), the same with readiness coalescing (`coalesce: {
 *   waitMicros }`, --coalesce-us, default 250), and the C loop returning one
 *   token per call as ncdevmem does;
 * - io_uring zcrx, on queues of their own that n-tuple rules steer their
 *   flows to (RSS leaves them out): the C zcrx loop (bench/c/zcrx_bench.c,
 *   which registers its queue itself each run) and our DevmemSocket created
 *   with `{ zcrx }` on a queue opened once with openZcrx() (in this process),
 *   both with host-memory areas of the dma-buf's size.
 *
 * With 4 queues: devmem on 0-1, DevmemSocket (zcrx) on 2, the C zcrx loop on
 * 3. Without zcrx (--no-zcrx, a kernel or build without it, under 3 queues,
 * no zcrx_bench) the devmem receivers have every queue, as before.
 *
 * Syscalls are counted for every receiver by perf stat on the syscall-entry
 * tracepoints, over the timed window (accept to end of stream) and every
 * thread of the receiving process (bench/syscalls.ts); --no-syscalls, or no
 * usable perf, leaves them out.
 *
 * Before all that, the start-up of `devmem nc -l` as the kernel's selftests
 * see it: from exec to a listening socket in /proc/net/tcp (their
 * wait_port_listen() gives it 5 s), split into phases by the --json events'
 * timeline, beside `node -e 0`, the floor any Node CLI pays.
 *
 * Then flows over queues (./scaling.ts): one flow per queue, received by one
 * worker thread and by one worker per flow; --no-scaling leaves it out.
 *
 * With --profile MIB, after the timed runs the C recvmsg loop and DevmemSocket
 * each receive MIB more under `perf record` (./profile.ts), and the report
 * carries where their CPU went.
 *
 * Usage: e2e-rx.ts [--runs N] [--bytes N] [--dmabuf-mib N] [--memory KIND[:ARG]]
 *                  [--zcrx-area-mib N] [--no-zcrx] [--no-syscalls] [--no-scaling]
 *                  [--coalesce-us N] [--profile MIB] --out FILE
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';

import {
  createServer,
  netdev,
  NicConfig,
  openZcrx,
  zcrxSupport,
  type ReceiveOptions,
  type RxBinding,
  type ZcrxQueue,
} from '../../lib/index';
import { allocMemory, describeBuffer, parseMemory } from '../../bin/memory';
import { packageRoot } from '../../lib/internal';
import { e2eEnv } from '../../test/e2e/helpers/env';
import { remoteArgv } from '../../test/e2e/helpers/remote';
import { buildCReference, buildZcrxReference } from '../c-reference';
import type { GuestSample, GuestZcrxLayout, StartupSample } from '../guest';
import { start, type Started } from '../child';
import { syscallCounting, SyscallWindow } from '../syscalls';
import { ProfileWindow, type ProfileReport } from './profile';
import { runGuestScaling } from './scaling';

const RECEIVERS = [
  'C recvmsg loop',
  'DevmemSocket',
  'DevmemSocket, coalesce',
  'C, one DONTNEED per fragment',
  'C zcrx loop',
  'DevmemSocket (zcrx)',
] as const;
type Receiver = (typeof RECEIVERS)[number];
const ZCRX_RECEIVERS: readonly Receiver[] = ['C zcrx loop', 'DevmemSocket (zcrx)'];

/** The zcrx receivers' fixed ports, which the n-tuple rules name. */
const ZCRX_PORT: Record<'C zcrx loop' | 'DevmemSocket (zcrx)', number> = { 'C zcrx loop': 7411, 'DevmemSocket (zcrx)': 7410 };

/** perf stat's notes on its stderr, one per control command. */
const PERF_NOTES = /^Events (enabled|disabled)$/;

type Send = (port: number) => Promise<unknown>;
/** One run of one receiver (this suite always measures user time). */
type Sample = GuestSample & { userSeconds: number };

function wallSeconds(argv: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`${argv.join(' ')}: exit ${code}`)),
    );
  });
}

function listening(port: number): boolean {
  const pattern = new RegExp(`:${port.toString(16).toUpperCase().padStart(4, '0')} \\S+ 0A `);
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => pattern.test(fs.readFileSync(f, 'utf8')));
}

async function startup(env: ReturnType<typeof e2eEnv>, c: string, port: number): Promise<StartupSample> {
  const node = await wallSeconds([process.execPath, '-e', '0']);
  const cli = path.join(packageRoot, 'dist/bin/devmem.js');
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'nc', '-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(port), '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Record<string, number> = {};
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const e = JSON.parse(line) as { event: string; t: number; state?: string };
    const key = e.event === 'nic-step' && e.state === 'done' ? 'firstStep' : e.event;
    events[key] ??= e.t / 1000;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let listenSeen: number | undefined;
  while (listenSeen === undefined && child.exitCode === null) {
    if (listening(port)) listenSeen = (performance.now() - t0) / 1000;
    else await new Promise((r) => setTimeout(r, 5));
  }
  if (listenSeen === undefined) throw new Error(`devmem nc -l exited (${child.exitCode}) before it listened`);
  await start(remoteArgv([c, 'send', '--host', env.addr4Local, '--port', String(port), '--bytes', '1024'])).result;
  const code = await exited;
  if (code !== 0) throw new Error(`devmem nc -l exited ${code}`);
  const need = (k: string) => {
    if (events[k] === undefined) throw new Error(`devmem nc -l printed no ${k} event`);
    return events[k];
  };
  return { node, firstStep: need('firstStep'), bound: need('bound'), listening: need('listening'), listenSeen };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      bytes: { type: 'string', default: String(32 * 2 ** 20) },
      'dmabuf-mib': { type: 'string', default: '16' },
      memory: { type: 'string' },
      'zcrx-area-mib': { type: 'string' },
      'no-zcrx': { type: 'boolean', default: false },
      'no-syscalls': { type: 'boolean', default: false },
      'no-scaling': { type: 'boolean', default: false },
      'coalesce-us': { type: 'string', default: '250' },
      profile: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const coalesceUs = Number(values['coalesce-us']);
  const bytes = Number(values.bytes);
  const dmabufMib = Number(values['dmabuf-mib']);
  const areaMib = Number(values['zcrx-area-mib'] ?? dmabufMib);
  const env = e2eEnv();
  const c = buildCReference();
  // Start-up first: nc binds queues of its own, which the receivers below hold.
  const startups: StartupSample[] = [];
  for (let run = 0; run < runs; run++) {
    const s = await startup(env, c, 7300 + run);
    startups.push(s);
    console.log(
      `bench run ${run + 1}/${runs}: devmem nc -l start-up: listening after ${s.listenSeen.toFixed(2)} s ` +
        `(node -e 0 ${s.node.toFixed(2)} s; first NIC step ${s.firstStep.toFixed(2)}, bound ${s.bound.toFixed(2)}, listening ${s.listening.toFixed(2)} s)`,
    );
  }

  const counting = values['no-syscalls'] ? { ok: false as const, reason: '--no-syscalls' } : syscallCounting();
  const syscallMethod = counting.ok
    ? 'perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_* over accept..end of stream, every thread of the receiving process'
    : `not counted: ${counting.reason}`;
  console.log(`bench syscalls: ${syscallMethod}`);

  // Which zcrx receivers can run, and the queue layout.
  const skipped: Partial<Record<Receiver, string>> = {};
  const support = zcrxSupport();
  const zcrxOff = values['no-zcrx']
    ? '--no-zcrx'
    : !support.zcrx
      ? `no zcrx: ${support.reason ?? JSON.stringify(support)}`
      : env.queues < 3
        ? `${env.queues} queues, zcrx needs 3`
        : undefined;
  const zc = zcrxOff ? undefined : buildZcrxReference();
  if (zcrxOff) for (const r of ZCRX_RECEIVERS) skipped[r] = zcrxOff;
  else if (zc && 'reason' in zc) skipped['C zcrx loop'] = `zcrx_bench not built: ${zc.reason}`;
  const zcrxPath = zc && 'path' in zc ? zc.path : undefined;
  const devmemQueues = Array.from({ length: zcrxOff ? env.queues : env.queues - 2 }, (_, i) => i);
  const layout: GuestZcrxLayout | undefined = zcrxOff
    ? undefined
    : { devmemQueues, jsQueue: env.queues - 2, cQueue: env.queues - 1, areaBytes: areaMib * 2 ** 20 };
  for (const [r, why] of Object.entries(skipped)) console.log(`bench zcrx: ${r} skipped (${why})`);

  const nic = await NicConfig.open(env.ifLocal);
  let dmabuf: ReturnType<typeof allocMemory> | undefined;
  let zq: ZcrxQueue | undefined;
  const profiles: Record<string, ProfileReport & { sample: Sample }> = {};
  const samples: Record<string, Sample[]> = Object.fromEntries(RECEIVERS.filter((r) => !skipped[r]).map((r) => [r, []]));
  const send = (port: number) =>
    start(remoteArgv([c, 'send', '--host', env.addr4Local, '--port', String(port), '--bytes', String(bytes)])).result;
  try {
    await nic.enableHeaderSplit();
    if (layout) {
      // RSS keeps to the devmem queues; the zcrx flows are steered by port.
      await nic.isolateQueues(layout.jsQueue);
      await nic.steerFlow({ serverIp: env.addr4Local, port: ZCRX_PORT['DevmemSocket (zcrx)'], queue: layout.jsQueue });
      await nic.steerFlow({ serverIp: env.addr4Local, port: ZCRX_PORT['C zcrx loop'], queue: layout.cQueue });
      console.log(
        `bench zcrx: devmem on queues ${devmemQueues.join(',')}, DevmemSocket (zcrx) on queue ${layout.jsQueue} ` +
          `(port ${ZCRX_PORT['DevmemSocket (zcrx)']}), C zcrx loop on queue ${layout.cQueue} (port ${ZCRX_PORT['C zcrx loop']}), ` +
          `host-memory areas of ${areaMib} MiB`,
      );
    }
    dmabuf = allocMemory(parseMemory(values.memory), dmabufMib * 2 ** 20);
    console.log(`bench memory: ${JSON.stringify(describeBuffer(dmabuf))}`);
    const binding = await nic.bindRx(devmemQueues, dmabuf);
    if (layout && !skipped['DevmemSocket (zcrx)']) {
      try {
        zq = await openZcrx(env.ifLocal, layout.jsQueue, { area: { size: layout.areaBytes } });
        console.log(`bench zcrx: queue ${zq.queue} open (zcrx id ${zq.zcrxId}, ${zq.rqEntries} refill entries, buffers of ${zq.rxBufLen})`);
      } catch (e) {
        skipped['DevmemSocket (zcrx)'] = `openZcrx failed: ${(e as Error).message}`;
        delete samples['DevmemSocket (zcrx)'];
        console.log(`bench zcrx: DevmemSocket (zcrx) skipped (${skipped['DevmemSocket (zcrx)']})`);
      }
    }
    const zcrxC = (verify: boolean) =>
      cZcrx(zcrxPath!, env.ifLocal, env.ifindexLocal, layout!, env.addr4Local, send, counting.ok && !verify, verify);
    if (layout && zcrxPath) {
      // One untimed run that checks every byte the C loop is handed against
      // the sender's pattern: the reference is new code, and a wrong refill
      // would show up here as corrupt data rather than as a fast loop.
      try {
        const v = await zcrxC(true);
        if (v.bytes !== bytes || v.mismatches) throw new Error(`${v.bytes} of ${bytes} bytes, ${v.mismatches} of them not the sender's`);
        console.log(
          `bench zcrx: C zcrx loop verified: ${v.bytes} bytes intact, ${v.fragments} completions, ${v.enterCalls} io_uring_enter`,
        );
      } catch (e) {
        skipped['C zcrx loop'] = `the verifying run failed: ${(e as Error).message}`;
        delete samples['C zcrx loop'];
        console.log(`bench zcrx: C zcrx loop skipped (${skipped['C zcrx loop']})`);
      }
    }
    for (let run = 0; run < runs; run++) {
      for (const name of RECEIVERS) {
        if (!samples[name]) continue;
        let s: Sample;
        switch (name) {
          case 'DevmemSocket':
            s = await ours({ binding }, env.addr4Local, 0, send, counting.ok);
            break;
          case 'DevmemSocket, coalesce':
            s = await ours({ binding, coalesce: { waitMicros: coalesceUs } }, env.addr4Local, 0, send, counting.ok);
            break;
          case 'DevmemSocket (zcrx)':
            s = await ours({ zcrx: zq! }, env.addr4Local, ZCRX_PORT[name], send, counting.ok);
            break;
          case 'C zcrx loop':
            s = await zcrxC(false);
            break;
          default:
            s = await cDevmem(c, name === 'C recvmsg loop' ? 'batched' : 'each', binding, env.addr4Local, send, counting.ok);
        }
        if (s.bytes !== bytes) throw new Error(`${name} received ${s.bytes} bytes, ${bytes} were sent`);
        samples[name]!.push(s);
        const sys = s.syscalls
          ? `${s.syscalls.total} syscalls (io_uring_enter ${s.syscalls.io_uring_enter}, recvmsg ${s.syscalls.recvmsg}, ` +
            `setsockopt ${s.syscalls.setsockopt}, epoll ${s.syscalls.epoll_pwait + s.syscalls.epoll_wait}, futex ${s.syscalls.futex})`
          : 'syscalls not counted';
        const calls =
          s.backend === 'zcrx'
            ? `${s.enterCalls !== undefined ? `${s.enterCalls} io_uring_enter (own count)` : `${s.pumps} ring pumps`}` +
              `${s.copiedBytes ? `, ${s.copiedBytes} bytes COPIED by the kernel (the flow missed the zcrx queue?)` : ''}`
            : `${s.dontneedCalls} DONTNEED calls, ${s.recvmsgCalls} recvmsg calls`;
        console.log(
          `bench run ${run + 1}/${runs}: ${name}: ${(s.bytes / s.seconds / 2 ** 20).toFixed(1)} MiB/s, CPU ${s.cpuSeconds.toFixed(2)} s ` +
            `(user ${s.userSeconds.toFixed(2)} s), ${calls}; ${sys}`,
        );
      }
    }
    if (values.profile) {
      const profileBytes = Number(values.profile) * 2 ** 20;
      const sendProfile = (port: number) =>
        start(remoteArgv([c, 'send', '--host', env.addr4Local, '--port', String(port), '--bytes', String(profileBytes)])).result;
      for (const name of ['C recvmsg loop', 'DevmemSocket'] as const) {
        const win = new ProfileWindow();
        let p: ProfileReport;
        let s: Sample;
        try {
          s =
            name === 'DevmemSocket'
              ? await ours({ binding }, env.addr4Local, 0, sendProfile, false, win)
              : await cDevmem(c, 'batched', binding, env.addr4Local, sendProfile, false, win);
          p = await win.report();
        } finally {
          win.close();
        }
        profiles[name] = { ...p, sample: s };
        console.log(
          `bench profile: ${name}: ${(s.bytes / 2 ** 20).toFixed(0)} MiB, CPU ${s.cpuSeconds.toFixed(2)} s (user ${s.userSeconds.toFixed(2)} s), ` +
            `${p.samples} samples at cpu-clock\n--- by thread and object\n${p.byThreadAndObject}\n--- by symbol\n${p.bySymbol}` +
            `\n--- kernel, inclusive\n${p.byKernelPath}`,
        );
      }
    }
  } finally {
    if (zq) await zq.close();
    if (layout && zcrxPath) await queueFree(env.ifindexLocal, layout.cQueue).catch((e: unknown) => console.error(e));
    nic.close(); // unbinds, deletes the rules, puts RSS, n-tuple and the rings back
    dmabuf?.close();
  }
  // Flows over queues last: it binds every queue, which the receivers above shared out.
  const scaling = values['no-scaling']
    ? undefined
    : await runGuestScaling({ env, c, runs, bytesPerFlow: bytes, dmabufMib, memory: values.memory, log: (l) => console.log(l) });
  const report = {
    kernel: env.kernel,
    bytes,
    runs,
    samples,
    startups,
    syscallMethod,
    zcrx: layout,
    skipped,
    profiles,
    scaling,
    coalesceMicros: coalesceUs,
  };
  if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(report)}\n`);
}

/**
 * A C receiver's result once the sender has sent it everything; either's
 * failure (the receiver's before it listens too) with the receiver's name.
 */
async function received(name: string, rx: Started, send: Send): Promise<Record<string, number>> {
  try {
    const [r] = await Promise.all([rx.result, rx.port.then(send)]);
    return r;
  } catch (e) {
    throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** The C devmem loop, batched or one DONTNEED per fragment. */
async function cDevmem(
  c: string,
  release: 'batched' | 'each',
  binding: RxBinding,
  host: string,
  send: Send,
  count: boolean,
  profile?: ProfileWindow,
): Promise<Sample> {
  const argv = [c, 'recv', '--host', host, '--port', '0', '--expect-id', String(binding.id), '--release', release];
  // A profile takes the window instead of the counts; its owner closes it.
  const counts = count && !profile ? new SyscallWindow() : undefined;
  const win = profile ?? counts;
  try {
    const rx = start(win ? win.wrap(argv) : argv, process.env, PERF_NOTES);
    const r = await received(`C loop (${release})`, rx, send);
    if (r.freed !== r.requested) throw new Error(`C loop (${release}): the kernel freed ${r.freed} of ${r.requested} tokens`);
    return {
      backend: 'devmem',
      bytes: r.bytes!,
      seconds: r.seconds!,
      cpuSeconds: r.cpuSeconds!,
      userSeconds: r.userSeconds!,
      fragments: r.fragments!,
      recvmsgCalls: r.recvmsgCalls!,
      dontneedCalls: r.dontneedCalls!,
      ...(counts ? { syscalls: await counts.counts() } : {}),
    };
  } finally {
    counts?.close();
  }
}

/** Waits until `queue` has no io_uring owner: the kernel unregisters a closed ring's queue shortly after. */
async function queueFree(ifindex: number, queue: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await netdev.getQueue(ifindex, 'rx', queue)).ioUring !== undefined) {
    if (Date.now() > deadline) throw new Error(`queue ${queue} still has an io_uring owner 10 s after the C zcrx loop exited`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The C zcrx loop: registers its queue, receives one connection, exits (which unregisters it). */
async function cZcrx(
  zc: string,
  ifname: string,
  ifindex: number,
  layout: GuestZcrxLayout,
  host: string,
  send: Send,
  count: boolean,
  verify: boolean,
): Promise<Sample & { mismatches: number }> {
  await queueFree(ifindex, layout.cQueue);
  const argv = [
    zc,
    'recv',
    '--ifname',
    ifname,
    '--queue',
    String(layout.cQueue),
    '--host',
    host,
    '--port',
    String(ZCRX_PORT['C zcrx loop']),
    '--area-mib',
    String(layout.areaBytes / 2 ** 20),
    ...(verify ? ['--verify'] : []),
  ];
  const win = count ? new SyscallWindow() : undefined;
  try {
    const rx = start(win ? win.wrap(argv) : argv, process.env, PERF_NOTES);
    const r = await received('C zcrx loop', rx, send);
    if (r.refills !== r.fragments) throw new Error(`C zcrx loop: ${r.refills} of ${r.fragments} buffers returned`);
    return {
      backend: 'zcrx',
      bytes: r.bytes!,
      seconds: r.seconds!,
      cpuSeconds: r.cpuSeconds!,
      userSeconds: r.userSeconds!,
      fragments: r.fragments!,
      recvmsgCalls: 0,
      dontneedCalls: 0,
      enterCalls: r.enterCalls!,
      mismatches: r.mismatches!,
      ...(win ? { syscalls: await win.counts() } : {}),
    };
  } finally {
    win?.close();
  }
}

/**
 * DevmemSocket in this process, on the devmem binding or the zcrx queue;
 * it sums the batches' bytes, as the C loops do not read theirs either.
 */
async function ours(
  via: Pick<ReceiveOptions, 'binding' | 'coalesce'> | Pick<ReceiveOptions, 'zcrx'>,
  host: string,
  port: number,
  send: Send,
  count: boolean,
  profile?: ProfileWindow,
): Promise<Sample> {
  const zq = 'zcrx' in via ? via.zcrx : undefined;
  // A profile takes the window instead of the counts; its owner closes it.
  const counts = count && !profile ? new SyscallWindow() : undefined;
  const win = profile ?? counts;
  try {
    if (win) await win.attach();
    const server = createServer({ host, port, ...via });
    await server.listen();
    const sending = send(server.address()!.port);
    const sock = await server.accept();
    server.close();
    const q0 = zq?.stats();
    win?.enable();
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    let bytes = 0;
    // Batches by size, in powers of two: [1], [2, 3], [4, 7], ...
    const batchSizes: number[] = [];
    for await (const batch of sock) {
      bytes += batch.bytes;
      const i = 31 - Math.clz32(batch.count);
      batchSizes[i] = (batchSizes[i] ?? 0) + 1;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    win?.disable();
    const s = sock.stats();
    const q1 = zq?.stats();
    sock.close();
    await sending;
    const name = zq ? 'DevmemSocket (zcrx)' : 'coalesce' in via ? 'DevmemSocket, coalesce' : 'DevmemSocket';
    if (s.releasedTokens !== s.fragments - s.outstandingTokens)
      throw new Error(`${name}: ${s.releasedTokens} of ${s.fragments} buffers freed`);
    const base = {
      bytes,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      userSeconds: cpu.user / 1e6,
      fragments: s.fragments,
      batches: s.batches,
      coalesceWaits: s.coalesceWaits,
      batchSizes: Array.from(batchSizes, (n) => n ?? 0),
      ...(counts ? { syscalls: await counts.counts() } : {}),
    };
    if (!zq) return { ...base, backend: 'devmem', recvmsgCalls: s.recvmsgCalls, dontneedCalls: s.dontneedCalls };
    // The socket's recvmsg and DONTNEED counters are synthetic under zcrx
    // (completion batches and refill-ring publications): no such calls happen.
    return {
      ...base,
      backend: 'zcrx',
      recvmsgCalls: 0,
      dontneedCalls: 0,
      pumps: q1!.pumps - q0!.pumps,
      copiedBytes: s.copiedBytes,
    };
  } finally {
    counts?.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

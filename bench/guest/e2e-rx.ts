/**
 * End-to-end receive benchmark inside the guest lab (run by
 * `npm run test:vm -- --bench`, in netns nsa): the patched netdevsim with
 * header split on and a udmabuf bound to every local queue, the C sender in
 * the remote netns, and in turn three receivers on the same binding: the C
 * recvmsg loop returning tokens in coalesced batches, our DevmemSocket (in
 * this process), and the C loop returning one token per call as ncdevmem does.
 *
 * Before that, the start-up of `devmem nc -l` as the kernel's selftests see
 * it: from exec to a listening socket in /proc/net/tcp (their
 * wait_port_listen() gives it 5 s), split into phases by the --json events'
 * timeline, beside `node -e 0`, the floor any Node CLI pays.
 *
 * Usage: e2e-rx.ts [--runs N] [--bytes N] [--dmabuf-mib N] [--memory KIND[:ARG]] --out FILE
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';

import { bindRx, createServer, ethtool, type RxBinding, type SocketStats } from '../../lib/index';
import { allocMemory, describeBuffer, parseMemory } from '../../bin/memory';
import { packageRoot } from '../../lib/internal';
import { e2eEnv } from '../../test/e2e/helpers/env';
import { remoteArgv } from '../../test/e2e/helpers/remote';
import { buildCReference } from '../c-reference';
import type { StartupSample } from '../guest';
import { start } from '../child';

/** One run; the receive counters are the socket's own (SocketStats). */
interface Sample extends Pick<SocketStats, 'fragments' | 'recvmsgCalls' | 'dontneedCalls'> {
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  /** User-mode part of cpuSeconds: JS, V8 and the addon for ours, the parse loop for C. */
  userSeconds: number;
}

const RECEIVERS = ['C recvmsg loop', 'DevmemSocket', 'C, one DONTNEED per fragment'] as const;

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
      out: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const bytes = Number(values.bytes);
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
  const saved = await ethtool.getRings(env.ifLocal);
  await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
  const dmabuf = allocMemory(parseMemory(values.memory), Number(values['dmabuf-mib']) * 2 ** 20);
  console.log(`bench memory: ${JSON.stringify(describeBuffer(dmabuf))}`);
  const binding = await bindRx(
    env.ifLocal,
    Array.from({ length: env.queues }, (_, i) => i),
    dmabuf,
  );
  const samples: Record<string, Sample[]> = Object.fromEntries(RECEIVERS.map((r) => [r, []]));
  const send = (port: number) =>
    start(remoteArgv([c, 'send', '--host', env.addr4Local, '--port', String(port), '--bytes', String(bytes)])).result;
  try {
    for (let run = 0; run < runs; run++) {
      for (const name of RECEIVERS) {
        const s =
          name === 'DevmemSocket' ? await ours(binding, env.addr4Local, send) : await theirs(c, name, binding, env.addr4Local, send);
        if (s.bytes !== bytes) throw new Error(`${name} received ${s.bytes} bytes, ${bytes} were sent`);
        samples[name]!.push(s);
        console.log(
          `bench run ${run + 1}/${runs}: ${name}: ${(s.bytes / s.seconds / 2 ** 20).toFixed(1)} MiB/s, CPU ${s.cpuSeconds.toFixed(2)} s ` +
            `(user ${s.userSeconds.toFixed(2)} s), ${s.dontneedCalls} DONTNEED calls, ${s.recvmsgCalls} recvmsg calls`,
        );
      }
    }
  } finally {
    binding.close();
    dmabuf.close();
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: saved.tcpDataSplit ?? 'unknown', hdsThresh: saved.hdsThresh ?? 0 });
  }
  const report = { kernel: env.kernel, bytes, runs, samples, startups };
  if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(report)}\n`);
}

async function theirs(
  c: string,
  name: string,
  binding: RxBinding,
  host: string,
  send: (port: number) => Promise<unknown>,
): Promise<Sample> {
  const release = name === 'C recvmsg loop' ? 'batched' : 'each';
  const rx = start([c, 'recv', '--host', host, '--port', '0', '--expect-id', String(binding.id), '--release', release]);
  const [r] = await Promise.all([rx.result, send(await rx.port)]);
  if (r.freed !== r.requested) throw new Error(`${name}: the kernel freed ${r.freed} of ${r.requested} tokens`);
  return r as unknown as Sample;
}

async function ours(binding: RxBinding, host: string, send: (port: number) => Promise<unknown>): Promise<Sample> {
  const server = createServer({ host, port: 0, binding });
  await server.listen();
  const sending = send(server.address()!.port);
  const sock = await server.accept();
  server.close();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let bytes = 0;
  for await (const batch of sock) bytes += batch.bytes;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const s = sock.stats();
  sock.close();
  await sending;
  if (s.releasedTokens !== s.fragments - s.outstandingTokens)
    throw new Error(`DevmemSocket: ${s.releasedTokens} of ${s.fragments} tokens freed`);
  return {
    bytes,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    userSeconds: cpu.user / 1e6,
    fragments: s.fragments,
    recvmsgCalls: s.recvmsgCalls,
    dontneedCalls: s.dontneedCalls,
  };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

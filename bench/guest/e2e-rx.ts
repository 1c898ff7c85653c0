/**
 * End-to-end receive benchmark inside the guest lab (run by
 * `npm run test:vm -- --bench`, in netns nsa): the patched netdevsim with
 * header split on and a udmabuf bound to every local queue, the C sender in
 * the remote netns, and in turn three receivers on the same binding: the C
 * recvmsg loop returning tokens in coalesced batches, our DevmemSocket (in
 * this process), and the C loop returning one token per call as ncdevmem does.
 *
 * Usage: e2e-rx.ts [--runs N] [--bytes N] [--dmabuf-mib N] --out FILE
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

import { allocUdmabuf, bindRx, createServer, ethtool, type RxBinding } from '../../lib/index';
import { e2eEnv } from '../../test/e2e/helpers/env';
import { remoteArgv } from '../../test/e2e/helpers/remote';
import { buildCReference } from '../c-reference';
import { start } from '../child';

interface Sample {
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  /** User-mode part of cpuSeconds: JS, V8 and the addon for ours, the parse loop for C. */
  userSeconds: number;
  fragments: number;
  recvmsgCalls: number;
  dontneedCalls: number;
}

const RECEIVERS = ['C recvmsg loop', 'DevmemSocket', 'C, one DONTNEED per fragment'] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      bytes: { type: 'string', default: String(32 * 2 ** 20) },
      'dmabuf-mib': { type: 'string', default: '16' },
      out: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const bytes = Number(values.bytes);
  const env = e2eEnv();
  const c = buildCReference();
  const saved = await ethtool.getRings(env.ifLocal);
  await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
  const dmabuf = allocUdmabuf(Number(values['dmabuf-mib']) * 2 ** 20);
  const binding = await bindRx(env.ifLocal, Array.from({ length: env.queues }, (_, i) => i), dmabuf);
  const samples: Record<string, Sample[]> = Object.fromEntries(RECEIVERS.map((r) => [r, []]));
  const send = (port: number) => start(remoteArgv([c, 'send', '--host', env.addr4Local, '--port', String(port), '--bytes', String(bytes)])).result;
  try {
    for (let run = 0; run < runs; run++) {
      for (const name of RECEIVERS) {
        const s = name === 'DevmemSocket' ? await ours(binding, env.addr4Local, send) : await theirs(c, name, binding, env.addr4Local, send);
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
  const report = { kernel: env.kernel, bytes, runs, samples };
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
  if (s.releasedTokens !== s.fragments - s.outstandingTokens) throw new Error(`DevmemSocket: ${s.releasedTokens} of ${s.fragments} tokens freed`);
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

/**
 * `devmem nc -l`: ncdevmem's server. NIC set-up (unless -n), bind-rx, accept
 * one connection, receive into the dma-buf until the peer closes, validating
 * the pattern (-v) or writing the payload to stdout.
 */
import { once } from 'node:events';

import { createServer, DevmemError, ethtool, NicConfig } from '../../lib/index';
import { allocNcBuffer, describeBuffer } from './buffer';
import type { NcOptions } from './options';
import { queuesGiven, resolveQueues } from './options';
import { fail, ok, type Outcome } from './outcome';
import { PatternValidator } from './pattern';
import type { Reporter } from './reporter';

export async function runRx(o: NcOptions, r: Reporter): Promise<Outcome> {
  const server = o.server!;
  const port = o.port!;
  // With -n and -t/-q nothing needs the channel count, and a netkit guest or a
  // leased queue has none (see docs/kernel-notes.md#netkit-and-leased-queues-have-no-channels).
  const rxQueues = o.skipConfig && queuesGiven(o) ? undefined : ethtool.rxChannelCount(await ethtool.getChannels(o.iface));
  const { start, count } = resolveQueues(o, rxQueues);
  const queues = Array.from({ length: count }, (_, i) => start + i);
  r.log(`using queues ${start}..${start + count - 1}`);

  const nic = o.dryRun
    ? await NicConfig.open(o.iface, { dryRun: true, onStep: (s) => r.step(s) })
    : await NicConfig.open(o.iface, { onStep: (s) => r.step(s) });
  try {
    if (!o.skipConfig) {
      await nic.enableHeaderSplit();
      try {
        await nic.isolateQueues(start);
      } catch (e) {
        // Without an RSS table nothing can be kept off the devmem queues, but the
        // steered flow still works; unrelated flows landing there fail loudly.
        if (!(e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED')) throw e;
        r.log(`warning: RSS isolation skipped, ${o.iface} has no RSS table (${e.code}); other flows may reach queue ${start}`);
      }
      const steer = { serverIp: server, port, queue: start, ...(o.client ? { clientIp: o.client } : {}) };
      await nic.steerFlow(steer);
    }
    if (nic.dryRun) {
      nic.planBindRx(queues);
      r.log(`plan: listen on ${server} port ${port}, accept one connection and receive`);
      return ok('dry run: nothing was changed');
    }
    return await receive(o, r, nic, queues, server, port);
  } finally {
    nic.close();
  }
}

async function receive(o: NcOptions, r: Reporter, nic: NicConfig, queues: number[], host: string, port: number): Promise<Outcome> {
  const dmabuf = allocNcBuffer(o.memory, o.rxPageSize);
  try {
    const binding = await nic.bindRx(queues, dmabuf, o.rxPageSize === undefined ? {} : { rxPageSize: o.rxPageSize });
    r.log(`got dmabuf id=${binding.id}`);
    r.event('bound', { dmabufId: binding.id, queues, dmabufSize: dmabuf.size, memory: describeBuffer(dmabuf) });

    const srv = createServer({ host, port, reusePort: true, binding, dmabuf, linear: o.failOnLinear ? 'error' : 'accept' });
    const addr = await srv.listen();
    r.log(`waiting for a connection on ${addr.address} port ${addr.port}`);
    r.event('listening', { address: addr.address, port: addr.port });
    const sock = await srv.accept().finally(() => srv.close());
    const peer = sock.remoteAddress();
    r.log(`got connection from ${peer?.address} port ${peer?.port}`);
    r.event('connection', { peer });

    const validator = o.validate === undefined ? undefined : new PatternValidator(o.validate);
    let scratch = Buffer.allocUnsafe(0);
    let pageAligned = 0;
    let unaligned = 0;
    try {
      for await (const batch of sock) {
        if (batch.bytes > scratch.length) scratch = Buffer.allocUnsafe(Math.max(batch.bytes, scratch.length * 2));
        const data = batch.copyOut(dmabuf, scratch).subarray(0, batch.bytes);
        for (let i = 0; i < batch.count; i++) {
          if (batch.kinds[i] !== 0) continue;
          if (batch.sizes[i]! % 4096 === 0) pageAligned++;
          else unaligned++;
        }
        if (batch.linearBytes > 0) r.log(`received ${batch.linearBytes} linear bytes (SCM_DEVMEM_LINEAR)`);
        if (validator) {
          for (const m of validator.check(data)) {
            r.log(`pattern mismatch at byte ${m.position}: expected 0x${m.expected.toString(16)}, got 0x${m.actual.toString(16)}`);
            r.event('mismatch', { ...m });
          }
          if (validator.mismatches > 20) return fail(`more than 20 bytes differ from the -v ${o.validate} pattern`);
        } else if (!o.json) {
          if (!process.stdout.write(Buffer.from(data))) await once(process.stdout, 'drain');
        }
      }
    } finally {
      const s = sock.stats();
      sock.close();
      const summary = {
        bytes: s.bytes,
        fragments: s.fragments,
        dmabufBytes: s.dmabufBytes,
        linearBytes: s.linearBytes,
        pageAlignedFragments: pageAligned,
        unalignedFragments: unaligned,
        dontneedCalls: s.dontneedCalls,
        releasedTokens: s.releasedTokens,
        memory: describeBuffer(dmabuf),
      };
      r.log(`client exited: ${s.bytes} bytes, ${s.fragments} fragments (${pageAligned} page-aligned), ${s.dontneedCalls} DONTNEED calls`);
      r.event('received', summary);
    }
    if (validator && validator.mismatches > 0) return fail(`${validator.mismatches} byte(s) differ from the -v ${o.validate} pattern`);
    return ok(validator ? `validated ${validator.position} bytes` : undefined);
  } finally {
    dmabuf.close();
  }
}

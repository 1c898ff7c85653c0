import * as assert from 'node:assert/strict';
import * as dc from 'node:diagnostics_channel';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { allocUdmabuf, bindRx, createServer, type DmaBuf, type FragmentBatch, type RxBinding } from '../../../lib/index';
import { countMismatches } from '../../support/pattern.cjs';
import { allQueues, enableHeaderSplit, receivePattern } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';
import { sendFromRemote } from '../helpers/traffic';
import { verifyPatternStream } from '../helpers/verify-stream';

const env = e2eEnv();
const MiB = 1024 * 1024;
let nextPort = 5201;

describe('devmem receive on the patched netdevsim', function () {
  this.timeout(300_000);
  let restoreRings: () => Promise<void>;

  before(async () => {
    restoreRings = await enableHeaderSplit();
  });
  after(async () => restoreRings());

  async function withBinding<T>(bufSize: number, fn: (b: RxBinding, d: DmaBuf) => Promise<T>): Promise<T> {
    const dmabuf = allocUdmabuf(bufSize);
    const binding = await bindRx(env.ifLocal, allQueues(), dmabuf);
    try {
      return await fn(binding, dmabuf);
    } finally {
      binding.close();
      dmabuf.close();
    }
  }

  it('receives 64 MiB entirely as dma-buf fragments, intact, and returns every token', async () => {
    await withBinding(16 * MiB, async (binding, dmabuf) => {
      const total = 64 * MiB;
      const r = await receivePattern(binding, dmabuf, total, nextPort++);
      const s = r.stats;
      assert.equal(r.bytes, total);
      assert.equal(r.mismatches, 0, 'every byte read through the dma-buf view matches the pattern');
      assert.equal(s.dmabufBytes, total, 'all payload arrived in the dma-buf');
      assert.equal(s.linearBytes + s.hostBytes, 0);
      assert.equal(s.releasedTokens, r.dmabufFragments, 'the kernel freed exactly as many fragments as arrived');
      assert.equal(s.outstandingTokens, 0);
      assert.equal(s.shortReleases, 0);
      assert.ok(
        s.dontneedCalls <= Math.ceil(r.dmabufFragments / 1024) + r.batches,
        `${s.dontneedCalls} DONTNEED calls for ${r.dmabufFragments} fragments in ${r.batches} batches`,
      );
    });
  });

  // Kernel token exhaustion: the held fragments are all the buffers there
  // are, the read stalls, 'starved' reports it, and reading recovers.
  it('stalls without error while a consumer holds the tokens of a 256 KiB dma-buf, reports it, then completes', async () => {
    await withBinding(256 * 1024, async (binding, dmabuf) => {
      const port = nextPort++;
      // A window far below the 64 buffers, so out-of-order segments cannot
      // take the last buffer the missing in-order segment needs.
      const server = createServer({
        host: env.addr4Local,
        port,
        binding,
        dmabuf,
        release: 'manual',
        receiveBufferSize: 16 * 1024,
        starvationTimeout: 500,
      });
      await server.listen();
      const total = MiB;
      const sending = sendFromRemote(env.addr4Local, port, total);
      const sock = await server.accept();
      // A sender that gives up (its TCP timed out during the stall) sends
      // nothing more, not even a reset the starved queue could take: fail
      // with its error rather than wait for the test timeout.
      let senderError: unknown;
      sending.catch((e: unknown) => {
        senderError = e;
        sock.close();
      });
      const starved: { outstandingBytes: number }[] = [];
      sock.on('starved', (info: { outstandingBytes: number }) => starved.push(info));
      // The same reports on their own diagnostics channel.
      const published: { socket: unknown; outstandingBytes: number }[] = [];
      const onStarved = (m: unknown) => published.push(m as { socket: unknown; outstandingBytes: number });
      dc.subscribe('devmem-tcp:rx:starved', onStarved);
      const held: FragmentBatch[] = [];
      let pos = 0;
      let bad = 0;
      // Reads until nothing arrives for quietMs; returns the read still
      // pending then (wrapped: an async function would adopt the promise).
      const receiveUntilQuiet = async (quietMs: number): Promise<{ next: Promise<FragmentBatch | null> } | null> => {
        for (;;) {
          const next = sock.read();
          const timeout = new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), quietMs));
          const b = await Promise.race([next, timeout]);
          if (b === 'quiet') return { next };
          if (b === null) return null;
          const data = b.copyOut(dmabuf);
          bad += countMismatches(data, pos);
          pos += data.length;
          held.push(b);
        }
      };
      try {
        const stalled = await receiveUntilQuiet(1000);
        assert.ok(stalled !== null, 'the stream stalled before its end');
        assert.ok(pos < total, `stalled after ${pos} bytes`);
        assert.ok(sock.stats().outstandingBytes <= 256 * 1024);
        assert.equal(sock.closed, false, 'a stall is not an error');
        assert.ok(starved.length >= 1, "the stall was reported with 'starved'");
        assert.ok(starved[0]!.outstandingBytes > 0);
        assert.ok(
          published.some((m) => m.socket === sock && m.outstandingBytes === starved[0]!.outstandingBytes),
          'devmem-tcp:rx:starved',
        );
        dc.unsubscribe('devmem-tcp:rx:starved', onStarved);
        for (const b of held.splice(0)) b.release();
        // Now drain to the end, releasing as we go.
        let b: FragmentBatch | null = await stalled.next;
        while (b) {
          const data = b.copyOut(dmabuf);
          bad += countMismatches(data, pos);
          pos += data.length;
          b.release();
          b = await sock.read();
        }
      } catch (e) {
        throw senderError ?? e;
      }
      sock.close();
      server.close();
      await sending;
      assert.equal(pos, total);
      assert.equal(bad, 0);
    });
  });

  it('stops reading at maxOutstandingFragments, reports the stall, and resumes on release', async () => {
    await withBinding(16 * MiB, async (binding, dmabuf) => {
      const port = nextPort++;
      const limit = 32;
      const server = createServer({ host: env.addr4Local, port, binding, dmabuf, release: 'manual', maxOutstandingFragments: limit });
      await server.listen();
      const total = 4 * MiB;
      const sending = sendFromRemote(env.addr4Local, port, total);
      const sock = await server.accept();
      let stalls = 0;
      const stalled = new Promise<'stall'>((resolve) =>
        sock.on('stall', () => {
          stalls++;
          resolve('stall');
        }),
      );
      const held: FragmentBatch[] = [];
      let pos = 0;
      let bad = 0;
      // Hold everything until the socket stops reading. The stall comes after
      // the batch that crossed the limit, so race each read against it.
      let next = sock.read();
      for (;;) {
        const b = await Promise.race([next, stalled]);
        if (b === 'stall') break;
        assert.ok(b, 'the stream did not end before the stall');
        bad += countMismatches(b.copyOut(dmabuf), pos);
        pos += b.bytes;
        held.push(b);
        next = sock.read();
      }
      const atStall = sock.stats();
      assert.ok(atStall.outstandingTokens >= limit, `stopped with ${atStall.outstandingTokens} outstanding`);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(sock.stats().recvmsgCalls, atStall.recvmsgCalls, 'no recvmsg while over the limit');
      for (const b of held.splice(0)) b.release();
      for (let b = await next; b; b = await sock.read()) {
        bad += countMismatches(b.copyOut(dmabuf), pos);
        pos += b.bytes;
        b.release();
      }
      const s = sock.stats();
      sock.close();
      server.close();
      await sending;
      assert.equal(pos, total);
      assert.equal(bad, 0);
      assert.ok(stalls >= 1);
      assert.equal(s.stalls, stalls, "every native stall reached JS as a 'stall' event");
      assert.equal(s.releasedTokens, s.fragments, 'nothing was dropped or leaked');
    });
  });

  // A drain ends at a short recvmsg without asking again, and paused reading
  // stops polling: what the kernel queued meanwhile, the FIN included, must
  // come from level-triggered readiness once reading resumes.
  it('backpressure: paused at every batch (highWaterMark 1), every byte arrives intact and then EOF', async () => {
    await withBinding(16 * MiB, async (binding, dmabuf) => {
      const port = nextPort++;
      const server = createServer({ host: env.addr4Local, port, binding, dmabuf, highWaterMark: 1 });
      await server.listen();
      const total = 8 * MiB + 4321;
      const sending = sendFromRemote(env.addr4Local, port, total);
      const sock = await server.accept();
      let pos = 0;
      let bad = 0;
      let batches = 0;
      const hold = () => new Promise((r) => setTimeout(r, 300)); // nobody reads: the socket stays paused
      await hold();
      for (let b = await sock.read(); b; b = await sock.read()) {
        bad += countMismatches(b.copyOut(dmabuf), pos);
        pos += b.bytes;
        b.release();
        if (++batches % 8 === 0) await hold();
        else await new Promise(setImmediate);
      }
      const s = sock.stats();
      assert.equal(await sock.read(), null, 'EOF stays EOF');
      sock.close();
      server.close();
      await sending;
      assert.equal(pos, total, 'every byte arrived before EOF');
      assert.equal(bad, 0);
      assert.equal(s.bytes, total);
      assert.equal(s.releasedTokens, s.fragments, 'every token went back');
      assert.ok(s.dmabufBytes > 0, 'the stream came through the dma-buf');
    });
  });

  it('receives four parallel flows spread over four bound queues', async () => {
    await withBinding(32 * MiB, async (binding, dmabuf) => {
      const port = nextPort++;
      const server = createServer({ host: env.addr4Local, port, binding, dmabuf });
      await server.listen();
      const per = 8 * MiB;
      const sending = sendFromRemote(env.addr4Local, port, per, { connections: 4 });
      const results = await Promise.all(
        [0, 1, 2, 3].map(async () => {
          const sock = await server.accept();
          const { bytes: pos, mismatches: bad } = await verifyPatternStream(sock, dmabuf);
          const s = sock.stats();
          sock.close();
          return { pos, bad, dmabufBytes: s.dmabufBytes };
        }),
      );
      await sending;
      server.close();
      for (const r of results) assert.deepEqual(r, { pos: per, bad: 0, dmabufBytes: per });
    });
  });

  it('receives in a worker thread', async () => {
    const port = nextPort++;
    // tsx's loader hooks do not reach a worker's entry module, so the worker
    // registers tsx's require hook itself before loading the TypeScript file.
    const entry = path.join(__dirname, '../fixtures/worker-receiver.ts');
    const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, {
      eval: true,
      workerData: { ifname: env.ifLocal, queues: allQueues(), host: env.addr4Local, port },
    });
    const messages: Record<string, unknown>[] = [];
    const done = new Promise<Record<string, unknown>>((resolve, reject) => {
      worker.on('message', (m: Record<string, unknown>) => {
        messages.push(m);
        if (m.listening) sendFromRemote(env.addr4Local, port, 8 * MiB).catch(reject);
        else resolve(m);
      });
      worker.on('error', reject);
    });
    const result = await done;
    await worker.terminate();
    assert.deepEqual(result, { bytes: 8 * MiB, mismatches: 0, dmabufBytes: 8 * MiB });
  });
});

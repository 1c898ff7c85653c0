import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { connect, createServer, listLinks, netdev, type DevmemSocket } from '../../lib/index';
import { checkRss, fdsSettle, gc, measure, openFds } from '../support/leak-meter';

const MiB = 1024 * 1024;
// Generous: a leak of a few KiB per cycle over 1000 cycles still exceeds it.
const RSS_BOUND = 24 * MiB;

function report(what: string, m: { fdDelta: number; rssDelta: number }): void {
  console.log(`      ${what}: fd delta ${m.fdDelta}, RSS delta ${(m.rssDelta / 1024).toFixed(0)} KiB`);
}

describe('leaks and lifetimes (host kernel)', function () {
  this.timeout(180_000);

  it('1000 netlink queries leave the fd count and RSS flat', async () => {
    const m = await measure(1000, async (i) => {
      if (i % 2) await netdev.listQueues(1);
      else await listLinks();
    });
    report('netlink', m);
    assert.equal(m.fdDelta, 0);
    checkRss(m.rssDelta, RSS_BOUND);
  });

  it('1000 failing netlink requests (kernel errors with extack) leave them flat too', async () => {
    const m = await measure(1000, async () => {
      await netdev.getQueue(1, 'rx', 4242).then(
        () => assert.fail('queue 4242 of lo exists'),
        () => undefined,
      );
    });
    report('netlink errors', m);
    assert.equal(m.fdDelta, 0);
    checkRss(m.rssDelta, RSS_BOUND);
  });

  it('1000 socket open/transfer/close cycles leave the fd count and RSS flat', async () => {
    const server = createServer({ host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    const data = Buffer.alloc(16 * 1024, 1);
    const m = await measure(1000, async () => {
      const client = await connect({ host: '127.0.0.1', port });
      const peer = await server.accept();
      await client.write(data);
      let got = 0;
      while (got < data.length) got += (await peer.read())!.bytes;
      client.close();
      peer.close();
    });
    server.close();
    report('sockets', m);
    assert.ok(m.fdDelta <= 0, `${m.fdDelta} fds more`);
    checkRss(m.rssDelta, RSS_BOUND);
  });

  it('1000 server listen/close cycles leave the fd count flat', async () => {
    const m = await measure(1000, async () => {
      const s = createServer({ host: '127.0.0.1', port: 0 });
      await s.listen();
      s.close();
    });
    report('servers', m);
    assert.ok(m.fdDelta <= 0, `${m.fdDelta} fds more`);
    checkRss(m.rssDelta, RSS_BOUND);
  });

  it("1000 cycles closing sockets that hold borrowed (linearLifetime 'batch') batches leave them flat", async () => {
    const server = createServer({ host: '127.0.0.1', port: 0, linearLifetime: 'batch', release: 'manual' });
    const { port } = await server.listen();
    // Large enough that batches are lent whole receive blocks, not copies.
    const data = Buffer.alloc(1 * MiB, 1);
    const m = await measure(1000, async () => {
      const client = await connect({ host: '127.0.0.1', port });
      const peer = await server.accept();
      await client.write(data);
      const held = [];
      let got = 0;
      while (got < data.length) {
        const b = (await peer.read())!;
        got += b.bytes;
        held.push(b);
      }
      client.close();
      peer.close();
      assert.ok(held.every((b) => b.linear.length === 0));
    });
    server.close();
    report('borrowed', m);
    assert.ok(m.fdDelta <= 0, `${m.fdDelta} fds more`);
    checkRss(m.rssDelta, RSS_BOUND);
  });

  for (const borrowed of [false, true])
    it(`worker threads terminated in the middle of a transfer leave no fd behind${borrowed ? ', holding borrowed batches' : ''}`, async () => {
      const entry = path.join(__dirname, 'fixtures/stream-worker.ts');
      const before = openFds();
      for (let i = 0; i < 5; i++) {
        const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true, workerData: { borrowed } });
        const msg = await new Promise<Record<string, unknown>>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        assert.equal(msg.streaming, true, JSON.stringify(msg));
        await worker.terminate();
      }
      assert.equal(await fdsSettle(before), before, 'every socket fd of the workers was closed');
    });

  it('sockets in use survive GC with no reference but the read loop', async () => {
    const server = createServer({ host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    const total = 8 * MiB;
    // Neither socket is referenced from here: only the consumer's loop and
    // the writer's closure hold them.
    const consumed = (async () => {
      let n = 0;
      for await (const b of await server.accept()) n += b.bytes;
      return n;
    })();
    const writer = (async () => {
      const c: DevmemSocket = await connect({ host: '127.0.0.1', port });
      const chunk = Buffer.alloc(MiB, 3);
      for (let sent = 0; sent < total; sent += chunk.length) {
        await c.write(chunk);
        gc();
        await new Promise((r) => setImmediate(r));
      }
      c.end();
      // Closing is the writer's last act; until then GC must not take it.
      await new Promise((r) => setTimeout(r, 100));
      gc();
      c.close();
    })();
    await writer;
    assert.equal(await consumed, total);
    server.close();
  });

  it('the process exits by itself once everything is closed', () => {
    const lib = JSON.stringify(path.resolve(__dirname, '../../lib/index.ts'));
    const script = `
      const { connect, createServer, netdev, listLinks } = require(${lib});
      (async () => {
        await netdev.listQueues(1);
        await listLinks();
        const s = createServer({ host: '127.0.0.1', port: 0 });
        const { port } = await s.listen();
        const c = await connect({ host: '127.0.0.1', port });
        const p = await s.accept();
        await c.write(Buffer.from('bye'));
        await p.read();
        const pending = p.read().catch(() => 'closed');
        const ac = new AbortController();
        const acc = s.accept({ signal: ac.signal }).catch(() => 'aborted');
        ac.abort();
        await acc;
        c.close();
        p.close();
        s.close();
        console.log(await pending);
      })();`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const secs = (Date.now() - t0) / 1000;
    assert.equal(r.status, 0, `exit ${r.status ?? r.signal}: ${r.stderr}`);
    assert.match(r.stdout, /closed/);
    // tsx start-up included; a handle left open would hang until the timeout.
    assert.ok(secs < 20, `took ${secs} s`);
  });
});

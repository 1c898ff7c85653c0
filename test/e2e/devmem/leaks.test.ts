import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { allocUdmabuf, bindRx, bindTx, netdev } from '../../../lib/index';
import { native } from '../../../lib/native';
import { checkRss, fdsSettle, measure, openFds } from '../../support/leak-meter';
import { allQueues, enableHeaderSplit } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';
import { sendFromRemote } from '../helpers/traffic';

const env = e2eEnv();
const MiB = 1024 * 1024;
const RSS_BOUND = 32 * MiB;

async function boundQueues(): Promise<number[]> {
  return (await netdev.listQueues(env.ifindexLocal)).filter((q) => q.type === 'rx' && q.dmabuf !== undefined).map((q) => q.id);
}

function report(what: string, m: { fdDelta: number; rssDelta: number }): void {
  console.log(`      ${what}: fd delta ${m.fdDelta}, RSS delta ${(m.rssDelta / 1024).toFixed(0)} KiB`);
}

describe('leaks and lifetimes on the patched netdevsim', function () {
  this.timeout(600_000);
  let restoreRings: () => Promise<void>;

  before(async () => {
    restoreRings = await enableHeaderSplit();
  });
  after(async () => restoreRings());

  it('1000 dma-buf allocate/map/write/close cycles leave the fd count and RSS flat', async () => {
    const data = Buffer.alloc(4096, 9);
    const m = await measure(1000, () => {
      const d = allocUdmabuf(64 * 1024);
      d.write(60 * 1024, data);
      assert.equal(d.read(60 * 1024, 1)[0], 9);
      d.close();
    });
    report('dma-bufs', m);
    assert.equal(m.fdDelta, 0);
    checkRss(m.rssDelta, RSS_BOUND);
  });

  it('1000 bind-rx/bind-tx/close cycles leave the fd count and RSS flat, and nothing bound', async () => {
    const buf = allocUdmabuf(4 * MiB);
    try {
      const m = await measure(1000, async (i) => {
        const b = i % 2 ? await bindRx(env.ifLocal, [1, 2], buf) : await bindTx(env.ifLocal, buf);
        b.close();
      });
      report('bindings', m);
      assert.equal(m.fdDelta, 0);
      checkRss(m.rssDelta, RSS_BOUND);
      assert.deepEqual(await boundQueues(), []);
    } finally {
      buf.close();
    }
  });

  it('10,000 bind/close cycles leave nothing on the list of bindings that teardown closes', async () => {
    // Each environment keeps its open bindings' sockets to close them at
    // teardown; a closed binding must leave that list, or it grows forever.
    const buf = allocUdmabuf(4 * MiB);
    const tracked = () => native().testing.trackedBindings();
    const base = tracked();
    try {
      for (let i = 0; i < 10_000; i++) {
        const b = native().bindSync('bind-tx', { ifindex: env.ifindexLocal, fd: buf.fd });
        if (i === 0) assert.equal(tracked(), base + 1, 'an open binding is tracked');
        b.close();
      }
      assert.equal(tracked(), base);
      // The same through the public API, RX and TX.
      for (let i = 0; i < 100; i++) {
        const b = i % 2 ? await bindRx(env.ifLocal, [1], buf) : await bindTx(env.ifLocal, buf);
        b.close();
      }
      assert.equal(tracked(), base);
    } finally {
      buf.close();
    }
  });

  it('a binding survives GC with no reference left, and the kernel unbinds when its process exits', async () => {
    const root = path.resolve(__dirname, '../../..');
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', path.join(__dirname, '../fixtures/gc-binding.ts'), env.ifLocal, String(env.ifindexLocal), '3'],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    const r = JSON.parse(out.trim().split('\n').pop()!) as { id: number; boundAfterGc?: number };
    assert.equal(r.boundAfterGc, r.id, 'queue 3 is still bound after GC');
    let bound = await boundQueues();
    for (let i = 0; i < 50 && bound.includes(3); i++) {
      await new Promise((res) => setTimeout(res, 100));
      bound = await boundQueues();
    }
    assert.equal(bound.includes(3), false);
  });

  it('a worker terminated in the middle of a transfer leaves no fd and no binding behind', async () => {
    const before = openFds();
    const port = 5601;
    const entry = path.join(__dirname, '../fixtures/worker-stream.ts');
    const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, {
      eval: true,
      workerData: { ifname: env.ifLocal, queues: allQueues(), host: env.addr4Local, port },
    });
    const sending = sendFromRemote(env.addr4Local, port, 512 * MiB).catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: Record<string, unknown>) => {
        if (m.error) reject(new Error(String(m.error)));
        if (m.streaming) resolve();
      });
      worker.once('error', reject);
    });
    assert.ok((await boundQueues()).length > 0, 'the worker is bound while streaming');
    await worker.terminate();
    assert.equal(await fdsSettle(before), before, 'the worker closed its sockets, netlink sockets and dma-buf');
    assert.deepEqual(await boundQueues(), [], "the worker's binding is gone with it");
    await sending;
  });
});

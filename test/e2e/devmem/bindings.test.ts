import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { allocUdmabuf, bindRx, bindTx, DevmemError, ethtool, netdev, type DmaBuf } from '../../../lib/index';
import { start } from '../../support/process';
import { saveRings } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';

const env = e2eEnv();
const MiB = 1024 * 1024;

async function boundQueues(): Promise<Map<number, number>> {
  const qs = await netdev.listQueues(env.ifindexLocal);
  return new Map(qs.filter((q) => q.type === 'rx' && q.dmabuf !== undefined).map((q) => [q.id, q.dmabuf!]));
}

const reason = (r: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof DevmemError, String(e));
  assert.equal(e.reason, r, e.message);
  if (message) assert.match(e.extack?.message ?? '', message);
  return true;
};

describe('bindings on the patched netdevsim', function () {
  this.timeout(60_000);
  let restoreRings: () => Promise<void>;
  let buf: DmaBuf;

  before(async () => {
    restoreRings = await saveRings();
    buf = allocUdmabuf(8 * MiB);
  });
  after(async () => {
    buf.close();
    await restoreRings();
  });

  it('queue-get and page-pool-get dumps show the real queues and pools', async () => {
    const qs = await netdev.listQueues(env.ifindexLocal);
    assert.equal(qs.filter((q) => q.type === 'rx').length, env.queues);
    assert.equal(qs.filter((q) => q.type === 'tx').length, env.queues);
    for (const q of qs.filter((x) => x.type === 'rx')) assert.ok(q.napiId! > 0, `rx queue ${q.id} has a NAPI id`);
    const pools = await netdev.listPagePools(env.ifindexLocal);
    assert.ok(pools.length >= env.queues, `${pools.length} page pools`);
    const napis = new Set(qs.map((q) => q.napiId));
    assert.ok(
      pools.some((p) => napis.has(Number(p.napiId))),
      'pools belong to the queues NAPI instances',
    );
  });

  it("sets tcp-data-split through ethtool netlink (which bookworm's ethtool cannot)", async () => {
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
    const r = await ethtool.getRings(env.ifLocal);
    assert.equal(r.tcpDataSplit, 'enabled');
    assert.equal(r.hdsThresh, 0);
  });

  it('refuses to bind with header split left unset: HEADER_SPLIT_DISABLED', async () => {
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'unknown' });
    try {
      await assert.rejects(bindRx(env.ifLocal, [1], buf), reason('HEADER_SPLIT_DISABLED', /tcp-data-split is disabled/));
    } finally {
      await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
    }
  });

  it('refuses a non-zero hds-thresh: HDS_THRESHOLD_NONZERO', async () => {
    await ethtool.setRings(env.ifLocal, { hdsThresh: 100 });
    try {
      await assert.rejects(bindRx(env.ifLocal, [1], buf), reason('HDS_THRESHOLD_NONZERO', /hds-thresh is not zero/));
    } finally {
      await ethtool.setRings(env.ifLocal, { hdsThresh: 0 });
    }
  });

  it('binds, shows the id on the queue and its page pool, refuses a second bind, and unbinds on close', async () => {
    const b = await bindRx(env.ifLocal, [1], buf);
    try {
      assert.ok(b.id >= 1);
      assert.deepEqual(b.queues, [1]);
      assert.equal(b.ifindex, env.ifindexLocal);
      assert.equal((await boundQueues()).get(1), b.id);
      const pools = await netdev.listPagePools(env.ifindexLocal);
      assert.ok(
        pools.some((p) => p.dmabuf === b.id),
        'a page pool takes memory from the binding',
      );

      await assert.rejects(bindRx(env.ifLocal, [1], buf), reason('QUEUE_BUSY', /designated queue already memory provider bound/));
    } finally {
      b.close();
    }
    assert.equal(b.closed, true);
    assert.equal((await boundQueues()).has(1), false, 'queue-get no longer shows the binding');
    const again = await bindRx(env.ifLocal, [1], buf);
    assert.equal((await boundQueues()).get(1), again.id);
    again.close();
    again.close(); // idempotent
  });

  it('binds several queues in one request', async () => {
    const qs = Array.from({ length: env.queues - 1 }, (_, i) => i + 1);
    const b = await bindRx(env.ifLocal, qs, buf);
    try {
      const bound = await boundQueues();
      for (const q of qs) assert.equal(bound.get(q), b.id);
      assert.equal(bound.has(0), false);
    } finally {
      b.close();
    }
  });

  it('maps a non-dma-buf fd to NOT_A_DMABUF', async () => {
    const fd = fs.openSync('/proc/self/status', 'r');
    try {
      await assert.rejects(bindRx(env.ifLocal, [1], fd), reason('NOT_A_DMABUF'));
    } finally {
      fs.closeSync(fd);
    }
    assert.equal((await boundQueues()).size, 0, 'nothing half-bound');
  });

  it('maps a queue beyond the device to QUEUE_OUT_OF_RANGE', async () => {
    await assert.rejects(bindRx(env.ifLocal, [env.queues + 5], buf), reason('QUEUE_OUT_OF_RANGE'));
  });

  it('unbinds when the owning process is killed with SIGKILL', async () => {
    const root = path.resolve(__dirname, '../../..');
    const child = start([process.execPath, '--import', 'tsx', path.join(__dirname, '../fixtures/hold-binding.ts'), env.ifLocal, '2'], {
      cwd: root,
    });
    await child.waitFor('\n', 'stdout');
    const { id } = JSON.parse(child.stdout.split('\n')[0]!) as { id: number };
    assert.equal((await boundQueues()).get(2), id);
    child.kill('SIGKILL');
    await child.done;
    let bound = await boundQueues();
    for (let i = 0; i < 50 && bound.has(2); i++) {
      await new Promise((r) => setTimeout(r, 100));
      bound = await boundQueues();
    }
    assert.equal(bound.has(2), false, 'the kernel unbound when the netlink socket died with its process');
  });

  it('binds a dma-buf for transmit', async () => {
    const b = await bindTx(env.ifLocal, buf);
    try {
      assert.ok(b.id >= 1);
    } finally {
      b.close();
    }
  });
});

// DRM device memory end to end: vgem (loaded by the guest's init) is a real
// DRM PRIME exporter, so its dumb buffers go through the same dma-buf import
// in the kernel's devmem code as a GPU's would.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { allocDrm, bindRx, bindTx, connect, DevmemError, drmNodes, probe } from '../../../lib/index';
import { pattern } from '../../support/pattern.cjs';
import { allQueues, enableHeaderSplit, receivePattern } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, ncReceive, runNc, startPeer } from '../helpers/nc';
import { startRemote } from '../helpers/remote';

const env = e2eEnv();
const MiB = 1024 * 1024;
const RECV = path.join(__dirname, '../fixtures/recv-check.cjs');
let nextPort = 7201;

function vgemCard(): string {
  const card = drmNodes().find((n) => !n.render && n.driver === 'vgem');
  assert.ok(card, `no vgem card node in ${JSON.stringify(drmNodes())}`);
  return card.path;
}

describe('DRM (vgem) dma-bufs on the patched netdevsim', function () {
  this.timeout(300_000);

  it("lists vgem's card and render nodes; allocDrm makes a vgem dumb buffer exported as a dma-buf", () => {
    const nodes = drmNodes();
    assert.ok(
      nodes.some((n) => !n.render && n.driver === 'vgem' && n.readable),
      JSON.stringify(nodes),
    );
    assert.ok(
      nodes.some((n) => n.render && n.driver === 'vgem'),
      JSON.stringify(nodes),
    );
    const d = allocDrm(4 * MiB);
    try {
      assert.equal(d.kind, 'drm');
      assert.equal(d.driver, 'vgem');
      assert.equal(d.device, vgemCard());
      // Every PRIME export is named "drm" in fdinfo, whatever the driver.
      assert.equal(d.exporter, 'drm');
      assert.equal(d.size, 4 * MiB);
      const info = fs.readFileSync(`/proc/self/fdinfo/${d.fd}`, 'utf8');
      assert.match(info, /exp_name:\s+drm/);
      assert.match(info, new RegExp(`size:\\s+${4 * MiB}`));
    } finally {
      d.close();
    }
  });

  it('rounds a size up to whole 4 KiB rows and reports the real size', () => {
    const d = allocDrm(12 * 1024, { device: vgemCard() });
    try {
      assert.equal(d.size, 12 * 1024);
    } finally {
      d.close();
    }
  });

  it('reads back through the CPU what was written, and fails CLOSED once closed', () => {
    const d = allocDrm(MiB);
    const data = pattern(123, 256 * 1024);
    d.write(4096, data);
    assert.deepEqual(d.read(4096, data.length), data);
    d.map().withView(4096, 16, 'read', (v) => assert.deepEqual(Buffer.from(v), data.subarray(0, 16)));
    d.close();
    assert.throws(
      () => d.read(0, 1),
      (e: unknown) => e instanceof DevmemError && e.reason === 'CLOSED',
    );
  });

  it('refuses a render node, naming the card node beside it', () => {
    const render = drmNodes().find((n) => n.render && n.driver === 'vgem')!;
    assert.throws(
      () => allocDrm(MiB, { device: render.path }),
      (e: unknown) => {
        assert.ok(e instanceof DevmemError, String(e));
        assert.match(e.message, /render nodes cannot create dumb buffers; use the card node \/dev\/dri\/card\d+/);
        return true;
      },
    );
  });

  it('probe lists the DRM nodes', async () => {
    const report = await probe();
    const nodes = report.dmabufSources.drmNodes;
    assert.ok(
      nodes.some((n) => n.driver === 'vgem' && !n.render),
      JSON.stringify(nodes),
    );
  });

  describe('receive and transmit', () => {
    let restoreRings: () => Promise<void>;
    before(async () => {
      restoreRings = await enableHeaderSplit();
    });
    after(async () => restoreRings());

    it('receives 64 MiB into a 16 MiB vgem buffer with bind-rx, intact, and returns every token', async () => {
      const dmabuf = allocDrm(16 * MiB);
      const binding = await bindRx(env.ifLocal, allQueues(), dmabuf);
      try {
        const total = 64 * MiB;
        const r = await receivePattern(binding, dmabuf, total, nextPort++);
        assert.equal(r.bytes, total);
        assert.equal(r.mismatches, 0, 'every byte read back from the vgem buffer matches the pattern');
        assert.equal(r.stats.dmabufBytes, total, 'all payload arrived in the vgem buffer');
        assert.equal(r.stats.releasedTokens, r.fragments);
        assert.equal(r.stats.outstandingTokens, 0);
      } finally {
        binding.close();
        dmabuf.close();
      }
    });

    it('sends 16 MiB from a vgem buffer that arrives intact at a plain receiver', async () => {
      const dmabuf = allocDrm(16 * MiB);
      dmabuf.write(0, pattern(0, 16 * MiB));
      const binding = await bindTx(env.ifLocal, dmabuf);
      try {
        const port = nextPort++;
        const rx = startRemote([process.execPath, RECV, env.addr4Remote, String(port), String(16 * MiB), 'pattern']);
        await rx.ready;
        const sock = await connect({ host: env.addr4Remote, port, bindToDevice: env.ifLocal });
        const r = await sock.sendDmabuf(binding, { offset: 0, length: 16 * MiB });
        assert.equal(r.bytes, 16 * MiB);
        assert.equal(sock.stats().zerocopyPending, 0);
        sock.end();
        assert.deepEqual(await rx.result, { bytes: 16 * MiB, mismatches: 0, first: -1 });
        sock.close();
      } finally {
        binding.close();
        dmabuf.close();
      }
    });
  });

  describe('devmem nc --memory drm', () => {
    checkNicStateKept(env.ifLocal);

    it('check_rx: -v 7 validates the pattern received into a vgem buffer', async () => {
      const send = { host: env.addr4Local, port: nextPort++, from: env.addr4Remote, bytes: MiB, period: 7 };
      const r = await ncReceive(['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7', '--memory', 'drm', '--json'], send);
      assert.equal(r.code, 0, describeRun(r));
      const events = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const bound = events.find((e) => e.event === 'bound')!;
      assert.deepEqual(bound.memory, { kind: 'drm', exporter: 'drm', device: vgemCard(), driver: 'vgem' });
      const received = events.find((e) => e.event === 'received')!;
      assert.equal(received.bytes, MiB);
      assert.equal(received.dmabufBytes, MiB);
    });

    it('check_rx: a stream with the wrong pattern fails, so the check on device memory can fail', async () => {
      const send = { host: env.addr4Local, port: nextPort++, from: env.addr4Remote, bytes: 65536, period: 6 };
      const r = await ncReceive(['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7', '--memory', `drm:${vgemCard()}`], send);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, /pattern mismatch at byte 5/);
    });

    it('check_tx: the peer receives exactly "hello\\nworld\\n" sent from a vgem buffer', async () => {
      const port = nextPort++;
      const peer = startPeer(['listen', '--host', env.addr4Remote, '--port', String(port)]);
      await new Promise<void>((resolve) => peer.child.stderr!.once('data', () => resolve()));
      const r = await runNc(['-f', env.ifLocal, '-s', env.addr4Remote, '-p', String(port), '--memory', 'drm'], { input: 'hello\nworld\n' });
      const got = await peer.done;
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(got.stdout, 'hello\nworld\n');
    });
  });
});

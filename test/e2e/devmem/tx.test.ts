import * as assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  AbortError,
  allocUdmabuf,
  bindTx,
  connect,
  DevmemError,
  type DmaBuf,
  type SendAbortError,
  type TxBinding,
} from '../../../lib/index';
import { pattern } from '../../support/pattern.cjs';
import { e2eEnv } from '../helpers/env';
import { startRemote } from '../helpers/remote';

const env = e2eEnv();
const MiB = 1024 * 1024;
const RECV = path.join(__dirname, '../fixtures/recv-check.cjs');
const RX_REMOTE = path.join(__dirname, '../fixtures/rx-remote.ts');
let nextPort = 5301;

describe('devmem transmit on the patched netdevsim', function () {
  this.timeout(300_000);
  let dmabuf: DmaBuf;
  let binding: TxBinding;

  before(async () => {
    dmabuf = allocUdmabuf(16 * MiB);
    dmabuf.write(0, pattern(0, 16 * MiB));
    binding = await bindTx(env.ifLocal, dmabuf);
  });
  after(() => {
    binding?.close();
    dmabuf?.close();
  });

  async function plainReceiver(bytes: number, mode: 'pattern' | 'text' = 'pattern') {
    const port = nextPort++;
    const rx = startRemote([process.execPath, RECV, env.addr4Remote, String(port), String(bytes), mode]);
    await rx.ready;
    const sock = await connect({ host: env.addr4Remote, port, bindToDevice: env.ifLocal });
    return { rx, sock };
  }

  it('sends 16 MiB from a udmabuf that arrives intact at a plain receiver, every completion accounted for', async () => {
    const { rx, sock } = await plainReceiver(16 * MiB);
    const r = await sock.sendDmabuf(binding, { offset: 0, length: 16 * MiB });
    assert.equal(r.bytes, 16 * MiB);
    const s = sock.stats();
    assert.equal(s.bytesSent, 16 * MiB);
    assert.equal(s.zerocopyPending, 0, 'every zerocopy id completed');
    assert.ok(s.completions >= 1 && s.completions <= s.zerocopySends);
    sock.end();
    assert.deepEqual(await rx.result, { bytes: 16 * MiB, mismatches: 0, first: -1 });
    sock.close();
  });

  it('sends 3-byte iovecs (ncdevmem -z 3) that arrive intact', async () => {
    const text = 'hello\nworld\n';
    dmabuf.write(0, Buffer.from(text.repeat(2000)));
    const total = text.length * 2000;
    const ranges = [];
    for (let off = 0; off < total; off += 3) ranges.push({ offset: off, length: Math.min(3, total - off) });
    const { rx, sock } = await plainReceiver(total, 'text');
    const r = await sock.sendDmabuf(binding, ranges);
    assert.equal(r.bytes, total);
    assert.ok(r.sends >= Math.ceil(ranges.length / 1024), `${r.sends} sendmsg calls for ${ranges.length} iovecs`);
    sock.end();
    const got = await rx.result;
    assert.equal(got.bytes, total);
    assert.equal(got.text, text.repeat(2000));
    sock.close();
    dmabuf.write(0, pattern(0, 16 * MiB));
  });

  it('stops at an abort: no sendmsg after it, rejects once the kernel let go, and the peer gets exactly the prefix', async () => {
    const { rx, sock } = await plainReceiver(16 * MiB);
    const before = sock.stats().bytesSent;
    await assert.rejects(sock.sendDmabuf(binding, { offset: 0, length: MiB }, { signal: AbortSignal.abort('not now') }), (e: unknown) => {
      assert.ok(e instanceof AbortError);
      assert.equal(e.cause, 'not now');
      assert.equal((e as SendAbortError).bytesSent, 0);
      return true;
    });
    assert.equal(sock.stats().bytesSent, before, 'nothing was sent');
    // 2048 iovecs of 8 KiB: one sendmsg takes at most 1024, and with 64 KiB in
    // flight allowed the send waits for completions after it; the abort lands there.
    const ranges = Array.from({ length: 2048 }, (_, i) => ({ offset: i * 8192, length: 8192 }));
    const ac = new AbortController();
    const sending = sock.sendDmabuf(binding, ranges, { signal: ac.signal, maxInFlightBytes: 64 * 1024 });
    ac.abort('enough');
    let sent = -1;
    await assert.rejects(sending, (e: unknown) => {
      assert.ok(e instanceof AbortError);
      assert.equal(e.cause, 'enough');
      sent = (e as SendAbortError).bytesSent;
      return true;
    });
    assert.ok(sent > 0 && sent <= 8 * MiB, `${sent} bytes went out before the abort`);
    const s = sock.stats();
    assert.equal(s.bytesSent - before, sent);
    assert.equal(s.zerocopyPending, 0, 'the rejection waited for every completion');
    sock.end();
    assert.deepEqual(await rx.result, { bytes: sent, mismatches: 0, first: -1 });
    sock.close();
  });

  it('keeps the data intact when the buffer is rewritten only after completion (random offsets)', async () => {
    const total = 4 * MiB;
    const { rx, sock } = await plainReceiver(total);
    let pos = 0;
    while (pos < total) {
      const len = Math.min(total - pos, randomInt(1, 256 * 1024));
      const off = randomInt(0, 1 * MiB - len + 1);
      dmabuf.write(off, pattern(pos, len)); // safe: the previous send has completed
      await sock.sendDmabuf(binding, { offset: off, length: len });
      pos += len;
    }
    sock.end();
    assert.deepEqual(await rx.result, { bytes: total, mismatches: 0, first: -1 });
    sock.close();
    dmabuf.write(0, pattern(0, 16 * MiB));
  });

  it("sends through our TX into our RX, with the bytes checked in the receiver's dma-buf", async () => {
    const port = nextPort++;
    const total = 8 * MiB;
    const rx = startRemote([
      process.execPath,
      '--import',
      'tsx',
      RX_REMOTE,
      env.ifRemote,
      env.addr4Remote,
      String(port),
      String(total),
      String(env.queues),
    ]);
    await rx.ready;
    const sock = await connect({ host: env.addr4Remote, port, bindToDevice: env.ifLocal });
    await sock.sendDmabuf(binding, { offset: 0, length: total });
    const got = await rx.result;
    sock.close();
    assert.equal(got.error, undefined, String(got.error));
    assert.equal(got.bytes, total);
    assert.equal(got.mismatches, 0);
    assert.equal(got.dmabufBytes, total, 'the receiver got it all in device memory');
  });

  it("reports a binding on a device that is not the route's as ROUTE_NOT_ON_BOUND_DEVICE", async () => {
    // A second netdevsim device, created from this namespace so its port lands here.
    const id = 90 + randomInt(0, 9);
    fs.writeFileSync('/sys/bus/netdevsim/new_device', `${id} 1 1`);
    try {
      const netDir = `/sys/bus/netdevsim/devices/netdevsim${id}/net`;
      let other: string | undefined;
      for (let i = 0; i < 50 && !other; i++) {
        other = fs.existsSync(netDir) ? fs.readdirSync(netDir)[0] : undefined;
        if (!other) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(other, 'the extra netdevsim port appeared');
      const wrong = await bindTx(other, dmabuf);
      try {
        const { rx, sock } = await plainReceiver(4096);
        await assert.rejects(sock.sendDmabuf(wrong, { offset: 0, length: 4096 }), (e: unknown) => {
          assert.ok(e instanceof DevmemError, String(e));
          assert.equal(e.reason, 'ROUTE_NOT_ON_BOUND_DEVICE');
          assert.equal(e.code, 'ENODEV');
          return true;
        });
        sock.close();
        rx.child.kill();
      } finally {
        wrong.close();
      }
    } finally {
      fs.writeFileSync('/sys/bus/netdevsim/del_device', `${id}`);
    }
  });
});

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { connect, createServer, DevmemError, type DevmemSocket, type FragmentBatch, type ReceiveOptions } from '../../lib/index';

// linearLifetime 'batch': a batch's `linear` is borrowed until its release,
// and the socket reuses the memory at once. A late read must see nothing
// (a detached, 0-byte Buffer) and copyOut()/linearChunks() must say why,
// never hand out bytes that now belong to a newer batch. Loopback data has
// no devmem cmsgs, so it all arrives as host bytes in `linear`.
async function pair(opts: ReceiveOptions): Promise<{ client: DevmemSocket; peer: DevmemSocket; close(): void }> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...opts });
  await server.listen();
  const [client, peer] = await Promise.all([connect({ host: '127.0.0.1', port: server.address()!.port }), server.accept()]);
  server.close();
  return {
    client,
    peer,
    close() {
      client.close();
      peer.close();
    },
  };
}

// Sends `total` bytes of a counting pattern (no two 4-byte words alike), then EOF.
function sendPattern(client: DevmemSocket, total: number): { done: Promise<void>; digest: () => string } {
  const sent = createHash('sha256');
  const chunk = Buffer.allocUnsafe(4 * 2 ** 20);
  const done = (async () => {
    for (let off = 0; off < total; off += chunk.length) {
      for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((off + i) >>> 2, i);
      sent.update(chunk);
      await client.write(Buffer.from(chunk));
    }
    client.end();
  })();
  return { done, digest: () => sent.digest('hex') };
}

const isReason = (reason: string) => (e: unknown) =>
  e instanceof DevmemError && e.reason === reason && /linearLifetime 'batch'/.test(e.message);

describe("linearLifetime 'batch': linear bytes borrowed until release (loopback, real kernel)", function () {
  this.timeout(60_000);

  it('delivers every byte intact, and the auto-release detaches each batch it passed', async () => {
    const p = await pair({ linearLifetime: 'batch' });
    const total = 64 * 2 ** 20;
    const tx = sendPattern(p.client, total);
    const got = createHash('sha256');
    const seen: { batch: FragmentBatch; linear: Buffer }[] = [];
    let bytes = 0;
    let large = 0;
    for await (const batch of p.peer) {
      assert.equal(batch.linear.length, batch.hostBytes, 'a live batch sees all its bytes');
      got.update(batch.linear);
      bytes += batch.linear.length;
      seen.push({ batch, linear: batch.linear });
      if (batch.linear.length >= 256 * 1024) large++;
    }
    await tx.done;
    assert.equal(bytes, total);
    assert.equal(got.digest('hex'), tx.digest());
    // Large batches are lent the receive block itself (the memory the socket reuses); small ones a copy.
    assert.ok(large > 0, 'no batch was lent a whole receive block');
    for (const { batch, linear } of seen) {
      assert.equal(batch.released, true);
      assert.equal(linear.length, 0);
      assert.equal(linear.buffer.byteLength, 0, 'the ArrayBuffer itself is detached');
      assert.equal(linear[0], undefined);
      assert.throws(() => batch.copyOut(undefined), isReason('ALREADY_RELEASED'));
      assert.throws(() => batch.linearChunks(), isReason('ALREADY_RELEASED'));
    }
    p.close();
  });

  it('never reuses a block while a batch still holds it: 24 held batches stay intact as more arrive', async () => {
    // More held batches than the block pool keeps (16): each lent block must stay the batch's.
    const p = await pair({ linearLifetime: 'batch', release: 'manual' });
    const total = 96 * 2 ** 20;
    const tx = sendPattern(p.client, total);
    const got = createHash('sha256');
    const held: FragmentBatch[] = [];
    let lent = 0;
    const releaseOldest = () => {
      const b = held.shift()!;
      got.update(b.linear);
      b.release();
      assert.equal(b.linear.length, 0);
    };
    for (let b = await p.peer.read(); b; b = await p.peer.read()) {
      if (b.linear.length >= 256 * 1024) lent++;
      held.push(b);
      if (held.length > 24) releaseOldest();
    }
    while (held.length) releaseOldest();
    await tx.done;
    assert.equal(got.digest('hex'), tx.digest());
    assert.ok(lent > 24, `only ${lent} batches were lent a whole block`);
    p.close();
  });

  it('a manual release detaches a small batch too, and close() ends the ones still held', async () => {
    const p = await pair({ linearLifetime: 'batch', release: 'manual' });
    await p.client.write(Buffer.from('first'));
    const a = (await p.peer.read())!;
    assert.equal(a.linear.toString(), 'first');
    assert.deepEqual(a.linearChunks().map(String), ['first']);
    assert.equal(Buffer.from(a.copyOut(undefined)).toString(), 'first');
    const chunk = a.linearChunks()[0]!;
    a.release();
    assert.equal(a.linear.length, 0);
    assert.equal(chunk.length, 0, 'a view taken before the release ends with it');
    assert.throws(() => a.copyOut(undefined), isReason('ALREADY_RELEASED'));

    await p.client.write(Buffer.from('second'));
    const b = (await p.peer.read())!;
    assert.equal(b.linear.toString(), 'second');
    p.peer.close();
    assert.equal(b.linear.length, 0, 'closing returned everything, the borrowed bytes included');
    assert.throws(() => b.copyOut(undefined), isReason('CLOSED'));
    assert.throws(() => b.linearChunks(), isReason('CLOSED'));
    p.close();
  });

  it('detaches batches read through stream() when they are released', async () => {
    const p = await pair({ linearLifetime: 'batch' });
    await p.client.write(Buffer.from('streamed'));
    const readable = p.peer.stream();
    const [b] = (await new Promise((resolve) => readable.once('data', (x: FragmentBatch) => resolve([x])))) as [FragmentBatch];
    readable.pause();
    assert.equal(b.linear.toString(), 'streamed');
    b.release();
    assert.equal(b.linear.length, 0);
    assert.throws(() => b.copyOut(undefined), isReason('ALREADY_RELEASED'));
    readable.destroy();
    p.close();
  });

  it("leaves the default ('owned') as it was: a released batch's bytes stay readable", async () => {
    for (const opts of [{}, { linearLifetime: 'owned' as const }]) {
      const p = await pair({ ...opts, release: 'manual' });
      await p.client.write(Buffer.from('kept'));
      const b = (await p.peer.read())!;
      const linear = b.linear;
      b.release();
      p.peer.close();
      assert.equal(linear.toString(), 'kept');
      assert.equal(Buffer.from(b.copyOut(undefined)).toString(), 'kept');
      assert.deepEqual(b.linearChunks().map(String), ['kept']);
      p.close();
    }
  });
});

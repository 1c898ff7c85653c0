import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { connect, createServer } from '../../lib/index';

// Host and linear bytes are received in place: a batch that filled much of
// the receive area takes the memory block itself as its `linear` Buffer, and
// the block goes back to a pool only when that Buffer is collected. Holding
// every batch's Buffer (more blocks than the pool keeps) and reading them at
// the end proves no block is reused while JS can still see it.
describe('linear bytes received in place (loopback, real kernel)', function () {
  this.timeout(60_000);

  it('keeps every held batch intact while later batches arrive', async () => {
    const server = createServer({ host: '127.0.0.1', port: 0 });
    await server.listen();
    const [client, peer] = await Promise.all([connect({ host: '127.0.0.1', port: server.address()!.port }), server.accept()]);
    const total = 96 * 2 ** 20;
    const chunk = Buffer.allocUnsafe(4 * 2 ** 20);
    const sent = createHash('sha256');
    const sender = (async () => {
      for (let off = 0; off < total; off += chunk.length) {
        for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((off + i) >>> 2, i);
        sent.update(chunk);
        await client.write(Buffer.from(chunk));
      }
      client.end();
    })();
    const held: Buffer[] = [];
    let large = 0;
    for await (const batch of peer) {
      held.push(batch.linear);
      if (batch.linear.length >= 256 * 1024) large++;
    }
    await sender;
    const got = createHash('sha256');
    for (const b of held) got.update(b);
    assert.equal(
      held.reduce((n, b) => n + b.length, 0),
      total,
    );
    assert.equal(got.digest('hex'), sent.digest('hex'));
    assert.ok(large > 16, `only ${large} batches took a whole block; the test needs more than the pool holds`);
    client.close();
    peer.close();
    server.close();
  });
});

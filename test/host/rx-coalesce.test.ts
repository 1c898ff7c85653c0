import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import {
  connect,
  createServer,
  DevmemError,
  RECEIVE_DEFAULTS,
  type CoalesceOptions,
  type DevmemSocket,
  type ReceiveOptions,
} from '../../lib/index';
import { pattern, receiveChecked } from './helpers/stream';

// Readiness coalescing on the real kernel's loopback TCP: a socket whose
// last batch was small is left to fill before its drain. What is asserted is
// behaviour (every byte, EOF, the wait counter, the threshold, the bound as
// liveness), never how long anything took: speed belongs to `devmem bench`.
const KiB = 1024;

async function pair(opts: ReceiveOptions): Promise<{ client: DevmemSocket; peer: DevmemSocket }> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...opts });
  const { port } = await server.listen();
  const [client, peer] = await Promise.all([connect({ host: '127.0.0.1', port }), server.accept()]);
  server.close();
  return { client, peer };
}

/** Writes `chunks` of `size` bytes with an event-loop turn between them: data that trickles in. */
async function trickle(client: DevmemSocket, chunks: number, size: number): Promise<void> {
  for (let i = 0; i < chunks; i++) {
    await client.write(pattern(i * size, size));
    await new Promise(setImmediate);
  }
  client.end();
}

describe('readiness coalescing (ReceiveOptions.coalesce, real kernel loopback)', function () {
  this.timeout(60_000);

  it('leaves a readable socket to fill after small batches; every byte arrives, then EOF', async () => {
    const { client, peer } = await pair({ coalesce: { waitMicros: 2000 } });
    const [, r] = await Promise.all([trickle(client, 400, 4 * KiB), receiveChecked(peer)]);
    assert.equal(r.got, 400 * 4 * KiB);
    assert.equal(r.bad, 0);
    const s = peer.stats();
    assert.ok(s.coalesceWaits > 0, 'small batches made later readiness events wait');
    // Every readiness event after the first batch waits once, the FIN's included.
    assert.ok(s.coalesceWaits <= s.batches, `${s.coalesceWaits} waits for ${s.batches} batches and the FIN`);
    client.close();
    peer.close();
  });

  it('does not wait without the option, nor after batches at or above belowFragments', async () => {
    for (const opts of [{}, { coalesce: { waitMicros: 2000, belowFragments: 1 } }] as ReceiveOptions[]) {
      const { client, peer } = await pair(opts);
      const [, r] = await Promise.all([trickle(client, 100, 4 * KiB), receiveChecked(peer)]);
      assert.equal(r.got, 100 * 4 * KiB);
      assert.equal(peer.stats().coalesceWaits, 0, JSON.stringify(opts));
      client.close();
      peer.close();
    }
  });

  it('bounds the wait: a lone small write is delivered while the sender stays silent', async () => {
    const { client, peer } = await pair({ coalesce: { waitMicros: RECEIVE_DEFAULTS.coalesceMaxWaitMicros } });
    for (let i = 0; i < 3; i++) {
      // Each write is all there is until it is read: only the timer can end the wait.
      await client.write(pattern(i * 100, 100));
      const b = (await peer.read())!;
      assert.equal(b.bytes, 100);
      b.release();
    }
    assert.ok(peer.stats().coalesceWaits >= 2, 'the second and third batches followed small ones');
    client.close();
    peer.close();
  });

  it('crosses pauses (highWaterMark 1, a slow consumer) and loses nothing', async () => {
    const { client, peer } = await pair({ highWaterMark: 1, coalesce: { waitMicros: 500 } });
    const [, r] = await Promise.all([trickle(client, 300, 8 * KiB + 7), receiveChecked(peer, true)]);
    assert.equal(r.got, 300 * (8 * KiB + 7));
    assert.equal(r.bad, 0);
    client.close();
    peer.close();
  });

  it('closing mid-wait leaves nothing running: the process exits', () => {
    const script = `
      const { createServer, connect } = require(${JSON.stringify(path.resolve(__dirname, '../../lib/index.ts'))});
      (async () => {
        const s = createServer({ host: '127.0.0.1', port: 0, coalesce: { waitMicros: 10000 } });
        const { port } = await s.listen();
        const c = await connect({ host: '127.0.0.1', port });
        const p = await s.accept();
        s.close();
        await c.write(Buffer.alloc(10));
        (await p.read()).release();
        await c.write(Buffer.alloc(10)); // the next readiness event waits
        p.read().catch(() => {});
        await new Promise((r) => setTimeout(r, 1));
        p.close();
        c.close();
        console.log('closed', p.stats().coalesceWaits);
      })();`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.match(out, /^closed \d+$/m);
  });

  it('refuses a bad coalesce before opening anything', () => {
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [{}, /waitMicros must be a number/],
      [{ waitMicros: 0 }, /from 1 to 10000/],
      [{ waitMicros: RECEIVE_DEFAULTS.coalesceMaxWaitMicros + 1 }, /from 1 to 10000/],
      [{ waitMicros: 1.5 }, /integer/],
      [{ waitMicros: 100, belowFragments: 0 }, /belowFragments must be a positive integer/],
    ];
    for (const [coalesce, message] of bad)
      assert.throws(
        () => createServer({ coalesce: coalesce as CoalesceOptions }),
        (e: unknown) => (e instanceof DevmemError || e instanceof TypeError) && message.test(e.message),
        JSON.stringify(coalesce),
      );
  });
});

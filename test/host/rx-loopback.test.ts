import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';

import { AbortError, connect, createServer, DevmemError, type DevmemServer, type DevmemSocket } from '../../lib/index';
import { pattern, receiveChecked } from './helpers/stream';

const MiB = 1024 * 1024;

async function pair(server: DevmemServer): Promise<{ client: DevmemSocket; peer: DevmemSocket }> {
  const { port } = server.address()!;
  const [client, peer] = await Promise.all([connect({ host: '127.0.0.1', port }), server.accept()]);
  return { client, peer };
}

describe('DevmemSocket over loopback (real kernel, readable data)', function () {
  this.timeout(60_000);
  let server: DevmemServer;

  beforeEach(async () => {
    server = createServer({ host: '127.0.0.1', port: 0 });
    await server.listen();
  });
  afterEach(() => server.close());

  it('moves 64 MiB between our client and server with MSG_SOCK_DEVMEM, intact', async () => {
    const { client, peer } = await pair(server);
    const total = 64 * MiB;
    const sender = (async () => {
      for (let off = 0; off < total; off += 4 * MiB) await client.write(pattern(off, 4 * MiB));
      client.end();
    })();
    const hash = createHash('sha256');
    let got = 0;
    for await (const batch of peer) {
      assert.equal(batch.dmabufBytes, 0, 'loopback cannot carry devmem');
      hash.update(batch.copyOut(undefined));
      got += batch.bytes;
    }
    await sender;
    assert.equal(got, total);
    const expected = createHash('sha256');
    for (let off = 0; off < total; off += 4 * MiB) expected.update(pattern(off, 4 * MiB));
    assert.equal(hash.digest('hex'), expected.digest('hex'));
    const s = peer.stats();
    assert.equal(s.bytes, total);
    assert.equal(s.hostBytes, total);
    assert.ok(s.recvmsgCalls >= s.batches && s.batches > 0);
    assert.equal(s.outstandingTokens, 0);
    client.close();
    peer.close();
  });

  it('accepts IPv6 and IPv4-mapped peers on a dual-stack listener', async () => {
    const dual = createServer({ host: '::', port: 0 });
    const { port } = await dual.listen();
    try {
      const [c6, p6] = await Promise.all([connect({ host: '::1', port }), dual.accept()]);
      assert.equal(p6.remoteAddress()!.address, '::1');
      assert.equal(c6.address()!.family, 'IPv6');
      const [c4, p4] = await Promise.all([connect({ host: '127.0.0.1', port }), dual.accept()]);
      assert.equal(p4.remoteAddress()!.address, '::ffff:127.0.0.1');
      for (const s of [c6, p6, c4, p4]) s.close();
    } finally {
      dual.close();
    }
  });

  it('refuses IPv4 on an ipv6only listener', async () => {
    const v6 = createServer({ host: '::', port: 0, ipv6only: true });
    const { port } = await v6.listen();
    try {
      await assert.rejects(
        connect({ host: '127.0.0.1', port }),
        (e: unknown) => e instanceof DevmemError && e.reason === 'CONNECTION_REFUSED',
      );
    } finally {
      v6.close();
    }
  });

  it('ends the iteration at EOF', async () => {
    const { client, peer } = await pair(server);
    await client.write(Buffer.from('bye'));
    client.end();
    const chunks: string[] = [];
    for await (const b of peer) chunks.push(b.linear.toString());
    assert.equal(chunks.join(''), 'bye');
    assert.equal(await peer.read(), null, 'read after EOF keeps returning null');
    client.close();
    peer.close();
  });

  it('reports a peer reset as CONNECTION_RESET', async () => {
    const { port } = server.address()!;
    const raw = net.connect(port, '127.0.0.1');
    const peer = await server.accept();
    await new Promise((r) => raw.once('connect', r));
    raw.write('x');
    raw.resetAndDestroy();
    const errors: unknown[] = [];
    peer.on('error', (e) => errors.push(e));
    await assert.rejects(
      (async () => {
        for await (const _ of peer) {
          // drain until the reset surfaces
        }
      })(),
      (e: unknown) => e instanceof DevmemError && e.reason === 'CONNECTION_RESET' && e.code === 'ECONNRESET',
    );
    assert.equal(errors.length, 1);
    assert.equal(peer.closed, true);
  });

  it('resetAndDestroy() aborts with a RST where close() ends with a FIN', async () => {
    const { port } = server.address()!;
    // Nothing is left unread, so only the way of closing decides what the peer sees.
    const peerSees = async (how: 'close' | 'resetAndDestroy') => {
      const raw = net.connect(port, '127.0.0.1');
      const sock = await server.accept();
      await new Promise((r) => raw.once('connect', r));
      const seen = new Promise<string>((resolve) => {
        raw.once('end', () => resolve('FIN'));
        raw.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
      });
      raw.resume();
      const pending = sock.read();
      sock[how]();
      await assert.rejects(pending, (e: unknown) => e instanceof DevmemError && e.reason === 'CLOSED');
      assert.equal(sock.closed, true);
      sock.resetAndDestroy(); // idempotent once closed
      const r = await seen;
      raw.destroy();
      return r;
    };
    assert.equal(await peerSees('close'), 'FIN');
    assert.equal(await peerSees('resetAndDestroy'), 'ECONNRESET');
  });

  it('rejects a pending read when the socket closes under it', async () => {
    const { client, peer } = await pair(server);
    const pending = peer.read();
    setImmediate(() => peer.close());
    await assert.rejects(pending, (e: unknown) => e instanceof DevmemError && e.reason === 'CLOSED');
    client.close();
  });

  it('aborts a waiting read() with an AbortError; what arrives later goes to the next read', async () => {
    const { client, peer } = await pair(server);
    await assert.rejects(
      peer.read({ signal: AbortSignal.abort('before') }),
      (e: unknown) => e instanceof AbortError && e.cause === 'before',
    );
    const ac = new AbortController();
    const waiting = peer.read({ signal: ac.signal });
    setImmediate(() => ac.abort('no longer needed'));
    await assert.rejects(waiting, (e: unknown) => e instanceof AbortError && e.cause === 'no longer needed');
    await client.write(Buffer.from('late'));
    const b = await peer.read();
    assert.ok(b, 'the data after the abort is not lost');
    assert.equal(Buffer.from(b.linear.subarray(0, b.bytes)).toString(), 'late');
    b.release();
    assert.throws(() => void peer.read({ signal: 'x' as unknown as AbortSignal }), TypeError);
    client.close();
    peer.close();
  });

  it('aborts accept() and connect() with an AbortError carrying the reason', async () => {
    const ac = new AbortController();
    const p = server.accept({ signal: ac.signal });
    ac.abort(new Error('stop waiting'));
    await assert.rejects(
      p,
      (e: unknown) => e instanceof AbortError && e.code === 'ABORT_ERR' && (e.cause as Error).message === 'stop waiting',
    );
    const pre = AbortSignal.abort('already');
    await assert.rejects(
      connect({ host: '127.0.0.1', port: 1, signal: pre }),
      (e: unknown) => e instanceof AbortError && e.cause === 'already',
    );
    // Aborted while connecting: the socket is closed and the promise rejects.
    const ac2 = new AbortController();
    const c = connect({ host: '127.0.0.1', port: server.address()!.port, signal: ac2.signal });
    ac2.abort('gave up');
    await assert.rejects(c, (e: unknown) => e instanceof AbortError && e.cause === 'gave up');
  });

  it('serves accept() as an async iterator', async () => {
    const { port } = server.address()!;
    const clients = await Promise.all([1, 2, 3].map(() => connect({ host: '127.0.0.1', port })));
    const seen: DevmemSocket[] = [];
    for await (const s of server) {
      seen.push(s);
      if (seen.length === 3) break;
    }
    assert.equal(seen.length, 3);
    for (const s of [...seen, ...clients]) s.close();
  });

  it('delivers batches through an object-mode Readable', async () => {
    const { client, peer } = await pair(server);
    const data = pattern(0, 3 * MiB);
    const w = client.write(data).then(() => client.end());
    const parts: Buffer[] = [];
    for await (const b of peer.stream()) {
      parts.push(Buffer.from(b.copyOut(undefined)));
      b.release();
    }
    await w;
    assert.ok(Buffer.concat(parts).equals(data));
    client.close();
  });

  it('stops reading while the consumer is behind, and loses nothing', async () => {
    const { client, peer } = await pair(server);
    const total = 16 * MiB;
    const w = (async () => {
      for (let off = 0; off < total; off += MiB) await client.write(pattern(off, MiB));
      client.end();
    })();
    await new Promise((r) => setTimeout(r, 300)); // nobody reads: the sender must block
    const early = peer.stats().bytes;
    assert.ok(early < total, `only ${early} bytes were taken while nobody read`);
    let got = 0;
    for await (const b of peer) got += b.bytes;
    await w;
    assert.equal(got, total);
    client.close();
    peer.close();
  });

  for (const linearLifetime of ['owned', 'batch'] as const) {
    it(`ends each drain at a short read, with no EAGAIN recvmsg, through pauses and EOF (linearLifetime '${linearLifetime}')`, async () => {
      // highWaterMark 1: every batch pauses the socket until the loop below
      // takes it, so the stream crosses a pause and a resume per batch.
      const paused = createServer({ host: '127.0.0.1', port: 0, highWaterMark: 1, linearLifetime });
      await paused.listen();
      const { client, peer } = await pair(paused);
      paused.close();
      const total = 24 * MiB + 12345;
      const w = (async () => {
        for (let off = 0; off < total; off += MiB) await client.write(pattern(off, Math.min(MiB, total - off)));
        client.end();
      })();
      // Behind the sender: the socket stays paused a turn after each batch.
      const { got, bad } = await receiveChecked(peer, true);
      await w;
      assert.equal(got, total, 'every byte arrived before the end');
      assert.equal(bad, 0);
      const s = peer.stats();
      // Loopback data is linear: a drain's recvmsg either fills the 2 MiB
      // area (which ends the batch) or comes back short (which ends the drain
      // without asking again). Only the last call, at the FIN, returns 0.
      assert.equal(s.eagains, 0, `${s.eagains} recvmsg calls found nothing`);
      assert.equal(s.recvmsgCalls, s.batches + 1, `${s.recvmsgCalls} recvmsg calls for ${s.batches} batches and EOF`);
      client.close();
      peer.close();
    });
  }

  it('lets the process exit with an unref()ed open socket, and not with a ref()ed one', () => {
    const script = (unref: boolean) => `
      const { createServer, connect } = require(${JSON.stringify(path.resolve(__dirname, '../../lib/index.ts'))});
      (async () => {
        const s = createServer({ host: '127.0.0.1', port: 0 });
        const { port } = await s.listen();
        const c = await connect({ host: '127.0.0.1', port });
        const p = await s.accept();
        p.read().catch(() => {});
        s.close();
        ${unref ? 'c.unref(); p.unref();' : ''}
        console.log('ready');
      })();`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script(true)], { encoding: 'utf8', timeout: 20_000 });
    assert.match(out, /ready/);
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script(false)], { stdio: 'pipe' });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        resolve(); // still alive after 3 s: the ref()ed socket holds the loop
      }, 3000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`process with a ref()ed socket exited early (${code})`));
      });
    });
  });

  it('checks receive options before opening anything', async () => {
    assert.throws(() => createServer({ port: 70000 }), DevmemError);
    assert.throws(() => createServer({ hostData: 'maybe' as 'accept' }), DevmemError);
    assert.throws(() => createServer({ maxOutstandingFragments: 0 }), DevmemError);
    assert.throws(() => createServer({ receiveBufferSize: -1 }), DevmemError);
    assert.throws(() => createServer({ binding: 5 as unknown as { id: number } }), TypeError);
    await assert.rejects(connect({ host: '127.0.0.1', port: -1 }), DevmemError);
    await assert.rejects(connect({ host: 5 as unknown as string, port: 1 }), TypeError);
  });

  it('a second release, or one after close, throws without touching the kernel', async () => {
    const { client, peer } = await pair(server);
    await client.write(Buffer.from('abc'));
    const b = (await peer.read())!;
    const c = (await client.write(Buffer.from('def')), (await peer.read())!);
    assert.deepEqual(b.release(), { requested: 0, freed: 0, calls: 0 }, 'host data has no tokens');
    assert.throws(
      () => b.release(),
      (e: unknown) => e instanceof DevmemError && e.reason === 'ALREADY_RELEASED',
    );
    peer.close();
    assert.throws(
      () => c.release(),
      (e: unknown) => e instanceof DevmemError && e.reason === 'CLOSED',
    );
    c[Symbol.dispose](); // disposal stays silent
    client.close();
  });
});

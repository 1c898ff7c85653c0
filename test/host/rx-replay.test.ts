import * as assert from 'node:assert/strict';
import * as os from 'node:os';

import { DevmemError, RECEIVE_DEFAULTS, type SocketStats } from '../../lib/index';
import { native } from '../../lib/native';
import { DevmemSocket } from '../../lib/socket';
import { dmabufControl } from '../../bench/cmsg';

// The fragment-pipeline benchmark replays control areas through the
// production receive path (testing.replaySocket). These check that the replay
// is faithful: every fragment arrives once, in order, and every token goes
// back in calls the kernel would accept.
describe('replayed control areas through DevmemSocket (fragment-pipeline benchmark path)', () => {
  const size = 4096;

  function replay(perRecvmsg: number, records: number, recvmsgs: number, opts: ConstructorParameters<typeof DevmemSocket>[1] = {}) {
    const controls = Array.from({ length: records }, (_, r) =>
      dmabufControl({ fragments: perRecvmsg, fragmentSize: size, firstToken: 1 + r * perRecvmsg, dmabufId: 7 }),
    );
    const nat = native().testing.replaySocket(
      controls,
      controls.map(() => perRecvmsg * size),
      recvmsgs,
    );
    return new DevmemSocket(nat, { binding: { id: 7 }, ...opts });
  }

  it('delivers every replayed fragment in order and returns every token, 1024 per DONTNEED call', async () => {
    const sock = replay(512, 8, 64, { batchFragments: 4096, batchBytes: 4096 * size });
    let fragments = 0;
    let batches = 0;
    for await (const b of sock) {
      batches++;
      for (let i = 0; i < b.count; i++) {
        const expected = (fragments % 4096) + 1;
        assert.equal(b.tokens[i], expected);
        assert.equal(b.offsets[i], (expected - 1) * size);
        assert.equal(b.sizes[i], size);
        assert.equal(b.dmabufIds[i], 7);
        fragments++;
      }
    }
    const s = sock.stats();
    assert.equal(fragments, 64 * 512);
    assert.equal(batches, 8, 'batches of 4096 fragments: 8 recvmsgs each');
    assert.equal(s.releasedTokens, fragments);
    assert.equal(s.outstandingTokens, 0);
    assert.equal(s.dontneedCalls, fragments / 1024);
    assert.equal(s.shortReleases, 0);
  });

  it('iterates as an async generator would: release on next and on leaving, queued next() calls, done after the end', async () => {
    // 16 batches of 512 fragments (one recvmsg each).
    const opts = { batchFragments: 512, batchBytes: 512 * size };
    const a = replay(512, 1, 16, opts);
    let seen = 0;
    for await (const b of a) {
      assert.equal(a.stats().outstandingTokens, 512, 'the batch before this one was released when the loop asked again');
      if (++seen === 3) {
        assert.equal(b.released, false);
        break;
      }
    }
    assert.equal(a.stats().outstandingTokens, 0, 'leaving the loop released the batch it held');
    a.close();

    const b = replay(512, 1, 16, opts);
    const it = b[Symbol.asyncIterator]();
    const [x, y, z] = await Promise.all([it.next(), it.next(), it.next()]);
    assert.ok(!x.done && !y.done && !z.done);
    assert.deepEqual(
      [x.value.seq, y.value.seq, z.value.seq].map((s) => s - x.value.seq),
      [0, 1, 2],
      'next() calls made at once settle in order',
    );
    assert.ok(x.value.released && y.value.released && !z.value.released, 'each step released the one before');
    assert.deepEqual(await it.return(undefined), { value: undefined, done: true });
    assert.equal(z.value.released, true);
    assert.deepEqual(await it.next(), { value: undefined, done: true }, 'done once returned');
    b.close();

    const c = replay(512, 1, 4, opts);
    const all = [];
    for await (const batch of c) all.push(batch);
    assert.equal(all.length, 4);
    assert.ok(
      all.every((batch) => batch.released),
      'the end of the stream released the last batch',
    );
    const after = c[Symbol.asyncIterator]();
    assert.deepEqual(await after.next(), { value: undefined, done: true });
    c.close();

    const d = replay(512, 1, 16, opts);
    await assert.rejects(
      (async () => {
        for await (const batch of d) {
          void batch;
          throw new Error('consumer failed');
        }
      })(),
      /consumer failed/,
    );
    assert.equal(d.stats().outstandingTokens, 0, 'a throw out of the loop released the batch');
    d.close();
  });

  it('reports exactly the SocketStats keys, each a number', async () => {
    // The compiler holds this list to SocketStats' keys; the native stats() must match it.
    const keys: Record<keyof SocketStats, true> = {
      bytesSent: true,
      zerocopySends: true,
      completions: true,
      copiedCompletions: true,
      zerocopyPending: true,
      bytes: true,
      fragments: true,
      dmabufBytes: true,
      linearBytes: true,
      hostBytes: true,
      copiedBytes: true,
      outstandingTokens: true,
      outstandingBytes: true,
      releasedTokens: true,
      dontneedCalls: true,
      shortReleases: true,
      releaseErrors: true,
      recvmsgCalls: true,
      eagains: true,
      batches: true,
      controlGrows: true,
      stalls: true,
      coalesceWaits: true,
    };
    const sock = replay(4, 1, 1);
    for await (const _ of sock) break;
    const s = sock.stats();
    sock.close();
    assert.deepEqual(Object.keys(s).sort(), Object.keys(keys).sort());
    for (const [k, v] of Object.entries(s)) assert.equal(typeof v, 'number', k);
  });

  it('reads under RECEIVE_DEFAULTS when no limit is given', async () => {
    // Whichever per-batch budget binds first: fragments, or bytes of these 4 KiB fragments.
    const n = Math.min(RECEIVE_DEFAULTS.batchFragments, RECEIVE_DEFAULTS.batchBytes / size);
    const sock = replay(512, 8, (4 * n) / 512);
    const counts: number[] = [];
    for await (const b of sock) counts.push(b.count);
    assert.deepEqual(counts, [n, n, n, n]);
  });

  it('ends a batch at the byte budget', async () => {
    const sock = replay(512, 2, 8, { batchFragments: 4096, batchBytes: 1024 * size });
    const counts: number[] = [];
    for await (const b of sock) counts.push(b.count);
    assert.deepEqual(counts, [1024, 1024, 1024, 1024]);
  });

  it('reports a failed SO_DEVMEM_DONTNEED: in the release result, as a releaseError event, and in the stats', async () => {
    // The first batch's release goes through; from the second DONTNEED call on the kernel fails.
    const controls = [1, 2, 3].map((r) => dmabufControl({ fragments: 4, fragmentSize: size, firstToken: 1 + (r - 1) * 4, dmabufId: 7 }));
    const nat = native().testing.replaySocket(
      controls,
      controls.map(() => 4 * size),
      3,
      { errno: os.constants.errno.EFAULT, fromCall: 1 },
    );
    const sock = new DevmemSocket(nat, { binding: { id: 7 }, release: 'manual', batchFragments: 4 });
    const events: DevmemError[] = [];
    sock.on('releaseError', (e: DevmemError) => events.push(e));
    const results = [];
    for await (const b of sock) results.push(b.release());
    assert.equal(results.length, 3);
    assert.equal(results[0]!.error, undefined);
    assert.deepEqual([results[0]!.requested, results[0]!.freed], [4, 4]);
    for (const r of results.slice(1)) {
      assert.ok(r.error instanceof DevmemError, 'a failed release carries its error');
      assert.equal(r.error.code, 'EFAULT');
      assert.equal(r.error.syscall, 'setsockopt');
      assert.match(r.error.message, /SO_DEVMEM_DONTNEED failed \(0 of 4 fragments freed\)/);
      assert.equal(r.freed, 0);
    }
    assert.deepEqual(events, [results[1]!.error, results[2]!.error]);
    const s = sock.stats();
    assert.equal(s.releaseErrors, 2);
    assert.equal(s.shortReleases, 2);
    assert.equal(s.releasedTokens, 4);
    sock.close();
  });

  it('fails like the kernel would when a record claims more bytes than the iov holds', async () => {
    const controls = [dmabufControl({ fragments: 1024, fragmentSize: size, firstToken: 1, dmabufId: 7 })];
    const nat = native().testing.replaySocket(controls, [1024 * size], 1);
    const sock = new DevmemSocket(nat, { binding: { id: 7 } });
    await assert.rejects(sock.read(), (e: unknown) => e instanceof DevmemError && e.code === 'EMSGSIZE');
    sock.close();
  });
});

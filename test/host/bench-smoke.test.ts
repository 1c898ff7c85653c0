import * as assert from 'node:assert/strict';

import { loopbackRows, runLoopback } from '../../bench/loopback';
import { runPipeline } from '../../bench/pipeline';
import { median, pairedRatios } from '../../bench/stats';

// The benchmarks are not timed tests: these only prove that `devmem bench`
// still builds its C reference and runs every host suite end to end, with
// counts that must come out exactly (bytes received, DONTNEED calls per
// fragment). Speed is never asserted.
describe('devmem bench (smoke: builds and runs, no timing asserted)', function () {
  this.timeout(120_000);

  it('summarises with medians and same-run ratios', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]), RangeError);
    assert.deepEqual(pairedRatios([2, 9], [1, 3]), [2, 3]);
    assert.throws(() => pairedRatios([1], [1, 2]), RangeError);
  });

  it('runs the loopback suite: every receiver gets every byte', async () => {
    const s = await runLoopback({ bytes: 8 * 2 ** 20, runs: 1 });
    assert.deepEqual(
      s.map((r) => r.name),
      ['C recvmsg loop', 'DevmemSocket', 'net.Socket', 'C loop, 32 buffers in turn'],
    );
    for (const r of s) assert.ok(r.gbps[0]! > 0 && r.cpuPerGb[0]! >= 0, r.name);
    assert.equal(s[0]!.ratioToC[0], 1);
    assert.equal(loopbackRows(s).length, 5);
  });

  it('runs the fragment pipeline through the production path and the C loop alike', async () => {
    const s = await runPipeline({ fragments: 2 ** 20, runs: 1, perRecvmsg: 512, batch: 4096, rssFragments: 2 ** 21 });
    assert.equal(s.dontneedPerMiFragments, 1024, 'one DONTNEED call per 1024 consecutive fragments');
    assert.equal(s.cDontneedPerMiFragments, 1024);
    assert.equal(s.batchesPerRun, 2 ** 20 / 4096);
    assert.ok(s.heapBytesPerFragment[0]! < 16, `${s.heapBytesPerFragment[0]} JS heap bytes per fragment: an object per fragment crept in`);
    assert.equal(s.rss?.fragments, 2 ** 21);
  });
});

import * as assert from 'node:assert/strict';
import * as os from 'node:os';

import {
  guestBatchRows,
  guestRows,
  guestScalingRows,
  guestSyscallRows,
  guestZcrxRows,
  type GuestReport,
  type GuestSample,
} from '../../bench/guest';
import { loopbackRows, runLoopback } from '../../bench/loopback';
import { runPipeline } from '../../bench/pipeline';
import { runScaling, SCALING_VARIANTS, scalingCapLines, scalingRows, type ScalingWorker } from '../../bench/scaling';
import { median, pairedRatios } from '../../bench/stats';
import { parsePerfStat, SYSCALL_EVENTS, type SyscallCounts } from '../../bench/syscalls';

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

  it('runs the loopback suite: every receiver gets every byte; borrowed mode catches a use after release', async () => {
    const s = await runLoopback({ bytes: 8 * 2 ** 20, runs: 1 });
    assert.deepEqual(
      s.map((r) => r.name),
      [
        'C recvmsg loop',
        'DevmemSocket',
        "DevmemSocket, linearLifetime 'batch'",
        'DevmemSocket, coalesce 250 µs',
        'net.Socket',
        'C loop, 32 buffers in turn',
      ],
    );
    for (const r of s) assert.ok(r.gbps[0]! > 0 && r.cpuPerGb[0]! >= 0, r.name);
    assert.equal(s[0]!.ratioToC[0], 1);
    assert.deepEqual(s[2]!.useAfterReleaseCaught, [true], 'in borrowed mode a read after release is caught');
    assert.equal(s[1]!.useAfterReleaseCaught, undefined);
    assert.equal(loopbackRows(s).length, 7);
    for (const i of [0, 1, 2, 3, 5]) assert.ok(s[i]!.recvmsgPerGiB![0]! > 0, `${s[i]!.name} counts its recvmsg calls`);
    for (const i of [1, 2, 3]) assert.ok(s[i]!.batchesPerGiB![0]! > 0, `${s[i]!.name} counts its batches`);
    assert.equal(s[4]!.recvmsgPerGiB, undefined, 'net.Socket reads with read(2)');
  });

  it('runs the fragment pipeline through the production path and the C loop alike', async () => {
    const s = await runPipeline({ fragments: 2 ** 20, runs: 1, perRecvmsg: 512, batch: 4096, rssFragments: 2 ** 21 });
    assert.equal(s.dontneedPerMiFragments, 1024, 'one DONTNEED call per 1024 consecutive fragments');
    assert.equal(s.cDontneedPerMiFragments, 1024);
    assert.equal(s.batchesPerRun, 2 ** 20 / 4096);
    assert.ok(s.heapBytesPerFragment[0]! < 16, `${s.heapBytesPerFragment[0]} JS heap bytes per fragment: an object per fragment crept in`);
    assert.equal(s.rss?.fragments, 2 ** 21);
  });

  it('runs the scaling suite: every worker and every C process drains exactly its own fragments', async () => {
    const per = 2 ** 18;
    const s = await runScaling({ fragments: per, runs: 1, perRecvmsg: 512, batch: 4096 });
    const parts = (v: (typeof SCALING_VARIANTS)[number]) => s.samples[v][0]!.parts;
    assert.equal(parts('JS, 1 worker').length, 1);
    assert.equal(parts('JS, 2 workers').length, 2);
    assert.equal(parts('C, 1 process').length, 1);
    assert.equal(parts('C, 2 processes').length, 2);
    for (const v of SCALING_VARIANTS) {
      assert.equal(s.samples[v].length, 1, v);
      assert.equal(s.samples[v][0]!.fragments, per * parts(v).length, v);
      for (const p of parts(v)) {
        assert.equal(p.fragments, per, `${v}: each drains exactly its own fragments`);
        assert.equal(p.dontneedCalls, per / 1024, `${v}: one DONTNEED call per 1024 consecutive fragments`);
      }
    }
    for (const p of [...parts('JS, 1 worker'), ...parts('JS, 2 workers')] as ScalingWorker[]) {
      assert.equal(p.batches, per / 4096);
      assert.equal(p.releasedTokens, per, 'every token released');
      assert.equal(p.recvmsgCalls, per / 512 + 1, 'one replayed recvmsg per 512 fragments, then the end of stream');
    }
    assert.equal(s.jsSpeedup.length, 1);
    assert.equal(s.cSpeedup.length, 1);
    assert.equal(s.cores, os.cpus().length);
    assert.equal(s.loadStart.length, 3);
    const rows = scalingRows(s);
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['variant', ...SCALING_VARIANTS],
    );
    for (const r of rows) assert.equal(r.length, 4);
    const cap = scalingCapLines(s);
    assert.equal(cap.length, 4);
    assert.match(cap[0]!, new RegExp(`^${s.cores} cores; load average`));
  });

  it("reads perf stat's CSV and summarises the guest suite's syscall and zcrx tables", () => {
    const names = Object.keys(SYSCALL_EVENTS) as (keyof typeof SYSCALL_EVENTS)[];
    const csv = [
      '# started on Tue Dec  1 14:25:43 2026',
      '',
      ...names.map((n, i) => `${i * 10 + 7},,${SYSCALL_EVENTS[n]},2223267,100.00,,`),
    ];
    const counts = parsePerfStat(csv.join('\n'));
    assert.equal(counts.total, 7);
    assert.equal(counts.futex, (names.length - 1) * 10 + 7);
    assert.throws(() => parsePerfStat(csv.slice(0, -1).join('\n')), /futex/);
    assert.throws(() => parsePerfStat('<not counted>,,raw_syscalls:sys_enter,0,0.00,,'), /did not count/);

    const calls = (total: number): SyscallCounts => ({ ...counts, total, io_uring_enter: 0, recvmsg: 0, setsockopt: 0, epoll_pwait: 0 });
    const run = (backend: 'devmem' | 'zcrx', seconds: number, total: number): GuestSample => ({
      backend,
      bytes: 2 ** 25,
      seconds,
      cpuSeconds: seconds / 2,
      userSeconds: seconds / 4,
      fragments: 8192,
      recvmsgCalls: backend === 'zcrx' ? 0 : 512,
      dontneedCalls: backend === 'zcrx' ? 0 : 128,
      syscalls: calls(total),
    });
    const r: GuestReport = {
      kernel: 'test',
      bytes: 2 ** 25,
      runs: 2,
      samples: {
        'C recvmsg loop': [run('devmem', 0.3, 1000), run('devmem', 0.3, 1000)],
        DevmemSocket: [run('devmem', 0.4, 2000), run('devmem', 0.4, 2000)],
        'C zcrx loop': [run('zcrx', 0.2, 100), run('zcrx', 0.2, 100)],
        'DevmemSocket (zcrx)': [run('zcrx', 0.3, 500), run('zcrx', 0.3, 500)],
      },
    };
    const main = guestRows(r);
    assert.equal(main.length, 5);
    assert.deepEqual(main[4]!.slice(5), [String(500 * 32), '-', '-', '-'], 'zcrx rows make no recvmsg or DONTNEED calls');
    assert.equal(main[2]![6], String(512 * 32));
    const sys = guestSyscallRows(r);
    assert.equal(sys[1]![1], String(1000 * 32));
    const zcrx = guestZcrxRows(r);
    assert.deepEqual(zcrx[1], ['DevmemSocket (zcrx) / DevmemSocket', '1.33', '0.75', '0.25']);
    assert.equal(zcrx.length, 4);
    for (const s of Object.values(r.samples)) for (const x of s) delete x.syscalls;
    assert.deepEqual(guestSyscallRows(r), []);
    assert.equal(guestZcrxRows(r)[1]![3], 'n/a');
  });

  it("summarises the guest suite's batch sizes and its flows over queues", () => {
    const ours = (sizes: number[]): GuestSample => ({
      backend: 'devmem',
      bytes: 2 ** 25,
      seconds: 1,
      cpuSeconds: 0.5,
      fragments: 8192,
      recvmsgCalls: 100,
      dontneedCalls: 50,
      batches: sizes.reduce((a, b) => a + b, 0),
      batchSizes: sizes,
    });
    const flows = (workers: number, seconds: number) => ({
      workers,
      flows: 4,
      bytes: 2 ** 27,
      fragments: 32768,
      batches: 256,
      seconds,
      cpuSeconds: seconds / 2,
    });
    const r: GuestReport = {
      kernel: 'test',
      bytes: 2 ** 25,
      runs: 2,
      samples: {
        'C recvmsg loop': [ours([]), ours([])],
        DevmemSocket: [ours([0, 0, 0, 0, 0, 0, 10, 30]), ours([0, 0, 0, 0, 0, 0, 30, 10])],
      },
      scaling: { flows: 4, cpus: 1, samples: { '1 worker': [flows(1, 2), flows(1, 4)], '4 workers': [flows(4, 4), flows(4, 2)] } },
    };
    r.samples['C recvmsg loop']!.forEach((x) => delete x.batchSizes);
    const sizes = guestBatchRows(r);
    assert.equal(sizes.length, 2, 'only our receivers have batch sizes');
    assert.deepEqual(sizes[0]!.slice(0, 3), ['receiver (share of batches, median)', 'fragments per batch (median)', '1']);
    assert.equal(sizes[0]!.at(-1), '128-255');
    assert.deepEqual(sizes[1]!.slice(0, 2), ['DevmemSocket', '205']);
    assert.deepEqual(sizes[1]!.slice(-2), ['50%', '50%'], 'the median share over the runs');
    const sc = guestScalingRows(r);
    assert.deepEqual(
      sc.map((x) => x[0]),
      ['receivers', '4 flows, 1 worker', '4 flows, 4 workers'],
    );
    assert.equal(sc[1]!.at(-1), '1.00');
    assert.equal(sc[2]!.at(-1), '1.25 (0.50-2.00)', 'speed-ups are paired within each run');
    assert.equal(sc[1]![4], '128', 'fragments per batch');
    delete r.scaling;
    assert.deepEqual(guestScalingRows(r), []);
  });
});

// The hardware integration suite, unchanged, against the patched netdevsim
// pair: every case must pass (the soak for a few seconds), on both RX
// backends (the guest kernel has io_uring zcrx and the patched netdevsim
// serves it), so the suite that hardware hosts rely on cannot rot.
import * as assert from 'node:assert/strict';

import { HW_CASES, runHwSuite, type KtapRun } from '../helpers/hw-suite';

describe('hardware suite (npm run test:hw) on the patched netdevsim pair', function () {
  this.timeout(1_200_000);
  let run: KtapRun;

  before(async () => {
    run = await runHwSuite(['--soak', '5']);
  });

  it('exits 0 with KTAP output and the kselftest totals', () => {
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, new RegExp(`^KTAP version 1\\n1\\.\\.${HW_CASES.length}\\n`));
    const n = HW_CASES.length;
    assert.match(run.stdout, new RegExp(`^# Totals: pass:${n} fail:0 xfail:0 xpass:0 skip:0 error:0$`, 'm'));
    assert.match(run.stdout, new RegExp(`^# ${n} passed, 0 failed$`, 'm'));
  });

  it('runs the cases in order, each RX case on both backends', () => {
    const names = [...run.stdout.matchAll(/^(?:not )?ok \d+ (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(names, [...HW_CASES]);
    assert.match(run.stdout, /^# RX backends: devmem, zcrx$/m);
    assert.match(run.stdout, /^# io_uring zcrx: yes, copy statistics: yes$/m);
  });

  for (const name of HW_CASES) {
    it(`${name} passes`, () => {
      const r = run.results.get(name);
      assert.ok(r, `no result line for ${name}:\n${run.stdout}`);
      assert.ok(r.ok && r.skip === undefined, `${name}: ${r.skip ?? 'not ok'}\n${run.stdout}`);
    });
  }

  it('the soak reports throughput, fragments/s, DONTNEED calls and no tokens outstanding', () => {
    assert.match(run.stdout, /^# soak: [\d.]+ s, [\d.]+ GB, [\d.]+ Gb\/s$/m);
    assert.match(run.stdout, /^# soak: \d+ fragments, \d+ fragments\/s$/m);
    assert.match(run.stdout, /^# soak: \d+ DONTNEED calls \([\d.]+ per 1024 fragments\), 0 short$/m);
    assert.match(run.stdout, /^# soak: tokens outstanding at the end: 0$/m);
  });

  it('the zcrx soak reports throughput, fragments/s, refill-ring returns, no copies and no buffers outstanding', () => {
    assert.match(run.stdout, /^# soak \(zcrx\): [\d.]+ s, [\d.]+ GB, [\d.]+ Gb\/s$/m);
    assert.match(run.stdout, /^# soak \(zcrx\): \d+ fragments, \d+ fragments\/s$/m);
    assert.match(
      run.stdout,
      /^# soak \(zcrx\): \d+ buffers back on the refill ring, \d+ rearms, \d+ ALLOC_FAIL events, 0 bytes copied by the kernel$/m,
    );
    assert.match(run.stdout, /^# soak \(zcrx\): buffers outstanding at the end: 0$/m);
  });
});

// The hardware integration suite, unchanged, against the patched netdevsim
// pair: every case must pass (the soak for a few seconds), so the suite that
// hardware hosts rely on cannot rot.
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
    assert.match(run.stdout, /^KTAP version 1\n1\.\.8\n/);
    assert.match(run.stdout, /^# Totals: pass:8 fail:0 xfail:0 xpass:0 skip:0 error:0$/m);
    assert.match(run.stdout, /^# 8 passed, 0 failed$/m);
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
});

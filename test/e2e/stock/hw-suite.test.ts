// The hardware suite on the stock netdevsim (no devmem): the self-test probe
// skips, so every devmem case, and every zcrx case with it, skips with "no
// capable NIC" and the suite exits 4.
import * as assert from 'node:assert/strict';

import { HW_CASES, runHwSuite } from '../helpers/hw-suite';

describe('hardware suite (npm run test:hw) on stock netdevsim', function () {
  this.timeout(300_000);

  it('skips for want of a capable NIC, exit 4, with the NIC state still checked', async () => {
    const run = await runHwSuite();
    assert.equal(run.code, 4, run.stdout);
    assert.match(run.results.get('selftest')?.skip ?? '', /SKIP: bind-rx .*Device doesn't support DMA/);
    for (const name of HW_CASES.filter((n) => n !== 'selftest' && n !== 'nic_state_restored'))
      assert.match(run.results.get(name)?.skip ?? '', /^no capable NIC: /, name);
    assert.deepEqual(run.results.get('nic_state_restored'), { ok: true });
    assert.match(run.stdout, new RegExp(`^# 1 passed, 0 failed, ${HW_CASES.length - 1} skipped$`, 'm'));
  });
});

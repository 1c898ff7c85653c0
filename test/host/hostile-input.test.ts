import * as assert from 'node:assert/strict';

import { DevmemError } from '../../lib/index';
import { hostileCases, settled, type HostileFixture } from '../support/hostile-cases';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

// The host has no dma-buf exporter, so cases that need one run in the guest
// suite (test/e2e/devmem/hostile-input.test.ts); the rest run here against a
// veth pair in a namespace the test creates.
describe('hostile input at the public API (host kernel, veth)', function () {
  this.timeout(60_000);
  let veth: VethPair;
  let fx: HostileFixture;

  before(function () {
    requireRoot(this);
    veth = new VethPair(4, 4).create();
    fx = { ifname: veth.local, ifindex: veth.ifindex, rxQueues: 4 };
  });
  after(() => veth?.remove());

  const runnable = hostileCases.filter((c) => !c.needs?.length);
  it(`covers at least 40 inputs without a dma-buf (${runnable.length})`, () => {
    assert.ok(runnable.length >= 40, `${runnable.length} cases`);
  });

  for (const c of runnable) {
    it(`${c.name}: ${c.expect}`, async () => {
      const before = await settled(fx);
      let thrown: unknown;
      try {
        await c.run(fx);
      } catch (e) {
        thrown = e;
      }
      if (c.expect === 'TypeError') assert.ok(thrown instanceof TypeError, `expected a TypeError, got ${String(thrown)}`);
      else {
        assert.ok(thrown instanceof DevmemError, `expected DevmemError ${c.expect}, got ${String(thrown)}`);
        assert.equal(thrown.reason, c.expect, thrown.message);
        assert.ok(thrown.message.length > 10, 'the message says what was wrong');
      }
      assert.deepEqual(await settled(fx, before), before, 'nothing was left behind');
    });
  }
});

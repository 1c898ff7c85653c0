import { hostileCases, itRejectsHostileInput, type HostileFixture } from '../support/hostile-cases';
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

  itRejectsHostileInput(
    hostileCases.filter((c) => !c.needs?.length),
    () => fx,
    { scope: 'without a dma-buf', messageSaysWhat: true },
  );
});

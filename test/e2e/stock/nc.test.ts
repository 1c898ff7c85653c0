// `devmem nc` and NicConfig on the stock netdevsim, which has header split
// but no devmem, no n-tuple filters and no RSS table: the skip and
// NTUPLE_UNSUPPORTED paths, with the NIC left exactly as it was.
import * as assert from 'node:assert/strict';

import { DevmemError, ethtool, NicConfig, readNicState, type NicState } from '../../../lib/index';
import { e2eEnv } from '../helpers/env';
import { describeRun, runNc } from '../helpers/nc';

const env = e2eEnv();

describe('devmem nc and NicConfig on stock netdevsim', function () {
  this.timeout(120_000);
  let before: NicState;

  beforeEach(async () => {
    before = await readNicState(env.ifLocal);
  });
  afterEach(async () => {
    assert.deepEqual(await readNicState(env.ifLocal), before);
  });

  it('self-test mode exits 4 (skip): the device cannot take a binding', async () => {
    const r = await runNc(['-f', env.ifLocal]);
    assert.equal(r.code, 4, describeRun(r));
    assert.match(r.stderr, /skip: \S+ cannot do devmem RX: DEVICE_UNSUPPORTED/);
    assert.match(r.stderr, /devmem nc: SKIP/);
  });

  it('RX mode stops at the flow rule with NTUPLE_UNSUPPORTED, exit 4, and undoes header split', async () => {
    const r = await runNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', '7100', '-c', env.addr4Remote, '--json']);
    assert.equal(r.code, 4, describeRun(r));
    assert.match(r.stderr, /rx-ntuple-filter off and it cannot be turned on/);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(summary.reason, 'NTUPLE_UNSUPPORTED');
    assert.equal(summary.result, 'skip');
    assert.match(r.stderr, /undid: ethtool -G \S+ tcp-data-split on/);
  });

  it('with -n, RX mode never touches flow rules and fails at bind-rx instead', async () => {
    const r = await runNc(['-l', '-n', '-f', env.ifLocal, '-s', env.addr4Local, '-p', '7101']);
    assert.equal(r.code, 4, describeRun(r));
    assert.doesNotMatch(r.stderr, /ntuple|flow-type|NTUPLE/i);
    assert.match(r.stderr, /bind-rx of queues 3 on \S+: .*Device doesn't support DMA/);
  });

  it('NicConfig.steerFlow and ethtool.addFlowRule report NTUPLE_UNSUPPORTED and change nothing', async () => {
    const nic = await NicConfig.open(env.ifLocal);
    try {
      await assert.rejects(nic.steerFlow({ serverIp: env.addr6Local, port: 7102, queue: 1 }), (e: unknown) => {
        assert.ok(e instanceof DevmemError);
        assert.equal(e.reason, 'NTUPLE_UNSUPPORTED');
        return true;
      });
      assert.equal(nic.pending, false);
    } finally {
      nic.close();
    }
    assert.throws(
      () => ethtool.addFlowRule(env.ifLocal, { flowType: 'tcp6', dstIp: env.addr6Local, dstPort: 7102, queue: 1 }),
      (e: unknown) => e instanceof DevmemError && e.reason === 'NTUPLE_UNSUPPORTED',
    );
  });
});

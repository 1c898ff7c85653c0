// NicConfig on a real veth (which has channels but no header split, RSS or
// n-tuple filters): the undo stack, its order, dry runs, refusals that leave
// nothing behind, and the process hooks that restore on exit and signals.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';

import { DevmemError, ethtool, netdev, NicConfig, readNicState, zcrxSupport } from '../../lib/index';
import { start, type Exit } from '../support/process';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

async function rxCount(iface: string): Promise<number | undefined> {
  return (await ethtool.getChannels(iface)).rxCount;
}

describe('NicConfig', function () {
  this.timeout(30_000);
  let veth: VethPair;
  beforeEach(function () {
    requireRoot(this);
    veth = new VethPair(4, 4).create();
  });
  afterEach(() => veth?.remove());

  it('undoes a channel change on restore, and restore is idempotent', async () => {
    const nic = await NicConfig.open(veth.local);
    await nic.setChannels({ rxCount: 2 });
    assert.equal(await rxCount(veth.local), 2);
    assert.equal(nic.pending, true);
    nic.restore();
    assert.equal(await rxCount(veth.local), 4);
    assert.equal(nic.pending, false);
    assert.deepEqual(
      nic.steps.map((s) => [s.kind, s.state]),
      [['channels', 'undone']],
    );
    nic.restore();
    nic.close();
    await assert.rejects(nic.setChannels({ rxCount: 1 }), (e: unknown) => e instanceof DevmemError && e.reason === 'CLOSED');
  });

  it('unwinds in the kernel order, not the order of the calls, and newest first within a kind', async () => {
    const order: string[] = [];
    const nic = await NicConfig.open(veth.local, { onStep: (s) => s.state === 'undone' && order.push(s.description) });
    await nic.setChannels({ rxCount: 3 });
    await nic.setChannels({ txCount: 2 });
    await nic.setChannels({ rxCount: 1 });
    nic.close();
    assert.deepEqual(order, [`ethtool -L ${veth.local} rx 1`, `ethtool -L ${veth.local} tx 2`, `ethtool -L ${veth.local} rx 3`]);
    assert.deepEqual(await ethtool.getChannels(veth.local), { rxMax: 4, rxCount: 4, txMax: 4, txCount: 4 });
  });

  it('a dry run lists the steps and changes nothing', async () => {
    const before = await readNicState(veth.local);
    const nic = await NicConfig.open(veth.local, { dryRun: true });
    await nic.setChannels({ rxCount: 1 });
    await nic.steerFlow({ serverIp: '10.9.0.1', clientIp: '10.9.0.2', port: 4000, queue: 3 });
    nic.planBindRx([3]);
    await assert.rejects(
      nic.bindRx([3], 0),
      (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT' && /planBindRx/.test(e.message),
    );
    assert.deepEqual(
      nic.steps.map((s) => [s.kind, s.state]),
      [
        ['channels', 'planned'],
        ['ntuple-feature', 'planned'],
        ['flow-rule', 'planned'],
        ['bind-rx', 'planned'],
      ],
    );
    assert.match(
      nic.steps[2]!.description,
      /flow-type tcp4 src-ip 10\.9\.0\.2 dst-ip 10\.9\.0\.1 src-port 4000 dst-port 4000 action 3 \(or, if refused, .* dst-ip 10\.9\.0\.1 dst-port 4000 action 3\)/,
    );
    assert.equal(nic.pending, false);
    assert.deepEqual(await readNicState(veth.local), before);
  });

  it('a dry run plans a zcrx queue, checking its options as openZcrx() would', async () => {
    const before = await readNicState(veth.local);
    const nic = await NicConfig.open(veth.local, { dryRun: true });
    const MiB = 1024 * 1024;
    nic.planZcrx(3, { area: { size: 8 * MiB } });
    nic.planZcrx(2, { area: { size: 8 * MiB, kind: 'udmabuf' }, rxBufLen: 16384, rqEntries: 1024 });
    const invalid = (pattern: RegExp) => (e: unknown) =>
      e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT' && pattern.test(e.message);
    assert.throws(() => nic.planZcrx(3, { area: { size: 8 * MiB }, rqEntries: 3000 }), invalid(/power of two/));
    assert.throws(() => nic.planZcrx(3, { area: { size: 8 * MiB }, rqEntries: 1024 }), invalid(/too small for an area of 2048 buffers/));
    assert.throws(() => nic.planZcrx(3, { area: { size: 8 * MiB }, rxBufLen: 6000 }), invalid(/rxBufLen must be a power of two/));
    assert.throws(() => nic.planZcrx(3, { area: { size: 1000 } }), invalid(/multiple of the page size/));
    assert.throws(() => nic.planZcrx(-1, { area: { size: 8 * MiB } }), invalid(/queue must be a non-negative integer/));
    await assert.rejects(
      nic.openZcrx(3, { area: { size: 8 * MiB } }),
      (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT' && /planZcrx/.test(e.message),
    );
    assert.deepEqual(
      nic.steps.map((s) => [s.kind, s.state, s.description]),
      [
        ['zcrx', 'planned', `zcrx ${veth.local} queue 3: ${8 * MiB}-byte area of host memory, 4096-byte buffers, 2048 refill entries`],
        [
          'zcrx',
          'planned',
          `zcrx ${veth.local} queue 2: ${8 * MiB}-byte area of a udmabuf dma-buf, 16384-byte buffers, 1024 refill entries`,
        ],
      ],
    );
    assert.equal(nic.pending, false);
    nic.close();
    assert.deepEqual(await readNicState(veth.local), before);

    const live = await NicConfig.open(veth.local, { restoreOnExit: false });
    assert.throws(
      () => live.planZcrx(3, { area: { size: 8 * MiB } }),
      (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT' && /openZcrx/.test(e.message),
    );
    live.close();
  });

  it('a refused zcrx registration leaves nothing to undo and no io_uring owner on the queue', async () => {
    const nic = await NicConfig.open(veth.local);
    const support = zcrxSupport();
    // With zcrx in this build and kernel the veth itself refuses it (no queue
    // API); without it openZcrx() says so before registering anything.
    await assert.rejects(
      nic.openZcrx(1, { area: { size: 1024 * 1024 } }),
      (e: unknown) =>
        e instanceof DevmemError &&
        (support.zcrx ? e.reason === 'DEVICE_UNSUPPORTED' : e.reason === 'ZCRX_UNSUPPORTED' || e.reason === 'KERNEL_TOO_OLD'),
    );
    await assert.rejects(
      nic.openZcrx(1, { area: { size: 1024 * 1024 }, rqEntries: 100 }),
      (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT',
    );
    assert.equal(nic.pending, false);
    assert.deepEqual(nic.steps, []);
    const queues = (await netdev.listQueues(veth.ifindex)).filter((q) => q.type === 'rx');
    assert.equal(queues.length, 4);
    assert.deepEqual(
      queues.filter((q) => q.ioUring !== undefined),
      [],
    );
    nic.close();
    await assert.rejects(nic.openZcrx(1, { area: { size: 4096 } }), (e: unknown) => e instanceof DevmemError && e.reason === 'CLOSED');
  });

  it('a refused step leaves nothing to undo: NTUPLE_UNSUPPORTED, RSS_UNSUPPORTED, header split', async () => {
    const before = await readNicState(veth.local);
    const nic = await NicConfig.open(veth.local);
    await assert.rejects(
      nic.steerFlow({ serverIp: 'fd00::1', port: 1, queue: 1 }),
      (e: unknown) => e instanceof DevmemError && e.reason === 'NTUPLE_UNSUPPORTED',
    );
    await assert.rejects(nic.isolateQueues(2), (e: unknown) => e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED');
    await assert.rejects(nic.enableHeaderSplit(), (e: unknown) => e instanceof DevmemError && e.reason === 'DEVICE_UNSUPPORTED');
    await assert.rejects(nic.checkChannels(3, 2), (e: unknown) => e instanceof DevmemError && e.reason === 'TOO_FEW_QUEUES');
    await assert.rejects(nic.isolateQueues(0), (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT');
    assert.equal(nic.pending, false);
    assert.deepEqual(
      nic.steps.filter((s) => s.state !== 'done' || s.kind !== 'check-channels'),
      [],
    );
    nic.close();
    assert.deepEqual(await readNicState(veth.local), before);
  });

  it('reports every undo that fails as NIC_RESTORE_FAILED and still runs the rest', async () => {
    const nic = await NicConfig.open(veth.local);
    await nic.setChannels({ rxCount: 2 });
    await nic.setChannels({ txCount: 3 });
    veth.remove(); // the device is gone: both undos fail
    assert.throws(
      () => nic.close(),
      (e: unknown) =>
        e instanceof DevmemError &&
        e.reason === 'NIC_RESTORE_FAILED' &&
        /could not undo 2 change\(s\)/.test(e.message) &&
        e.cause instanceof AggregateError &&
        e.cause.errors.length === 2,
    );
    assert.deepEqual(
      nic.steps.map((s) => s.state),
      ['failed', 'failed'],
    );
  });

  describe('process hooks', () => {
    /** Runs the fixture; with `signal`, sends it once the fixture has made its change. */
    function runFixture(how: string, signal?: NodeJS.Signals): Promise<Exit> {
      const child = start([process.execPath, '--import', 'tsx', path.join(__dirname, 'fixtures/nic-exit.ts'), veth.local, how]);
      if (signal)
        void child.waitFor('changed\n', 'stdout').then(
          () => child.kill(signal),
          () => undefined,
        );
      return child.done;
    }

    it('restore on an uncaught exception, after Node has reported the cause', async () => {
      const r = await runFixture('throw');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the cause the user must see/);
      assert.equal(await rxCount(veth.local), 4);
    });

    it('restore on process.exit()', async () => {
      const r = await runFixture('exit');
      assert.equal(r.code, 3);
      assert.equal(await rxCount(veth.local), 4);
    });

    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      it(`restore on ${sig}, then die of it as the process would have`, async () => {
        const r = await runFixture('wait', sig);
        assert.equal(r.signal, sig, r.stderr);
        assert.equal(await rxCount(veth.local), 4);
      });
    }

    it("restore on SIGTERM but leave the exit to the program's own handler", async () => {
      const r = await runFixture('user-sigterm', 'SIGTERM');
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stdout, /user handler/);
      assert.equal(await rxCount(veth.local), 4);
    });
  });
});

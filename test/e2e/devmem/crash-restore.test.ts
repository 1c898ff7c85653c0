// The crash journal against the patched netdevsim: `devmem nc -l` killed with
// SIGKILL mid-transfer (which no hook survives) leaves header split, RSS, the
// n-tuple feature and its rule changed, and the journal that `devmem restore`
// and the next `devmem nc` undo them from; corrupt journals and live owners
// are refused with nothing changed.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';

import { DevmemError, ethtool, netdev, NicConfig, readNicState, type NicState } from '../../../lib/index';
import { runLocal } from '../../hw/local';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, ncReceive, startNc, startPeer, type NcProcess } from '../helpers/nc';

const env = e2eEnv();
let nextPort = 7801;

const journalFile = () => `/run/devmem-tcp/nic-${fs.statSync('/proc/self/ns/net').ino}-${env.ifLocal}.json`;
const restore = (...args: string[]) => runLocal(['restore', ...args]);

/** The undo lines of `devmem restore`, as `VERB: first word of the step`. */
function undoLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('  '))
    .map((l) => {
      const [verb, what] = l.trim().split(': ');
      return `${verb}: ${what!.split(' ').slice(0, 2).join(' ')}`;
    });
}

describe('crash journal: devmem nc killed with SIGKILL, then devmem restore', function () {
  this.timeout(180_000);
  const nicState = checkNicStateKept(env.ifLocal);

  // Every field nc touches differs from its default, so every undo shows.
  async function customise(): Promise<NicState> {
    ethtool.setNtupleFilter(env.ifLocal, false);
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'disabled', hdsThresh: 128 });
    const custom = Uint32Array.from({ length: ethtool.getRssIndirection(env.ifLocal).length }, (_, i) => (i * 3) % env.queues);
    ethtool.setRssIndirection(env.ifLocal, custom);
    return readNicState(env.ifLocal);
  }

  async function backToDefaults(): Promise<void> {
    fs.rmSync(journalFile(), { force: true });
    ethtool.setRssIndirection(env.ifLocal, null);
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'unknown', hdsThresh: nicState.state().hdsThresh ?? 0 });
    ethtool.setNtupleFilter(env.ifLocal, true);
  }

  /** Starts `devmem nc -l`, feeds it a stream until it has the connection, and returns it receiving. */
  async function receiving(extra: string[] = []): Promise<{ nc: NcProcess; stop(): Promise<void> }> {
    const port = nextPort++;
    const nc = startNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(port), '-c', env.addr4Remote, '-v', '7', ...extra]);
    await nc.waitFor('waiting for a connection');
    const peer = startPeer(['stream', '--host', env.addr4Local, '--port', String(port), '--bind', env.addr4Remote, '--pattern', '7']);
    await nc.waitFor('got connection');
    return {
      nc,
      stop: async () => {
        peer.child.kill();
        await peer.done;
      },
    };
  }

  /** SIGKILLs a receiving nc and checks it left its changes and its journal. */
  async function kill(nc: NcProcess, stop: () => Promise<void>): Promise<void> {
    nc.child.kill('SIGKILL');
    const r = await nc.done;
    await stop();
    assert.equal(r.signal, 'SIGKILL', describeRun(r));
    assert.doesNotMatch(r.stderr, /undid: /, 'nothing can restore on SIGKILL');
    const left = await readNicState(env.ifLocal);
    assert.equal(left.tcpDataSplit, 'enabled');
    assert.equal(left.ntupleFilter, true);
    assert.equal(left.flowRules?.length, 1);
    assert.ok(fs.existsSync(journalFile()), `no journal at ${journalFile()}`);
  }

  it('SIGKILL mid-transfer leaves the journal; devmem restore undoes it in the kernel order to the state before; again, a no-op', async () => {
    const start = await customise();
    try {
      const { nc, stop } = await receiving();
      const during = await readNicState(env.ifLocal);
      assert.notDeepEqual(during, start);
      await kill(nc, stop);
      const journal = JSON.parse(fs.readFileSync(journalFile(), 'utf8')) as { snapshot: NicState; steps: { state: string }[] };
      assert.deepEqual(journal.snapshot, start, "the journal's snapshot is the state before the run");
      assert.ok(
        journal.steps.every((s) => s.state === 'done'),
        'every change was made and recorded',
      );

      const r = await restore(env.ifLocal);
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(undoLines(r.stdout), [
        `released with its process: bind-rx ${env.ifLocal}`,
        `undid: ethtool -N`,
        `undid: ethtool -K`,
        `undid: ethtool -X`,
        `undid: ethtool -G`,
      ]);
      assert.match(r.stdout, new RegExp(`${env.ifLocal}: restored, journal removed`));
      assert.deepEqual(await readNicState(env.ifLocal), start);
      assert.equal(fs.existsSync(journalFile()), false);

      const again = await restore(env.ifLocal);
      assert.equal(again.code, 0, describeRun(again));
      assert.equal(again.stdout, 'nothing to restore\n');
      const all = await restore();
      assert.equal(all.code, 0, describeRun(all));
      assert.match(all.stdout, /^nothing to restore$/m);
      assert.deepEqual(await readNicState(env.ifLocal), start);
    } finally {
      await backToDefaults();
    }
  });

  it('SIGKILL of devmem nc --zcrx: devmem restore waits for the kernel to release the queue, then undoes the rest', async () => {
    const start = await customise();
    try {
      const { nc, stop } = await receiving(['--zcrx']);
      const { ifindexLocal } = env;
      const owned = (await netdev.listQueues(ifindexLocal)).filter((q) => q.type === 'rx' && q.ioUring !== undefined);
      assert.equal(owned.length, 1, 'nc receives through a zcrx queue');
      await kill(nc, stop);
      const r = await restore(env.ifLocal);
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(undoLines(r.stdout)[0], `released with its process: zcrx ${env.ifLocal}`);
      assert.match(r.stdout, /undid: ethtool -G/);
      assert.deepEqual(await readNicState(env.ifLocal), start);
    } finally {
      await backToDefaults();
    }
  });

  it('a change already undone by hand (the flow rule deleted) is reported already gone, and the rest undone, exit 0', async () => {
    const { nc, stop } = await receiving();
    await kill(nc, stop);
    const [rule] = ethtool.listFlowRules(env.ifLocal).rules;
    ethtool.deleteFlowRule(env.ifLocal, rule!.location);
    const r = await restore(env.ifLocal);
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(undoLines(r.stdout).slice(0, 2), [`released with its process: bind-rx ${env.ifLocal}`, 'already gone: ethtool -N']);
    assert.match(r.stdout, /undid: ethtool -G/);
    assert.equal(fs.existsSync(journalFile()), false);
    // checkNicStateKept: everything else is back as before.
  });

  it('the next devmem nc -l recovers an interface a killed one left dirty, says so, and its own run works and restores', async () => {
    const { nc, stop } = await receiving();
    await kill(nc, stop);
    const pid = (JSON.parse(fs.readFileSync(journalFile(), 'utf8')) as { owner: { pid: number } }).owner.pid;
    const port = nextPort++;
    const r = await ncReceive(['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7'], {
      host: env.addr4Local,
      port,
      from: env.addr4Remote,
      bytes: 1 << 20,
      period: 7,
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, new RegExp(`recovering: ${env.ifLocal} has changes left by pid ${pid}, which is gone`));
    assert.match(
      r.stderr,
      /recovered: released: bind-rx[^\n]*\nrecovered: undone: ethtool -N[^\n]*\n(recovered: undone: ethtool -X[^\n]*\n)?recovered: undone: ethtool -G/,
    );
    // Its own changes come after the recovery, and go back at its end.
    assert.match(
      r.stderr,
      /recovered: undone: ethtool -G[\s\S]*did: ethtool -G[\s\S]*client exited: 1048576 bytes[\s\S]*undid: ethtool -G/,
    );
    assert.equal(fs.existsSync(journalFile()), false);
    // checkNicStateKept: the state is what it was before the killed run.
  });

  it('a corrupt journal: devmem restore and devmem nc fail with JOURNAL_CORRUPT naming the file, and change nothing', async () => {
    const before = await readNicState(env.ifLocal);
    fs.mkdirSync('/run/devmem-tcp', { recursive: true, mode: 0o700 });
    fs.writeFileSync(journalFile(), '{"format": "devmem-tcp-nic-journal", "version": 1, "owner": ');
    try {
      const r = await restore(env.ifLocal);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, new RegExp(`the NIC journal ${journalFile().replace(/\./g, '\\.')} is unusable: not JSON`));
      assert.match(r.stderr, /delete the file/);
      const nc = await startNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(nextPort++), '--json']).done;
      assert.equal(nc.code, 1, describeRun(nc));
      const summary = JSON.parse(nc.stdout.trim().split('\n').at(-1)!) as { event: string; reason: string };
      assert.equal(summary.event, 'summary');
      assert.equal(summary.reason, 'JOURNAL_CORRUPT');
      assert.doesNotMatch(nc.stderr, /^did: /m);
      assert.deepEqual(await readNicState(env.ifLocal), before);
      assert.ok(fs.existsSync(journalFile()), 'the journal is left for a person to inspect');
    } finally {
      fs.rmSync(journalFile(), { force: true });
    }
  });

  it('while devmem nc lives, NicConfig.open and devmem restore refuse with NIC_IN_USE naming its pid', async () => {
    const port = nextPort++;
    const nc = startNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(port), '-c', env.addr4Remote, '-v', '7']);
    try {
      await nc.waitFor('waiting for a connection');
      const { owner } = JSON.parse(fs.readFileSync(journalFile(), 'utf8')) as { owner: { pid: number } };
      assert.match(fs.readFileSync(`/proc/${owner.pid}/cmdline`, 'latin1'), /devmem\.js\0nc\0-l/, 'the journal names nc as its owner');
      await assert.rejects(
        NicConfig.open(env.ifLocal),
        (e: unknown) => e instanceof DevmemError && e.reason === 'NIC_IN_USE' && e.message.includes(`pid ${owner.pid} (`),
      );
      const r = await restore(env.ifLocal);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, new RegExp(`being configured by pid ${owner.pid} `));
      const all = await restore();
      assert.equal(all.code, 0, describeRun(all));
      assert.match(all.stdout, new RegExp(`${env.ifLocal}: left alone, pid ${owner.pid} .* is still using it`));
    } finally {
      nc.child.kill('SIGTERM');
      await nc.done;
    }
    assert.equal(fs.existsSync(journalFile()), false, 'SIGTERM restored and removed the journal');
  });
});

// The crash journal on a real veth (channels are the one setting a veth lets
// NicConfig change): written ahead of each change, removed on restore, and
// after a real SIGKILL of a real child, undone by NicConfig.open(),
// recoverNic() and `devmem restore`; live owners, reused pids, corrupt and
// foreign journals refused with nothing changed.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DevmemError, ethtool, listNicJournals, NicConfig, readNicState, recoverNic } from '../../lib/index';
import { run, start, type Started } from '../support/process';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(__dirname, 'fixtures/nic-exit.ts');

interface Doc {
  format: string;
  version: number;
  owner: { pid: number; startTime: number; pidns: number; command: string } | null;
  interface: { ifname: string; ifindex: number; netns: number };
  snapshot: unknown;
  steps: { id: number; state: string; description: string; undo: Record<string, unknown> }[];
}

const netns = () => fs.statSync('/proc/self/ns/net').ino;
const startTime = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[19]);
const rxCount = async (iface: string) => (await ethtool.getChannels(iface)).rxCount;
const isReason = (reason: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof DevmemError && e.reason === reason && (pattern === undefined || pattern.test(e.message));

describe('NIC crash journal', function () {
  this.timeout(30_000);
  let veth: VethPair;
  let dir: string;
  let file: string;
  const savedDir = process.env.DEVMEM_TCP_JOURNAL_DIR;
  const children: Started[] = [];

  const read = (): Doc => JSON.parse(fs.readFileSync(file, 'utf8')) as Doc;
  const write = (doc: unknown) => fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));

  /** The fixture: changes rx channels to 1 through NicConfig, prints "changed" and waits. */
  async function startOwner(): Promise<Started> {
    const child = start([process.execPath, '--import', 'tsx', FIXTURE, veth.local, 'wait']);
    children.push(child);
    await child.waitFor('changed\n', 'stdout');
    return child;
  }

  async function killedOwner(): Promise<number> {
    const child = await startOwner();
    const pid = child.child.pid!;
    child.kill('SIGKILL');
    const r = await child.done;
    assert.equal(r.signal, 'SIGKILL');
    return pid;
  }

  beforeEach(function () {
    requireRoot(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmt-journal-'));
    process.env.DEVMEM_TCP_JOURNAL_DIR = dir; // children inherit it
    veth = new VethPair(4, 4).create();
    file = path.join(dir, `nic-${netns()}-${veth.local}.json`);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGKILL');
      await c.done;
    }
    veth?.remove();
    if (savedDir === undefined) delete process.env.DEVMEM_TCP_JOURNAL_DIR;
    else process.env.DEVMEM_TCP_JOURNAL_DIR = savedDir;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('journals each change ahead of it, with owner, device and snapshot, and removes the journal on restore', async () => {
    const before = await readNicState(veth.local);
    const seen: string[] = [];
    const nic = await NicConfig.open(veth.local, {
      // onStep runs after the change and before its 'done' is written: the
      // intent is already in the journal while the kernel has the change.
      onStep: (s) => {
        if (s.state !== 'done') return;
        seen.push(read().steps.at(-1)!.state);
      },
    });
    assert.equal(fs.existsSync(file), false, 'open() alone writes no journal');
    await nic.setChannels({ rxCount: 2 });
    await nic.setChannels({ txCount: 3 });
    assert.deepEqual(seen, ['intent', 'intent']);
    const doc = read();
    assert.equal(doc.format, 'devmem-tcp-nic-journal');
    assert.equal(doc.version, 1);
    assert.deepEqual(doc.owner && { pid: doc.owner.pid, startTime: doc.owner.startTime }, {
      pid: process.pid,
      startTime: startTime(process.pid),
    });
    assert.deepEqual(doc.interface, { ifname: veth.local, ifindex: veth.ifindex, netns: netns() });
    assert.deepEqual(doc.snapshot, before);
    assert.deepEqual(
      doc.steps.map((s) => [s.state, s.undo]),
      [
        ['done', { kind: 'channels', back: { rxCount: 4 } }],
        ['done', { kind: 'channels', back: { txCount: 4 } }],
      ],
    );
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    // Nothing but the journal is left in the directory (no temp files).
    assert.deepEqual(fs.readdirSync(dir), [path.basename(file)]);
    nic.close();
    assert.equal(fs.existsSync(file), false);
    assert.deepEqual(await readNicState(veth.local), before);
  });

  it('without the override, journals go to /run/devmem-tcp, a 0700 directory', async () => {
    delete process.env.DEVMEM_TCP_JOURNAL_DIR;
    const nic = await NicConfig.open(veth.local);
    try {
      await nic.setChannels({ rxCount: 2 });
      const st = fs.statSync('/run/devmem-tcp');
      assert.equal(st.mode & 0o777, 0o700);
      assert.equal(st.uid, 0);
      assert.ok(fs.existsSync(`/run/devmem-tcp/nic-${netns()}-${veth.local}.json`));
    } finally {
      nic.close();
    }
    assert.equal(fs.existsSync(`/run/devmem-tcp/nic-${netns()}-${veth.local}.json`), false);
  });

  it('a change the kernel refuses leaves no journal entry (nor file) behind', async () => {
    const nic = await NicConfig.open(veth.local);
    // veth cannot turn rx-ntuple-filter on: the intent was written, then dropped.
    await assert.rejects(nic.steerFlow({ serverIp: '10.9.0.1', port: 4000, queue: 1 }), isReason('NTUPLE_UNSUPPORTED'));
    assert.deepEqual(fs.readdirSync(dir), []);
    await nic.setChannels({ rxCount: 2 });
    await assert.rejects(nic.steerFlow({ serverIp: '10.9.0.1', port: 4000, queue: 1 }), isReason('NTUPLE_UNSUPPORTED'));
    assert.deepEqual(
      read().steps.map((s) => s.undo.kind),
      ['channels'],
    );
    nic.close();
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('a dry run writes no journal', async () => {
    const nic = await NicConfig.open(veth.local, { dryRun: true });
    await nic.setChannels({ rxCount: 1 });
    nic.close();
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('after a SIGKILL, NicConfig.open() undoes what the dead owner left, says so, and its own run works', async () => {
    const pid = await killedOwner();
    assert.equal(await rxCount(veth.local), 1, 'SIGKILL left the change');
    assert.equal(read().owner?.pid, pid);
    const nic = await NicConfig.open(veth.local);
    assert.equal(await rxCount(veth.local), 4);
    assert.equal(nic.recovered?.owner?.pid, pid);
    assert.deepEqual(
      nic.recovered?.steps.map((s) => [s.kind, s.outcome, s.description]),
      [['channels', 'undone', `ethtool -L ${veth.local} rx 1`]],
    );
    assert.equal(fs.existsSync(file), false);
    await nic.setChannels({ rxCount: 3 });
    assert.equal(read().owner?.pid, process.pid);
    nic.close();
    assert.equal(await rxCount(veth.local), 4);
    assert.equal(fs.existsSync(file), false);
  });

  it("recoverNic() undoes a dead owner's changes once; the second call finds nothing", async () => {
    await killedOwner();
    const listed = listNicJournals().filter((j) => j.file === file);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.ownerAlive, false);
    const report = await recoverNic(veth.local);
    assert.deepEqual(
      report?.steps.map((s) => s.outcome),
      ['undone'],
    );
    assert.equal(await rxCount(veth.local), 4);
    assert.equal(await recoverNic(veth.local), null);
  });

  it('`devmem restore` lists what it undid and exits 0; a second run says nothing to restore', async () => {
    const pid = await killedOwner();
    const cli = (...args: string[]) => run([process.execPath, '--import', 'tsx', path.join(ROOT, 'bin/devmem.ts'), 'restore', ...args]);
    const dry = await cli(veth.local, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would undo: ethtool -L ${veth.local} rx 1`));
    assert.equal(await rxCount(veth.local), 1, 'a dry run changes nothing');
    const first = await cli(veth.local);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`${veth.local}: changes left by pid ${pid} `));
    assert.match(first.stdout, new RegExp(`undid: ethtool -L ${veth.local} rx 1\\n${veth.local}: restored, journal removed`));
    assert.equal(await rxCount(veth.local), 4);
    const second = await cli();
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^nothing to restore$/m);
  });

  it('`devmem restore --json` gives the report as one document', async () => {
    const pid = await killedOwner();
    const r = await run([process.execPath, '--import', 'tsx', path.join(ROOT, 'bin/devmem.ts'), 'restore', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      dryRun: boolean;
      restored: { ifname: string; owner: { pid: number }; steps: { outcome: string }[] }[];
    };
    assert.equal(doc.dryRun, false);
    assert.deepEqual(
      doc.restored.map((x) => [x.ifname, x.owner.pid, x.steps.map((s) => s.outcome)]),
      [[veth.local, pid, ['undone']]],
    );
    assert.equal(await rxCount(veth.local), 4);
  });

  it('an undo the kernel refuses fails loudly, and its step stays journalled, disowned, for another try', async () => {
    await killedOwner();
    const doc = read();
    // More RX channels than the veth has: the kernel refuses this undo.
    doc.steps.push({ id: 9, state: 'done', description: 'an impossible channel count', undo: { kind: 'channels', back: { rxCount: 99 } } });
    write(doc);
    const cli = await run([process.execPath, '--import', 'tsx', path.join(ROOT, 'bin/devmem.ts'), 'restore', veth.local]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stdout, /FAILED to undo: an impossible channel count: /);
    assert.match(cli.stdout, new RegExp(`undid: ethtool -L ${veth.local} rx 1`));
    assert.match(cli.stderr, /could not undo 1 change\(s\) left on .* they stay in /);
    assert.equal(await rxCount(veth.local), 4, 'the other undo still ran');
    const left = read();
    assert.equal(left.owner, null);
    assert.deepEqual(
      left.steps.map((s) => s.description),
      ['an impossible channel count'],
    );
    await assert.rejects(NicConfig.open(veth.local), isReason('NIC_RESTORE_FAILED', /an impossible channel count/));
    fs.rmSync(file);
  });

  it('while the owner lives, open() and recoverNic() refuse with NIC_IN_USE naming its pid, and change nothing', async () => {
    const owner = await startOwner();
    const pid = owner.child.pid!;
    const inUse = isReason('NIC_IN_USE', new RegExp(`pid ${pid} \\(`));
    await assert.rejects(NicConfig.open(veth.local), inUse);
    await assert.rejects(recoverNic(veth.local), inUse);
    assert.equal(await rxCount(veth.local), 1);
    assert.equal(read().owner?.pid, pid);
    // A dry run would fail the same way; a bind-only one does not look.
    await assert.rejects(NicConfig.open(veth.local, { dryRun: true }), inUse);
    (await NicConfig.open(veth.local, { bindOnly: true })).close();
    owner.kill('SIGTERM'); // its hooks restore, and remove the journal
    await owner.done;
    assert.equal(fs.existsSync(file), false);
    assert.equal(await rxCount(veth.local), 4);
  });

  it('a second NicConfig of the same process on the interface is refused while the first has changes', async () => {
    const a = await NicConfig.open(veth.local);
    await a.setChannels({ rxCount: 2 });
    await assert.rejects(NicConfig.open(veth.local), isReason('NIC_IN_USE', /this process/));
    a.close();
    (await NicConfig.open(veth.local)).close();
  });

  it('a reused pid is not the owner: the start time differs, so the journal counts as dead', async () => {
    await killedOwner();
    const live = await startOwnerless();
    const doc = read();
    doc.owner!.pid = live.child.pid!; // alive, but not the process that wrote it
    write(doc);
    const nic = await NicConfig.open(veth.local);
    assert.deepEqual(
      nic.recovered?.steps.map((s) => s.outcome),
      ['undone'],
    );
    nic.close();
    assert.equal(await rxCount(veth.local), 4);
  });

  /** Any live process other than this one. */
  async function startOwnerless(): Promise<Started> {
    const child = start([process.execPath, '-e', 'process.stdout.write("up\\n"); setInterval(() => {}, 1000)']);
    children.push(child);
    await child.waitFor('up\n', 'stdout');
    return child;
  }

  it('a dry run lists what it would recover, and changes nothing', async () => {
    await killedOwner();
    const nic = await NicConfig.open(veth.local, { dryRun: true });
    assert.equal(nic.recovered?.dryRun, true);
    assert.deepEqual(
      nic.recovered?.steps.map((s) => s.outcome),
      ['planned'],
    );
    assert.equal(await rxCount(veth.local), 1);
    assert.ok(fs.existsSync(file));
  });

  it('a change a SIGKILL stopped after its intent was journalled is undone tolerantly', async () => {
    // What a kill between the journal write and the kernel call leaves.
    await killedOwner();
    const doc = read();
    doc.steps.push({
      id: 9,
      state: 'intent',
      description: `ethtool -L ${veth.local} tx 2`,
      undo: { kind: 'channels', back: { txCount: 4 } },
    });
    write(doc);
    const report = await recoverNic(veth.local);
    assert.deepEqual(
      report?.steps.map((s) => [s.description, s.outcome]),
      [
        [`ethtool -L ${veth.local} tx 2`, 'undone'],
        [`ethtool -L ${veth.local} rx 1`, 'undone'],
      ],
    );
    assert.deepEqual(await ethtool.getChannels(veth.local), { rxMax: 4, rxCount: 4, txMax: 4, txCount: 4 });
  });

  describe('unusable journals: a clear error naming the file, and nothing changed', () => {
    beforeEach(async () => {
      await killedOwner();
    });

    const cases: [string, (d: Doc) => unknown, string, RegExp][] = [
      ['not JSON', () => '{"format": "devmem-tcp-nic-jou', 'JOURNAL_CORRUPT', /not JSON/],
      ['another format', (d) => ({ ...d, format: 'something-else' }), 'JOURNAL_CORRUPT', /format is "something-else"/],
      ['a newer version', (d) => ({ ...d, version: 2 }), 'JOURNAL_CORRUPT', /version 2; this devmem-tcp reads version 1/],
      [
        'a step of an unknown kind',
        (d) => ({ ...d, steps: [{ ...d.steps[0], undo: { kind: 'teleport' } }] }),
        'JOURNAL_CORRUPT',
        /step 0 .*"teleport"/,
      ],
      [
        'a malformed step',
        (d) => ({ ...d, steps: [{ ...d.steps[0], undo: { kind: 'channels', back: { rxCount: -1 } } }] }),
        'JOURNAL_CORRUPT',
        /step 0/,
      ],
      [
        'another device of the same name',
        (d) => ({ ...d, interface: { ...d.interface, ifindex: d.interface.ifindex + 1000 } }),
        'JOURNAL_FOREIGN',
        /re-created or renamed/,
      ],
      ['another network namespace', (d) => ({ ...d, interface: { ...d.interface, netns: 1 } }), 'JOURNAL_FOREIGN', /network namespace 1/],
    ];
    for (const [what, mangle, reason, detail] of cases) {
      it(`${what}: ${reason}`, async () => {
        const text = ((m) => (typeof m === 'string' ? m : JSON.stringify(m)))(mangle(read()));
        write(text);
        const bad = (e: unknown) =>
          isReason(reason, detail)(e) && (e as Error).message.includes(file) && /delete/.test((e as Error).message);
        await assert.rejects(NicConfig.open(veth.local), bad);
        await assert.rejects(recoverNic(veth.local), bad);
        await assert.rejects(NicConfig.open(veth.local, { dryRun: true }), bad);
        assert.equal(await rxCount(veth.local), 1);
        assert.equal(fs.readFileSync(file, 'utf8'), text);
      });
    }
  });

  it('a journal whose device is gone is removed, its steps reported gone with the device', async () => {
    await killedOwner();
    const name = veth.local;
    veth.remove();
    const report = await recoverNic(name);
    assert.deepEqual(
      report?.steps.map((s) => s.outcome),
      ['device gone'],
    );
    assert.equal(fs.existsSync(file), false);
  });
});

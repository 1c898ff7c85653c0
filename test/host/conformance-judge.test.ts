// The conformance mode's judge (scripts/vm/lib/{ktap,conformance}.mjs): the
// KTAP that the kernel's Python selftests print, fed in exactly as ksft.py
// writes it, and the rules that turn each case into a pass, a skip or a failure.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The harness is plain JavaScript modules; these are the shapes the test uses.
interface KtapCase {
  name: string;
  status: 'pass' | 'fail' | 'skip' | 'xfail';
  comment: string;
  log: string[];
}
interface Verdict {
  ok: boolean;
  passed: number;
  skipped: number;
  failed: number;
  failedTests: { title: string }[];
  problems: string[];
  reruns: { file: string; firstRun: string }[];
}
interface Harness {
  parseKtap(text: string): { plan?: number; cases: KtapCase[] };
  judgeConformance(args: { mode: string; boot: object; jobDir: string; job: object; consoleLines: string[] }): Verdict;
  suiteOutputFiles(dir: string, file: string): { tap: string; exit: string; rerunTap: string; rerunExit: string };
  SELFTEST_FILES: string[];
  checkFamily(spec: object, yaml: object): string[];
}
let h: Harness;
before(async () => {
  const lib = path.join(__dirname, '../../scripts/vm/lib');
  h = {
    ...((await import(path.join(lib, 'ktap.mjs'))) as Pick<Harness, 'parseKtap'>),
    ...((await import(path.join(lib, 'conformance.mjs'))) as Pick<Harness, 'judgeConformance' | 'suiteOutputFiles'>),
    ...((await import(path.join(lib, 'selftests.mjs'))) as Pick<Harness, 'SELFTEST_FILES'>),
    ...((await import(path.join(lib, 'spec-check.mjs'))) as Pick<Harness, 'checkFamily'>),
  };
});

const DEVMEM_OK = `# Interface: eth0, driver: netdevsim
TAP version 13
1..5
ok 1 devmem.check_rx
ok 2 devmem.check_tx
ok 3 devmem.check_tx_chunks
ok 4 devmem.check_rx_hds
ok 5 devmem.check_rx_large_niov # SKIP Test requires devmem rx-page-size=16384 support
# Totals: pass:4 fail:0 xfail:0 xpass:0 skip:1 error:0
`;

function jobWith(outputs: Record<string, [string, number | undefined]>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-judge-'));
  for (const [file, [tap, exit]] of Object.entries(outputs)) {
    const out = h.suiteOutputFiles(dir, file);
    fs.writeFileSync(out.tap, tap);
    if (exit !== undefined) fs.writeFileSync(out.exit, `${exit}\n`);
  }
  return dir;
}

const cleanBoot = { timedOut: false, wallMs: 1000, exitCode: 0 };
const cleanJob = { dmesg: '[    1.0] netdevsim: ok\n' };

describe('conformance judge', () => {
  it('parses ksft KTAP: plan, results, SKIP and XFAIL comments, colour codes, and the log before each case', () => {
    const r = h.parseKtap(
      `TAP version 13\n1..3\n# some diagnostic\n\x1b[32mok 1 x.a\x1b[0m\nnot ok 2 x.b\n\x1b[33mok 3 x.c # XFAIL known\x1b[0m\n`,
    );
    assert.equal(r.plan, 3);
    assert.deepEqual(
      r.cases.map((c) => [c.name, c.status, c.comment]),
      [
        ['x.a', 'pass', ''],
        ['x.b', 'fail', ''],
        ['x.c', 'xfail', 'known'],
      ],
    );
    assert.deepEqual(r.cases[0]!.log, ['TAP version 13', '# some diagnostic']);
    assert.equal(h.parseKtap(DEVMEM_OK).cases[4]!.status, 'skip');
  });

  it("passes a run whose only skips are those the kernel's ncdevmem takes too", () => {
    const nk = DEVMEM_OK.replace(/devmem\.check_/g, 'nk_devmem.check_nk_');
    const userns = 'TAP version 13\n1..1\nok 1 userns_devmem.check_userns_rx\n';
    const dir = jobWith({ 'devmem.py': [DEVMEM_OK, 0], 'nk_devmem.py': [nk, 0], 'userns_devmem.py': [userns, 0] });
    const v = h.judgeConformance({ mode: 'conformance', boot: cleanBoot, jobDir: dir, job: cleanJob, consoleLines: [] });
    assert.deepEqual([v.ok, v.passed, v.skipped, v.failed], [true, 9, 2, 0], JSON.stringify(v, null, 2));
  });

  it('fails any other skip, a "not ok", a short plan, a missing suite, a timeout and a kernel warning', () => {
    const skipped = DEVMEM_OK.replace('ok 2 devmem.check_tx', 'ok 2 devmem.check_tx # SKIP Test requires devmem support');
    const failed = 'TAP version 13\n1..2\nnot ok 1 nk_devmem.check_nk_rx\n';
    const dir = jobWith({ 'devmem.py': [skipped, 0], 'nk_devmem.py': [failed, 124] });
    const v = h.judgeConformance({
      mode: 'conformance',
      boot: cleanBoot,
      jobDir: dir,
      job: { dmesg: '[ 3.0] WARNING: CPU: 0 PID: 1 at net/core/devmem.c\n' },
      consoleLines: [],
    });
    assert.equal(v.ok, false);
    const titles = v.failedTests.map((t) => t.title);
    assert.deepEqual(titles, ['devmem.py: devmem.check_tx', 'nk_devmem.py: nk_devmem.check_nk_rx']);
    const problems = v.problems.join('\n');
    assert.match(problems, /nk_devmem\.py planned 2 cases but reported 1/);
    assert.match(problems, /nk_devmem\.py ran past its time limit/);
    assert.match(problems, /userns_devmem\.py did not run/);
    assert.match(problems, /kernel log has 1 problem line/);
    assert.equal(v.failed, 2 + 4);
  });

  it('judges a suite that failed by its last run, reporting the first; failing every time fails', () => {
    const nkOk = DEVMEM_OK.replace(/devmem\.check_/g, 'nk_devmem.check_nk_');
    const nkFailed = nkOk.replace(
      'ok 4 nk_devmem.check_nk_rx_hds',
      '# Exception| Waiting for port listen timed out\nnot ok 4 nk_devmem.check_nk_rx_hds',
    );
    const userns = 'TAP version 13\n1..1\nok 1 userns_devmem.check_userns_rx\n';
    const judge = (rerun: string) => {
      const dir = jobWith({ 'devmem.py': [DEVMEM_OK, 0], 'nk_devmem.py': [nkFailed, 1], 'userns_devmem.py': [userns, 0] });
      const out = h.suiteOutputFiles(dir, 'nk_devmem.py');
      fs.writeFileSync(out.rerunTap, rerun);
      fs.writeFileSync(out.rerunExit, rerun === nkOk ? '0\n' : '1\n');
      return h.judgeConformance({ mode: 'conformance', boot: cleanBoot, jobDir: dir, job: cleanJob, consoleLines: [] });
    };
    const passedAgain = judge(nkOk);
    assert.deepEqual([passedAgain.ok, passedAgain.passed, passedAgain.failed], [true, 9, 0], JSON.stringify(passedAgain, null, 2));
    assert.equal(passedAgain.reruns.length, 1);
    assert.equal(passedAgain.reruns[0]!.file, 'nk_devmem.py');
    assert.match(passedAgain.reruns[0]!.firstRun, /check_nk_rx_hds[\s\S]*Waiting for port listen timed out/);

    const failedAgain = judge(nkFailed);
    assert.equal(failedAgain.ok, false);
    assert.deepEqual(
      failedAgain.failedTests.map((t) => t.title),
      ['nk_devmem.py: nk_devmem.check_nk_rx_hds'],
    );
    assert.match(failedAgain.problems.join('\n'), /nk_devmem\.py failed again when run again/);
    assert.deepEqual(failedAgain.reruns, []);
  });

  it('fails a suite that reports no case at all, or a skip whose reason is not the expected one', () => {
    const wrongReason = DEVMEM_OK.replace('# SKIP Test requires devmem rx-page-size=16384 support', '# SKIP Test requires devmem support');
    const outputs = Object.fromEntries(h.SELFTEST_FILES.map((f) => [f, ['Failed importing `net` library\n', 4] as [string, number]]));
    outputs['devmem.py'] = [wrongReason, 0];
    const v = h.judgeConformance({ mode: 'conformance', boot: cleanBoot, jobDir: jobWith(outputs), job: cleanJob, consoleLines: [] });
    assert.deepEqual(
      v.failedTests.map((t) => t.title),
      ['devmem.py: devmem.check_rx_large_niov'],
    );
    assert.match(v.problems.join('\n'), /nk_devmem\.py reported no test case \(exit status 4\)/);
    assert.equal(v.passed, 4);
  });

  it("checks the addon's netlink tables against a YAML spec: ids, types, multi-attr, nests, command ids", () => {
    // A spec in the kernel's layout: ids count from 1 unless given, subsets take their parent's.
    const yaml = {
      'attribute-sets': [
        {
          name: 'thing',
          attributes: [
            { name: 'ifindex', type: 'u32' },
            { name: 'pad', type: 'pad' },
            { name: 'big-count', type: 'uint' },
            { name: 'ids', type: 'u32', 'multi-attr': true },
            { name: 'inner', type: 'nest', 'nested-attributes': 'inner' },
          ],
        },
        {
          name: 'inner',
          attributes: [
            { name: 'unspec', type: 'unused', value: 0 },
            { name: 'name', type: 'string' },
          ],
        },
        { name: 'thing-id', 'subset-of': 'thing', attributes: [{ name: 'ifindex' }] },
      ],
      operations: { list: [{ name: 'thing-get' }, { name: 'thing-ntf' }, { name: 'thing-set' }] },
    };
    const good = {
      commands: [
        { name: 'thing-get', id: 1 },
        { name: 'thing-set', id: 3 },
      ],
      sets: {
        thing: [
          { type: 1, name: 'ifindex', kind: 'u32', multi: false },
          { type: 3, name: 'bigCount', kind: 'uint', multi: false },
          { type: 4, name: 'ids', kind: 'u32', multi: true },
          { type: 5, name: 'inner', kind: 'nest', multi: false, nest: 'inner' },
        ],
        inner: [{ type: 1, name: 'name', kind: 'string', multi: false }],
        'thing-id': [{ type: 1, name: 'ifindex', kind: 'u32', multi: false }],
      },
    };
    assert.deepEqual(h.checkFamily(good, yaml), []);
    const bad = structuredClone(good) as typeof good;
    bad.commands[1]!.id = 2;
    bad.sets.thing[0]!.type = 2;
    bad.sets.thing[1]!.kind = 'u16';
    bad.sets.thing[2]!.multi = false;
    bad.sets.inner.push({ type: 9, name: 'nothere', kind: 'u8', multi: false });
    assert.deepEqual(h.checkFamily(bad, yaml), [
      'command thing-set: id 2, the YAML says 3',
      'thing.ifindex: id 2, the YAML says 1',
      'thing.bigCount: read as u16, the YAML type is uint',
      'thing.ids: multi-attr false, the YAML says true',
      'inner.nothere: not in the YAML set',
    ]);
    // Enum and flags definitions: values count from value-start (flags: bits), an entry may set its own.
    const named = {
      ...yaml,
      definitions: [
        { name: 'kind', type: 'enum', entries: ['off', 'on', { name: 'auto', value: 5 }] },
        { name: 'caps', type: 'flags', 'value-start': 1, entries: ['a', 'b'] },
      ],
      'attribute-sets': [
        {
          name: 'thing',
          attributes: [
            { name: 'mode', type: 'u32', enum: 'kind' },
            { name: 'caps', type: 'u64', enum: 'caps' },
          ],
        },
      ],
    };
    const namedSpec = {
      commands: [],
      ops: { 'thing-get': 1, 'thing-ntf': 2 },
      sets: {
        thing: [
          { type: 1, name: 'mode', kind: 'u32', multi: false, enum: 'kind' },
          { type: 2, name: 'caps', kind: 'u64', multi: false, enum: 'caps' },
        ],
      },
      enums: {
        kind: {
          flags: false,
          entries: [
            { name: 'off', value: 0 },
            { name: 'on', value: 1 },
            { name: 'auto', value: 5 },
          ],
        },
        caps: {
          flags: true,
          entries: [
            { name: 'a', value: 2 },
            { name: 'b', value: 4 },
          ],
        },
      },
    };
    assert.deepEqual(h.checkFamily(namedSpec, named), []);
    const wrong = structuredClone(namedSpec);
    wrong.ops['thing-ntf'] = 3;
    wrong.enums.kind.entries[2]!.value = 2;
    wrong.enums.caps.entries[0]!.value = 1;
    wrong.enums.caps.flags = false;
    delete (wrong.sets.thing[1] as { enum?: string }).enum;
    assert.deepEqual(h.checkFamily(wrong, named), [
      'op thing-ntf: id 3, the YAML says 2',
      'enum kind: auto is 2, the YAML says 5',
      'enum caps: enum, the YAML says flags',
      'enum caps: a is 1, the YAML says 2',
      'thing.caps: named by nothing, the YAML says caps',
    ]);
    // Directional families (ethtool) number requests only; notifications are skipped.
    const directional = {
      ...yaml,
      operations: {
        'enum-model': 'directional',
        list: [
          { name: 'a-get', do: {} },
          { name: 'a-ntf', notify: 'a-get' },
          { name: 'b-get', do: {} },
        ],
      },
    };
    assert.deepEqual(h.checkFamily({ commands: [{ name: 'b-get', id: 2 }], sets: {} }, directional), []);
  });
});

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

const root = path.resolve(__dirname, '../..');

function sources(dir: string, exts: RegExp): string[] {
  return fs
    .readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => exts.test(f))
    .map((f) => path.join(root, dir, f));
}

describe('privilege hygiene', function () {
  this.timeout(60_000);
  let veth: VethPair;

  before(function () {
    requireRoot(this);
    veth = new VethPair(2, 2).create();
  });
  after(() => veth?.remove());

  it('needs CAP_NET_ADMIN for NIC configuration only: bind-tx, queries and receiving work unprivileged', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures/unprivileged-ops.ts'), veth.local, String(veth.ifindex)],
      { uid: 65534, gid: 65534, cwd: root, encoding: 'utf8', env: { ...process.env, HOME: os.tmpdir() } },
    );
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), {
      bindTx: 'DEVICE_UNSUPPORTED', // refused by the driver check, not by a permission check
      listQueues: 'ok',
      getChannels: 'ok',
      setChannels: 'NOT_PERMITTED',
      setRings: 'NOT_PERMITTED',
      receive: 'ok',
    });
  });

  it('never starts a process: the only execve of a probe and NIC calls is node itself', () => {
    const script = `
      const lib = require(${JSON.stringify(path.join(root, 'lib/index.ts'))});
      (async () => {
        await lib.probe();
        await lib.ethtool.getChannels(${JSON.stringify(veth.local)});
        await lib.ethtool.getRings(${JSON.stringify(veth.local)}).catch(() => {});
        await lib.ethtool.setRings(${JSON.stringify(veth.local)}, { tcpDataSplit: 'enabled' }).catch(() => {});
        await lib.ethtool.getDriverInfo(${JSON.stringify(veth.local)});
        await lib.bindRx(${JSON.stringify(veth.local)}, [0], 0).catch(() => {});
        await lib.netdev.listQueues();
      })();`;
    // tsx compiles in-process; strace follows every thread and child.
    const log = path.join(os.tmpdir(), `devmem-execve-${process.pid}.log`);
    try {
      execFileSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', log, process.execPath, '--import', 'tsx', '-e', script], {
        cwd: root,
        stdio: 'ignore',
      });
      const execs = fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => /execve\(/.test(l));
      assert.equal(execs.length, 1, execs.join('\n'));
      assert.match(execs[0]!, new RegExp(`execve\\("${process.execPath.replace(/[/.]/g, '\\$&')}"`));
    } finally {
      fs.rmSync(log, { force: true });
    }
  });

  it('has no code that could run a shell, ethtool or sudo', () => {
    const offenders: string[] = [];
    for (const f of [...sources('lib', /\.ts$/), ...sources('bin', /\.ts$/)]) {
      const text = fs.readFileSync(f, 'utf8');
      if (/from ['"](node:)?child_process['"]|require\(['"](node:)?child_process['"]\)|\bsudo\b/.test(text)) offenders.push(f);
    }
    for (const f of sources('native', /\.(cc|h)$/)) {
      const text = fs.readFileSync(f, 'utf8');
      if (/\b(system|popen|fork|vfork|posix_spawnp?|exec[lv]p?e?)\s*\(|\bsudo\b/.test(text)) offenders.push(f);
    }
    assert.deepEqual(
      offenders.map((f) => path.relative(root, f)),
      [],
    );
  });
});

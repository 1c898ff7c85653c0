import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { packFromCleanClone, sh, skipUnderAddonOverride, type Packed } from './helpers/pack';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

// The linux-arm64 prebuild, proven without a VM: Debian trixie's arm64 Node
// (20.19, N-API 9) in the cached arm64 root (scripts/prebuild/arm64-root.mjs,
// which `npm pack`'s prebuild made or reused), run by its qemu-aarch64 in a
// chroot, against the tarball installed with scripts off. The install itself
// is host npm's: it only unpacks JavaScript, and the architecture is chosen by
// node-gyp-build inside the arm64 process.
//
// There is no binfmt_misc registration (the host kernel's to make), so
// nothing under the chroot can exec another arm64 program: the host tests run
// here are those that start no process, and the veth that two of them need is
// made out here (helpers/veth.ts adopts it through DEVMEM_TEST_VETH).
// qemu-user forwards neither SIOCETHTOOL (ENOTTY), io_uring_setup nor generic
// netlink sockets, so the cases that reach the kernel through those (flow
// rules and RSS on a veth; a zcrx ring; the netdev family) are left to the
// x86-64 run of the same files and to the guest.

/** The host tests run under arm64, by file: parsers, coalescing and ABI-exact cmsg cases, hostile input, layouts. */
const ARM64_TESTS = [
  'uapi-layouts',
  'netlink-parser',
  'rx-parser',
  'rx-replay',
  'flow-rules',
  'hostile-input',
  'errors',
  'bindings-args',
  'zcrx-plan',
];
const QEMU = '/usr/bin/qemu-aarch64';
/** Titles of the cases qemu-user cannot carry to the kernel (SIOCETHTOOL). */
const NOT_UNDER_QEMU = /n-tuple flow rules on a veth/;
const cacheRoot = process.env.DEVMEM_VM_CACHE || path.join(os.homedir(), '.cache', 'devmem-tcp');
const armRoot = path.join(cacheRoot, 'arm64-root-trixie', 'root');

interface MochaJson {
  stats: { tests: number; passes: number; pending: number; failures: number };
  passes: { fullTitle: string; file?: string }[];
  failures: { fullTitle: string; file?: string; err: { message?: string } }[];
  pending: { fullTitle: string; file?: string }[];
}

describe('the packed package under an arm64 Node (linux-arm64 prebuild, qemu-user, no VM)', function () {
  this.timeout(900_000);
  let packed: Packed;
  let work: string; // on the host; the same directory is `inside` in the chroot
  let inside: string;
  let pkg: string;

  /** Runs arm64 node in the root with /proc, /sys and /dev mounted in a mount namespace of its own (gone when it exits). */
  const arm64Node = (args: string[], env: Record<string, string> = {}): string => {
    const mounts = ['mount -t proc proc "$R/proc"', 'mount --rbind /sys "$R/sys"', 'mount --rbind /dev "$R/dev"'].join(' && ');
    const vars = Object.entries({ PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...env }).map(([k, v]) => `${k}=${v}`);
    return execFileSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '/bin/sh',
        '-c',
        // env -i and chroot are the host's; inside, every program is arm64 and runs under qemu.
        `${mounts} && exec /usr/bin/env -i "$@"`,
        'sh',
        ...vars,
        '/usr/sbin/chroot',
        armRoot,
        QEMU,
        '/usr/bin/node',
        ...args,
      ],
      { encoding: 'utf8', cwd: work, env: { ...process.env, R: armRoot }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 },
    );
  };

  before(function () {
    skipUnderAddonOverride(this);
    requireRoot(this);
    packed = packFromCleanClone();
    assert.ok(
      fs.existsSync(path.join(armRoot, QEMU)) && fs.existsSync(path.join(armRoot, 'usr/bin/node')),
      `no arm64 root at ${armRoot}: \`node scripts/prebuild/run.mjs --install\` makes it`,
    );
    work = fs.mkdtempSync(path.join(armRoot, 'tmp', 'devmem-arm64-'));
    inside = `/${path.relative(armRoot, work)}`;
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    const mocha = (JSON.parse(fs.readFileSync(path.join(packed.clone, 'node_modules/mocha/package.json'), 'utf8')) as { version: string })
      .version;
    sh('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', packed.tarball, `mocha@${mocha}`], app);
    pkg = path.join(app, 'node_modules/devmem-tcp');

    // The chosen host tests, from the packed commit, compiled to CommonJS and
    // placed in the installed package's dist/, so that their `../../lib/...`
    // imports load the shipped JavaScript and, through it, the prebuild.
    const out = path.join(work, 'tsc');
    sh(
      path.join(packed.clone, 'node_modules/.bin/tsc'),
      [
        ...['--ignoreConfig', '--outDir', out, '--rootDir', packed.clone, '--noCheck', '--skipLibCheck', '--esModuleInterop'],
        ...['--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'ES2022', '--types', 'node,mocha'],
        ...ARM64_TESTS.map((t) => path.join(packed.clone, `test/host/${t}.test.ts`)),
      ],
      packed.clone,
    );
    fs.cpSync(path.join(out, 'test'), path.join(pkg, 'dist/test'), { recursive: true });
  });
  after(() => work && fs.rmSync(work, { recursive: true, force: true }));

  it('loads prebuilds/linux-arm64 in Debian arm64 Node 20.19 with io_uring zcrx built in, and nothing was compiled', () => {
    assert.ok(!fs.existsSync(path.join(pkg, 'build')), 'nothing was compiled');
    const script = `const d = require('devmem-tcp');
      const p = require('node-gyp-build').path(require('path').dirname(require.resolve('devmem-tcp/package.json')));
      d.probe().then(r => console.log(JSON.stringify({ arch: process.arch, node: process.version, napi: process.versions.napi,
        path: p, kernel: r.kernel.release, zcrxBuilt: require(p).zcrxFeatures().built })));`;
    // From a file in the app, as a consumer's code would require it (chroot starts in /).
    fs.writeFileSync(path.join(work, 'app/check.js'), script);
    const out = JSON.parse(
      arm64Node([`${inside}/app/check.js`])
        .trim()
        .split('\n')
        .pop()!,
    ) as Record<string, unknown>;
    console.log(`    ${JSON.stringify(out)}`);
    assert.equal(out.arch, 'arm64');
    assert.match(String(out.node), /^v20\.(19|[2-9]\d)\./, 'the arm64 root holds a Node inside the package engines (>=20.19)');
    assert.ok(Number(out.napi) >= 8, 'N-API 8, what the addon is built for');
    assert.match(String(out.path), /node_modules\/devmem-tcp\/prebuilds\/linux-arm64\/devmem-tcp\.node$/);
    assert.equal(out.kernel, os.release());
    assert.equal(out.zcrxBuilt, true, 'liburing is linked into the arm64 prebuild');
  });

  it('`devmem probe --json` runs under arm64', () => {
    const out = arm64Node([`${inside}/app/node_modules/devmem-tcp/dist/bin/devmem.js`, 'probe', '--json']);
    console.log(out.replace(/^/gm, '      '));
    const report = JSON.parse(out) as {
      schemaVersion: number;
      kernel: { release: string };
      interfaces: { name: string; ifindex: number }[];
      zcrx: { built: boolean };
    };
    assert.equal(report.schemaVersion, 1);
    assert.equal(report.kernel.release, os.release());
    // rtnetlink through the arm64 addon (qemu-user translates NETLINK_ROUTE; it
    // refuses generic netlink sockets, so the netdev family reads as absent here).
    assert.ok(
      report.interfaces.some((i) => i.name === 'lo' && i.ifindex === 1),
      'the interfaces were listed',
    );
    assert.equal(report.zcrx.built, true);
  });

  it(`the host tests pass under arm64: ${ARM64_TESTS.join(', ')}`, () => {
    const veth = new VethPair(4, 4).create();
    let results: MochaJson;
    try {
      const json = `${inside}/mocha.json`;
      const files = ARM64_TESTS.map((t) => `${inside}/app/node_modules/devmem-tcp/dist/test/host/${t}.test.js`);
      const mocha = `${inside}/app/node_modules/mocha/bin/mocha.js`;
      try {
        arm64Node(
          [
            ...[mocha, '--no-config', '--exit', '--timeout', '60000', '--reporter', 'json', '--reporter-option', `output=${json}`],
            ...['--grep', NOT_UNDER_QEMU.source, '--invert', ...files],
          ],
          {
            DEVMEM_TEST_VETH: `${veth.local} ${veth.peer} ${veth.netns}`,
          },
        );
      } catch (err) {
        // A failing test makes mocha exit non-zero; its report says which.
        if (!fs.existsSync(path.join(work, 'mocha.json'))) throw err;
      }
      results = JSON.parse(fs.readFileSync(path.join(work, 'mocha.json'), 'utf8')) as MochaJson;
    } finally {
      veth.remove();
    }
    const { stats } = results;
    console.log(`    arm64: ${stats.passes} passed, ${stats.failures} failed, ${stats.pending} pending of ${stats.tests}`);
    assert.deepEqual(
      results.failures.map((f) => `${f.fullTitle}: ${f.err.message ?? ''}`),
      [],
      'no host test fails under arm64',
    );
    assert.deepEqual(
      results.pending.map((p) => p.fullTitle),
      [],
      'none skipped: each of them runs for real here',
    );
    for (const t of ARM64_TESTS) {
      const n = results.passes.filter((p) => p.file?.endsWith(`/${t}.test.js`)).length;
      assert.ok(n > 0, `${t}.test.ts ran under arm64 (${n} passed)`);
    }
  });
});

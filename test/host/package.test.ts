import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { packFromCleanClone, sh, skipUnderAddonOverride, type Packed } from './helpers/pack';

// npm 11 blocks dependency install scripts by default, so a consumer only
// gets a working addon if the tarball ships a prebuild. This packs a clean
// clone as a release would, checks what the tarball holds, installs it into
// an empty project with scripts disabled, and loads it there.
// (The arm64 prebuild is proven under qemu-user in package-arm64.test.ts.)

/** Everything the tarball may hold; anything else (tests, fixtures, caches, build trees) is a mistake. */
const SHIPPED = [
  /^package\.json$/,
  /^(README|CHANGELOG)\.md$/,
  /^LICENSE$/,
  /^binding\.gyp$/,
  /^scripts\/find-liburing\.cjs$/,
  /^prebuilds\/linux-(x64|arm64)\/devmem-tcp\.node$/,
  /^native\/.+\.(cc|h)$/,
  /^native\/.+\.md$/,
  /^dist\/(lib|bin|bench)\/.+\.(js|d\.ts)$/,
  /^bench\/c\/.+$/,
  /^docs\/[^/]+\.(md|json)$/,
];
// The packed size now is about 1 MiB; twice that means something large got in.
const MAX_PACKED_BYTES = 2 << 20;

describe('the packed package (linux-x64)', function () {
  this.timeout(900_000);
  let packed: Packed;
  let app: string;

  before(function () {
    skipUnderAddonOverride(this);
    packed = packFromCleanClone();
    console.log(
      `    packed ${packed.commit.slice(0, 12)} in ${packed.seconds.toFixed(1)} s: ${packed.size} bytes, ${packed.unpackedSize} unpacked, ${packed.files.length} files`,
    );
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-app-'));
  });
  after(() => app && fs.rmSync(app, { recursive: true, force: true }));

  it('holds both prebuilds, the compiled code and the docs that messages point at, and nothing else', () => {
    const { files } = packed;
    for (const arch of ['x64', 'arm64'])
      assert.ok(files.includes(`prebuilds/linux-${arch}/devmem-tcp.node`), `the linux-${arch} prebuild is shipped`);
    assert.ok(files.includes('dist/lib/index.js'));
    assert.ok(files.includes('dist/bin/devmem.js'));
    // `npm rebuild devmem-tcp` (building from source) needs these.
    for (const f of ['binding.gyp', 'scripts/find-liburing.cjs', 'native/addon.cc']) assert.ok(files.includes(f), `${f} is shipped`);
    // Runtime messages point users at these.
    for (const doc of ['docs/kernel-notes.md', 'docs/reliability.md', 'docs/hardware.md', 'docs/probe-schema.json'])
      assert.ok(files.includes(doc), `${doc} is shipped`);
    const stray = files.filter((f) => !SHIPPED.some((re) => re.test(f)));
    assert.deepEqual(stray, [], 'files the package must not ship (tests, fixtures, caches, build trees, source maps)');
    assert.ok(packed.size < MAX_PACKED_BYTES, `the tarball is ${packed.size} bytes, over ${MAX_PACKED_BYTES}`);
  });

  it('loads its linux-x64 prebuild from an install without scripts, and the CLI runs', () => {
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    sh('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', packed.tarball], app);
    assert.ok(!fs.existsSync(path.join(app, 'node_modules/devmem-tcp/build')), 'nothing was compiled');

    // The glibc each shipped addon needs (its highest GLIBC_ symbol version) is
    // at most the floor README states (scripts/prebuild/glibc.mjs holds it).
    const check = `import(${JSON.stringify(path.join(packed.clone, 'scripts/prebuild/glibc.mjs'))}).then((m) => console.log(JSON.stringify(
      ['x64', 'arm64'].map((arch) => ({ arch, floor: m.GLIBC_FLOOR[arch], ...m.elfNeeds(\`node_modules/devmem-tcp/prebuilds/linux-\${arch}/devmem-tcp.node\`) })))))`;
    const needs = JSON.parse(execFileSync(process.execPath, ['-e', check], { cwd: app, encoding: 'utf8' })) as {
      arch: string;
      floor: string;
      machine: string;
      glibc: string;
      glibcxx: string;
    }[];
    console.log(
      `    ${needs.map((n) => `linux-${n.arch}: ${n.machine}, glibc ${n.glibc} (floor ${n.floor}), GLIBCXX ${n.glibcxx}`).join('; ')}`,
    );
    assert.deepEqual(
      needs.map((n) => n.machine),
      ['Advanced Micro Devices X86-64', 'AArch64'],
    );
    const version = (v: string) => {
      const [major = 0, minor = 0, patch = 0] = v.split('.').map(Number);
      return major * 1e6 + minor * 1e3 + patch;
    };
    for (const n of needs) assert.ok(version(n.glibc) <= version(n.floor), `linux-${n.arch} needs glibc ${n.glibc}, above ${n.floor}`);

    const script = `const d = require('devmem-tcp');
      const p = require('node-gyp-build').path(require('path').dirname(require.resolve('devmem-tcp/package.json')));
      d.probe().then(r => console.log(JSON.stringify({ path: p, kernel: r.kernel.release, api: typeof d.bindRx })));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' }));
    assert.match(out.path, /prebuilds\/linux-x64\/devmem-tcp\.node$/);
    assert.equal(out.kernel, os.release());
    assert.equal(out.api, 'function');

    const cli = execFileSync(path.join(app, 'node_modules/.bin/devmem'), ['probe', '--json'], { cwd: app, encoding: 'utf8' });
    assert.equal(JSON.parse(cli).schemaVersion, 1);

    // The package and its package.json are the only entry points, and the
    // published types carry nothing marked internal.
    const deep = `try { require('devmem-tcp/dist/lib/native'); console.log('loaded') } catch (e) { console.log(e.code) }`;
    assert.equal(execFileSync(process.execPath, ['-e', deep], { cwd: app, encoding: 'utf8' }).trim(), 'ERR_PACKAGE_PATH_NOT_EXPORTED');
    const pkgJson = `console.log(require('devmem-tcp/package.json').name)`;
    assert.equal(execFileSync(process.execPath, ['-e', pkgJson], { cwd: app, encoding: 'utf8' }).trim(), 'devmem-tcp');
    const dts = path.join(app, 'node_modules/devmem-tcp/dist/lib');
    for (const f of fs.readdirSync(dts).filter((n) => n.endsWith('.d.ts'))) {
      const text = fs.readFileSync(path.join(dts, f), 'utf8');
      assert.doesNotMatch(text, /replaySocket|releaseBatch\(|bindRxSync|setRingsSync/, `${f} exposes an internal member`);
    }
  });

  it('on a platform it has no prebuild for, fails with a DevmemError that names it and says how to build', () => {
    // The same install with its linux-x64 prebuild taken away: what a musl or
    // riscv64 host finds (node-gyp-build looks for prebuilds/<platform>-<arch>/).
    const pkg = path.join(app, 'node_modules/devmem-tcp');
    const prebuild = path.join(pkg, 'prebuilds/linux-x64/devmem-tcp.node');
    const firstUse = () => {
      const script = `try { require('devmem-tcp').ethtool.getNtupleFilter('lo'); console.log('{}') } catch (e) {
        console.log(JSON.stringify({ name: e.name, reason: e.reason, message: e.message, advice: e.advice })) }`;
      return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' })) as Record<string, string>;
    };
    // A prebuild that is there but cannot load here (another machine's, or one
    // needing a newer glibc) says so in the same terms.
    fs.copyFileSync(path.join(pkg, 'prebuilds/linux-arm64/devmem-tcp.node'), prebuild);
    const wrong = firstUse();
    assert.equal(wrong.reason, 'NO_PREBUILD');
    // (glibc's dlopen reports another machine's ELF as "cannot open shared object file".)
    assert.match(wrong.message!, /prebuilds\/linux-x64\/devmem-tcp\.node does not load on linux-x64 \(glibc [\d.]+\): ./);

    fs.rmSync(path.dirname(prebuild), { recursive: true });
    const out = firstUse();
    assert.equal(out.name, 'DevmemError');
    assert.equal(out.reason, 'NO_PREBUILD');
    assert.match(out.message!, /linux-x64 \(glibc \d+\.\d+\)/, 'names the platform and its C library');
    assert.doesNotMatch(out.message!, /No native build was found/, "not node-gyp-build's own message");
    assert.match(out.advice!, /npm rebuild devmem-tcp/);
    assert.match(out.advice!, /compiler/);
    assert.match(out.advice!, /Python/);
  });
});

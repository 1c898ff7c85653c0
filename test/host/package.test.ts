import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');

// npm 11 blocks dependency install scripts by default, so a consumer only
// gets a working addon if the tarball ships a prebuild. This builds one,
// packs, installs the tarball into an empty project with scripts disabled,
// and loads it there.
describe('the packed package', function () {
  this.timeout(300_000);
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-pack-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('ships a prebuild that loads from an install without scripts', () => {
    const npm = (args: string[], cwd: string) =>
      execFileSync('npm', args, {
        cwd,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, npm_config_nodedir: '/usr' },
      });
    npm(['run', 'prebuild'], root);
    assert.ok(fs.existsSync(path.join(root, 'prebuilds/linux-x64/devmem-tcp.node')));
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], root)) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = packed[0]!.files.map((f) => f.path);
    assert.ok(files.includes('prebuilds/linux-x64/devmem-tcp.node'), files.join('\n'));
    assert.ok(files.includes('dist/lib/index.js'));
    assert.ok(files.includes('dist/bin/devmem.js'));
    assert.ok(!files.some((f) => f.startsWith('test/')), 'tests are not shipped');
    // Runtime messages point users at these.
    for (const doc of ['docs/kernel-notes.md', 'docs/reliability.md', 'docs/hardware.md', 'docs/probe-schema.json'])
      assert.ok(files.includes(doc), `${doc} is shipped`);

    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    npm(['install', '--ignore-scripts', '--no-audit', '--no-fund', path.join(tmp, packed[0]!.filename)], app);
    assert.ok(!fs.existsSync(path.join(app, 'node_modules/devmem-tcp/build')), 'nothing was compiled');

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
});

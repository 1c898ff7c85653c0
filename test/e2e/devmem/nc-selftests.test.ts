// `devmem nc` as the kernel's own selftests (drivers/net/hw/devmem.py,
// nk_devmem.py, userns_devmem.py) drive it. The suites themselves run in the
// conformance boot (npm run test:conformance); these are the behaviours they
// rely on, each checked on its own.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { allocUdmabuf, netdev, NicConfig, type RxBinding } from '../../../lib/index';
import { native } from '../../../lib/native';
import { ROOT } from '../../hw/local';
import { run } from '../../support/process';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, runNc, startNc } from '../helpers/nc';

const env = e2eEnv();
let nextPort = 6401;

describe('devmem nc as the kernel selftests run it', function () {
  this.timeout(180_000);
  checkNicStateKept(env.ifLocal);

  it('-n with -t and -q reads no channels, so a device without ethtool channels (like a netkit guest) reaches bind-rx', async () => {
    // nk_devmem.py runs `-l -f <netkit guest> -t Q -q 1 -n`; netkit has no
    // ethtool ops but drvinfo. A dummy device has none either.
    const dev = 'dmnc0';
    execFileSync('ip', ['link', 'add', dev, 'type', 'dummy']);
    try {
      execFileSync('ip', ['link', 'set', dev, 'up']);
      const port = String(nextPort++);
      const given = await runNc(['-l', '-f', dev, '-s', env.addr4Local, '-p', port, '-t', '0', '-q', '1', '-n']);
      assert.notEqual(given.code, 0, describeRun(given));
      assert.doesNotMatch(given.stderr, /channels/, describeRun(given));
      assert.match(given.stderr, /using queues 0\.\.0/);
      assert.match(given.stderr, /bind-rx of queues 0 on dmnc0/, describeRun(given));

      // Without -t/-q the queue must be picked from the channel count, which
      // this device cannot report: that, and nothing vaguer, is the error.
      const picked = await runNc(['-l', '-f', dev, '-s', env.addr4Local, '-p', port, '-n']);
      assert.notEqual(picked.code, 0, describeRun(picked));
      assert.match(picked.stderr, /cannot read channels of dmnc0/, describeRun(picked));
    } finally {
      execFileSync('ip', ['link', 'del', dev]);
    }
  });

  it('the self-test binds with -b: `-f IF -b 16384` is a SKIP on a device without rx-page-size, and leaves the NIC as it was', async () => {
    // devmem.py's probe before its large-niov case (see
    // docs/kernel-notes.md#large-niov-cases-on-netdevsim): a pass there would
    // run a case the device cannot do. Above the page
    // size the buffer is made of 2 MiB huge pages, which the suite reserves.
    const hugepages = '/proc/sys/vm/nr_hugepages';
    const saved = fs.readFileSync(hugepages, 'utf8').trim();
    fs.writeFileSync(hugepages, '64');
    let r;
    try {
      r = await runNc(['-f', env.ifLocal, '-b', '16384']);
    } finally {
      fs.writeFileSync(hugepages, saved);
    }
    assert.equal(r.code, 4, describeRun(r));
    assert.match(r.stderr, /rx-page-size 16384/);
    assert.match(r.stderr, /rx_page_size/, describeRun(r));
    assert.match(r.stderr, /undid: ethtool -G/);
    // And without it the same device passes the self-test.
    const plain = await runNc(['-f', env.ifLocal]);
    assert.equal(plain.code, 0, describeRun(plain));
  });

  it('`devmem nc -l` loads only the modules of its own mode', async () => {
    // Harnesses give the listener 5 s; on an emulated machine every module
    // read counts, so the benchmark, probe and peer code stay unloaded.
    const hook = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nc-modules-')), 'hook.cjs');
    fs.writeFileSync(
      hook,
      `const M = require('module'); const load = M._load; const seen = new Set();
       M._load = function (id, parent) { try { seen.add(M._resolveFilename(id, parent)); } catch {} return load.apply(this, arguments); };
       process.on('exit', () => process.stderr.write('MODULES ' + JSON.stringify([...seen]) + '\\n'));`,
    );
    const cli = path.join(ROOT, 'dist/bin/devmem.js');
    const args = ['-r', hook, cli, 'nc', '-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', '7100', '--dry-run'];
    const { stderr } = await run([process.execPath, ...args], { check: true });
    const line = stderr.split('\n').find((l) => l.startsWith('MODULES '));
    assert.ok(line, stderr);
    const loaded = (JSON.parse(line.slice('MODULES '.length)) as string[]).map((f) => path.relative(ROOT, f));
    assert.ok(loaded.includes(path.join('dist/bin/nc/rx.js')), loaded.join('\n'));
    // The library comes whole through its public entry point; the CLI's other
    // commands and modes, and the benchmarks, stay unloaded.
    const strays = loaded.filter((f) => /^dist\/(bench\/|bin\/commands\/(bench|peer|probe)\.js|bin\/nc\/(tx|selftest)\.js)/.test(f));
    assert.deepEqual(strays, [], `modules another mode needs were loaded:\n${loaded.join('\n')}`);
  });

  it('a binding the kernel has made is on the undo stack before any signal handler can run: a restore then leaves nothing behind', async () => {
    // The harmful instant: the kernel has bound the queue, and JS has not yet
    // heard back. Spinning on microtasks holds the event loop there, so no
    // completion (and no signal handler, which would restore) can run in
    // between; a restore at that instant must still unbind first.
    const nic = await NicConfig.open(env.ifLocal, { restoreOnExit: false });
    const dmabuf = allocUdmabuf(4 * 1024 * 1024);
    const queue = env.queues - 1;
    const kernelHasBinding = () => {
      const [q] = native().netlinkRequestSync('netdev', 'queue-get', { ifindex: env.ifindexLocal, type: 0, id: queue });
      return q?.dmabuf !== undefined;
    };
    let made: RxBinding | undefined;
    try {
      await nic.enableHeaderSplit();
      const pending = nic.bindRx([queue], dmabuf);
      const deadline = Date.now() + 20_000;
      while (!kernelHasBinding() && Date.now() < deadline) await Promise.resolve();
      // Reaching the kernel must take no event-loop turn: any turn between the
      // kernel's binding and its undo entry is one where a handler could run.
      assert.ok(kernelHasBinding(), 'bind-rx needed an event-loop turn to reach the kernel');
      nic.restore();
      made = await pending.catch(() => undefined);
      assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', queue)).dmabuf, undefined, 'the binding outlived the restore');
      assert.equal(made?.closed ?? true, true);
    } finally {
      made?.close();
      nic.close();
      dmabuf.close();
    }
  });

  for (const delayMs of [0, 20]) {
    it(`SIGTERM ${delayMs} ms after the flow rule, while bind-rx is due or in the kernel: every change is undone`, async () => {
      // devmem.py stops listeners with SIGTERM, and one can land mid-set-up:
      // each change and its undo are made in one step, so whatever the
      // instant, the undo stack matches what the kernel has.
      const port = String(nextPort++);
      const nc = startNc(['-l', '-f', env.ifLocal, '-s', env.addr6Local, '-p', port, '-c', env.addr6Remote, '-v', '7']);
      await nc.waitFor('did: ethtool -N');
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      nc.child.kill('SIGTERM');
      const r = await nc.done;
      assert.equal(r.signal, 'SIGTERM', describeRun(r));
      assert.doesNotMatch(r.stderr, /restore on SIGTERM failed|could not undo|can't disable/, describeRun(r));
      // All three NIC changes came back, the binding first when there was one.
      const undone = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('undid: '))
        .map((l) => l.split(' ').slice(1, 3).join(' '));
      const expected = ['ethtool -N', 'ethtool -X', 'ethtool -G'];
      assert.deepEqual(
        undone.filter((u) => !u.startsWith('bind-rx')),
        expected,
        describeRun(r),
      );
      if (undone.some((u) => u.startsWith('bind-rx'))) assert.ok(undone[0]!.startsWith('bind-rx'), describeRun(r));
    });
  }
});

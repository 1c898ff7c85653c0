#!/usr/bin/env node
// @ts-check
// `npm run test:asan [-- --host-only] [-- --install]`: the test suites against the addon
// built with AddressSanitizer and UndefinedBehaviorSanitizer.
//
// Node itself is not instrumented, so the addon (build-asan/, see build.mjs)
// runs in a stock node with gcc's libasan preloaded; LeakSanitizer stays off
// there because node does not free everything at exit. Native leaks are
// checked instead by test/native/leaks.cc, a standalone binary of the native
// layer run with LSan on. Steps:
//   1. build the sanitizer addon, and check that node really loads it;
//   2. native leak test (LSan) against the running kernel;
//   3. host suite (mocha) with the sanitizer addon;
//   4. guest suite (npm run test:vm) with the sanitizer addon in the guest.
// Any sanitizer report fails the run: reports abort the process, and the
// output is also searched for them (a child process may die unseen).
// Ends with "N passed, N failed"; DEVMEM_ASAN_SUMMARY=FILE also writes it.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildAsanAddon, sanitizeFlags } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const hostOnly = process.argv.includes('--host-only');
// Passed on to the guest harness: may it install what it lacks.
const install = process.argv.includes('--install');
const REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)/;

const cxx = process.env.CXX ?? 'g++';
const libasan = spawnSync(cxx, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
const total = { passed: 0, failed: 0 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-asan-'));

/**
 * @param {string} name
 * @param {{ passed: number, failed: number }} counts
 */
function record(name, counts) {
  total.passed += counts.passed;
  total.failed += counts.failed;
  console.log(`=== ${name}: ${counts.passed} passed, ${counts.failed} failed`);
}

// Runs a command, streaming and keeping its output to look for reports.
/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ code: number | NodeJS.Signals | null, out: string }>}
 */
function runLogged(cmd, args, env) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (/** @type {Buffer} */ d) => {
      out += d;
      if (out.length > 64 * 1024 * 1024) out = out.slice(-32 * 1024 * 1024);
    };
    p.stdout.on('data', (d) => (process.stdout.write(d), keep(d)));
    p.stderr.on('data', (d) => (process.stderr.write(d), keep(d)));
    p.on('exit', (code, sig) => resolve({ code: code ?? sig, out }));
  });
}

/**
 * @param {string} file the suite's summary JSON
 * @param {{ code: number | NodeJS.Signals | null, out: string }} res
 * @returns {{ passed: number, failed: number }}
 */
function suiteCounts(file, res) {
  /** @type {{ passed: number, failed: number }} */
  let c = { passed: 0, failed: 0 };
  try {
    c = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    c.failed += 1;
  }
  if (res.code !== 0 && c.failed === 0) c.failed = 1;
  if (c.passed + c.failed === 0) c.failed = 1;
  if (REPORT.test(res.out)) {
    console.log(`=== sanitizer report found in the output: ${/** @type {RegExpExecArray} */ (REPORT.exec(res.out))[0]}`);
    c.failed += 1;
  }
  return { passed: c.passed, failed: c.failed };
}

async function main() {
  if (!path.isAbsolute(libasan) || !fs.existsSync(libasan)) {
    console.log(`=== ${cxx} has no libasan.so (${libasan}): install g++ (Debian: libasan8 comes with it)`);
    record('sanitizer build', { passed: 0, failed: 1 });
    return;
  }
  console.log('\n=== building the addon with -fsanitize=address,undefined');
  let addon;
  try {
    addon = await buildAsanAddon();
  } catch (e) {
    console.log(/** @type {Error} */ (e).message);
    record('sanitizer build', { passed: 0, failed: 1 });
    return;
  }
  const sanEnv = {
    LD_PRELOAD: libasan,
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    DEVMEM_TCP_ADDON: addon,
  };
  const env = { ...process.env, ...sanEnv };

  // The run proves nothing unless node really loads the instrumented addon.
  const probe = spawnSync(
    process.execPath,
    [
      '--import=tsx',
      '-e',
      "require('./lib/native.ts').native(); process.stdout.write(require('fs').readFileSync('/proc/self/maps','utf8'))",
    ],
    { cwd: root, env, encoding: 'utf8' },
  );
  const maps = probe.stdout ?? '';
  const loaded = probe.status === 0 && maps.includes(addon) && maps.includes(path.basename(libasan));
  console.log(`=== node loads ${path.relative(root, addon)} with ${path.basename(libasan)}: ${loaded ? 'yes' : `NO\n${probe.stderr}`}`);
  record('sanitizer addon loads', { passed: loaded ? 1 : 0, failed: loaded ? 0 : 1 });
  if (!loaded) return;

  console.log('\n=== native leak test (LeakSanitizer)');
  const leaksBin = path.join(root, 'build-asan/native-leaks');
  const srcs = [
    'test/native/leaks.cc',
    'native/netlink/reply.cc',
    'native/netlink/family.cc',
    'native/netlink/request.cc',
    'native/netlink/socket.cc',
    'native/netlink/spec.cc',
    'native/netlink/transact.cc',
    'native/rx/fragments.cc',
    'native/rx/token_release.cc',
    'native/rx/token_ledger.cc',
    'native/rx/replay_source.cc',
    'native/ethtool/ioctl.cc',
    'native/net/address.cc',
  ];
  const b = spawnSync(cxx, ['-std=c++17', '-g', '-O1', ...sanitizeFlags, '-Inative', ...srcs, '-o', leaksBin], {
    cwd: root,
    stdio: 'inherit',
  });
  if (b.status !== 0) record('native leak test', { passed: 0, failed: 1 });
  else {
    const r = await runLogged(leaksBin, ['1000'], {
      ...process.env,
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
      UBSAN_OPTIONS: sanEnv.UBSAN_OPTIONS,
    });
    const ok = r.code === 0 && !REPORT.test(r.out);
    record('native leak test', { passed: ok ? 1 : 0, failed: ok ? 0 : 1 });
  }

  console.log('\n=== host suite with the sanitizer addon');
  const hostSum = path.join(tmp, 'host.json');
  const host = await runLogged('npm', ['run', '--silent', 'test:host'], { ...env, DEVMEM_TEST_SUMMARY: hostSum });
  record('host suite (ASan+UBSan)', suiteCounts(hostSum, host));

  if (hostOnly) return;
  console.log('\n=== guest suite with the sanitizer addon');
  // The harness (and qemu) run unsanitized; only the guest's node gets these.
  const guestSum = path.join(tmp, 'guest.json');
  const guest = await runLogged(process.execPath, ['scripts/vm/run.mjs', ...(install ? ['--install'] : [])], {
    ...process.env,
    DEVMEM_VM_SUMMARY: guestSum,
    // Instrumented code under TCG: give each boot more time than the usual 600 s.
    DEVMEM_VM_TIMEOUT: process.env.DEVMEM_VM_TIMEOUT ?? '1500',
    DEVMEM_VM_LD_PRELOAD: sanEnv.LD_PRELOAD,
    DEVMEM_VM_ASAN_OPTIONS: sanEnv.ASAN_OPTIONS,
    DEVMEM_VM_UBSAN_OPTIONS: sanEnv.UBSAN_OPTIONS,
    DEVMEM_VM_ADDON: addon,
  });
  record('guest suite (ASan+UBSan)', suiteCounts(guestSum, guest));
}

await main();
fs.rmSync(tmp, { recursive: true, force: true });
if (process.env.DEVMEM_ASAN_SUMMARY) fs.writeFileSync(process.env.DEVMEM_ASAN_SUMMARY, JSON.stringify(total));
console.log(`\n${total.passed} passed, ${total.failed} failed`);
process.exitCode = total.failed === 0 ? 0 : 1;

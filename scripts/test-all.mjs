#!/usr/bin/env node
// @ts-check
// `npm test`: build from a clean clone, check, then run every suite (host
// tests against the running kernel, the QEMU guest suite, the kernel's own
// devmem selftests against `devmem nc` in the guest (conformance), the fuzzers
// for a short time, the suites again under ASan/UBSan) and print one closing
// line "N passed, N failed". A suite that runs no test fails the run.
//
// `npm run check` (--check) is the contributor loop: build, typecheck, lint, the
// formatting check, the API reference and the host suite only. It installs nothing and needs no root (the host
// tests that do skip, saying so).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const env = { ...process.env };
// node-gyp finds this machine's Node headers only through npm's nodedir.
if (!env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
// The devmem boot runs well over 600 s (the harness's default limit) on a
// loaded 2-core host now that it carries the reliability and NIC suites, and
// the sanitizer build's boot ran past 1200 s once the host slowed (the same
// code passed at ~1000 s earlier): a limit for hangs, not a speed target.
env.DEVMEM_VM_TIMEOUT ??= '1800';

/**
 * @param {string} name
 * @param {string} cmd
 * @param {string[]} argv
 * @param {Record<string, string>} [extraEnv]
 * @returns {boolean}
 */
function step(name, cmd, argv, extraEnv = {}) {
  const t0 = Date.now();
  console.log(`\n=== ${name}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...env, ...extraEnv } });
  console.log(
    `=== ${name}: ${r.status === 0 ? 'ok' : `failed (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return r.status === 0;
}

/**
 * @param {string} name
 * @param {string} cmd
 * @param {string[]} argv
 * @param {string} summaryVar the environment variable that names the summary file
 * @returns {{ passed: number, failed: number, skipped: number }}
 */
function suite(name, cmd, argv, summaryVar) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-sum-')), 'summary.json');
  const ok = step(name, cmd, argv, { [summaryVar]: file });
  let counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    counts = { ...counts, ...JSON.parse(fs.readFileSync(file, 'utf8')) };
  } catch {
    counts.failed += 1; // the suite died before it could report
    console.log(`=== ${name}: no summary was written`);
  }
  if (!ok && counts.failed === 0) counts.failed = 1;
  if (counts.passed + counts.failed === 0) {
    console.log(`=== ${name}: ran no test, which counts as a failure`);
    counts.failed = 1;
  }
  return counts;
}

const total = { passed: 0, failed: 0, skipped: 0 };
/** @param {{ passed: number, failed: number, skipped?: number }} c */
const add = (c) => {
  total.passed += c.passed;
  total.failed += c.failed;
  total.skipped += c.skipped ?? 0;
};

// liburing (io_uring zcrx) is linked into the addon: install it first unless checking only.
if (!step('build dependencies (liburing)', 'node', ['scripts/build-deps.mjs', ...(args.has('--check') ? [] : ['--install'])]))
  add({ passed: 0, failed: 1 });
if (!step('build (native addon + TypeScript)', 'npm', ['run', 'compile'])) add({ passed: 0, failed: 1 });
else {
  // Both prebuilds (linux-x64, and linux-arm64 cross-compiled against the
  // cached arm64 root), so that the package tests in the host suite pack them
  // from the prebuilds cache; --install apt-installs the cross compiler and
  // debootstrap. The contributor loop installs nothing: there the package
  // tests make them, or say what is missing.
  if (!args.has('--check') && !step('prebuilds (linux-x64, linux-arm64)', 'node', ['scripts/prebuild/run.mjs', '--install']))
    add({ passed: 0, failed: 1 });
  if (!step('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'])) add({ passed: 0, failed: 1 });
  if (!step('typecheck the harness scripts', 'npx', ['tsc', '-p', 'tsconfig.scripts.json'])) add({ passed: 0, failed: 1 });
  if (!step('lint', 'npx', ['eslint', '.'])) add({ passed: 0, failed: 1 });
  // Prettier and clang-format; `npm test` installs clang-format if it is missing.
  const format = ['scripts/format.mjs', '--check', ...(args.has('--check') ? [] : ['--install'])];
  if (!step('formatting (Prettier, clang-format)', 'node', format)) add({ passed: 0, failed: 1 });
  // Every export documented; TypeDoc's warnings are errors (typedoc.json).
  if (!step('API reference (TypeDoc)', 'npx', ['typedoc'])) add({ passed: 0, failed: 1 });
  add(suite('host tests (running kernel)', 'npm', ['run', '--silent', 'test:host'], 'DEVMEM_TEST_SUMMARY'));
  if (args.has('--check')) {
    // the contributor loop ends here
  } else if (!args.has('--host-only')) {
    add(suite('guest tests (QEMU lab)', 'node', ['scripts/vm/run.mjs', '--install'], 'DEVMEM_VM_SUMMARY'));
    // Every case of the three upstream files counts; a skip only where ncdevmem skips too.
    add(
      suite(
        "conformance (the kernel's devmem selftests against devmem nc, in the guest)",
        'node',
        ['scripts/vm/run.mjs', '--mode', 'conformance', '--install'],
        'DEVMEM_VM_SUMMARY',
      ),
    );
  }
  if (!args.has('--check')) {
    // Each fuzz target and each sanitizer suite counts as results of its own.
    add(
      suite(
        'fuzzing (30 s per target, ASan+UBSan)',
        'node',
        ['scripts/fuzz/run.mjs', '--seconds', '30', '--install'],
        'DEVMEM_FUZZ_SUMMARY',
      ),
    );
    add(
      suite(
        'sanitizer tests (ASan+UBSan addon, LSan native)',
        'node',
        ['scripts/asan/run.mjs', '--install', ...(args.has('--host-only') ? ['--host-only'] : [])],
        'DEVMEM_ASAN_SUMMARY',
      ),
    );
  }
}

console.log(`\n${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exitCode = total.failed === 0 ? 0 : 1;

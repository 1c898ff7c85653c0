#!/usr/bin/env node
// @ts-check
// `npm run fuzz -- [--seconds N | --runs N] [--target NAME] [--install]`
//
// Builds the libFuzzer targets in fuzz/ with clang, ASan and UBSan (any
// sanitizer report aborts), replays every saved regression input, then
// fuzzes each target from its committed seed corpus and prints the number
// of executions. A working corpus is kept under build-fuzz/ (node-gyp and prebuildify wipe build/) so that later
// runs start where earlier ones stopped; the repository's seeds are only read.
//
// clang comes from Debian (clang-14, libclang-rt-14-dev). With --install, or
// as root under CI=true, missing packages are installed with apt-get.
// DEVMEM_FUZZ_SUMMARY=FILE writes {"passed":N,"failed":N,"targets":{...}}.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string' },
    runs: { type: 'string' },
    target: { type: 'string', multiple: true },
    install: { type: 'boolean', default: false },
  },
});

// Each target: its harness and the production sources it links.
/** @type {Record<string, string[]>} */
const TARGETS = {
  netlink_reply: [
    'native/netlink/reply.cc',
    'native/netlink/device_events.cc',
    'native/netlink/family.cc',
    'native/netlink/request.cc',
    'native/netlink/socket.cc',
    'native/netlink/spec.cc',
  ],
  rx_recvmsg: ['native/rx/fragments.cc', 'native/rx/token_release.cc'],
  token_ledger: ['native/rx/token_ledger.cc', 'native/rx/token_release.cc', 'native/rx/replay_source.cc'],
};

/**
 * @param {string} msg
 * @returns {never}
 */
function fail(msg) {
  console.error(`fuzz: ${msg}`);
  process.exit(2);
}

/**
 * @param {string} name
 * @param {string | undefined} v
 * @returns {number | undefined}
 */
function positive(name, v) {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

const seconds = positive('seconds', opts.seconds);
const runs = positive('runs', opts.runs);
if (seconds === undefined && runs === undefined) fail('say how long: --seconds N (per target) or --runs N (executions per target)');
const names = opts.target ?? Object.keys(TARGETS);
for (const n of names) if (!TARGETS[n]) fail(`unknown target ${n}; targets: ${Object.keys(TARGETS).join(', ')}`);

function findClang() {
  for (const c of ['clang++-14', 'clang++']) {
    const r = spawnSync(c, ['-print-file-name=libclang_rt.fuzzer-x86_64.a'], { encoding: 'utf8' });
    if (r.status === 0 && path.isAbsolute(r.stdout.trim()) && fs.existsSync(r.stdout.trim())) return c;
  }
  return undefined;
}

let clang = findClang();
if (!clang) {
  const canInstall = opts.install || (process.env.CI === 'true' && process.getuid?.() === 0);
  if (!canInstall) fail('clang with libFuzzer is missing: apt-get install clang-14 libclang-rt-14-dev (or pass --install as root)');
  console.log('fuzz: installing clang-14 and libclang-rt-14-dev with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'clang-14', 'libclang-rt-14-dev'], {
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'clang-14', 'libclang-rt-14-dev'], {
      stdio: 'inherit',
      env,
    });
  }
  clang = findClang();
  if (!clang) fail('apt-get did not provide clang++-14 with libFuzzer');
}

const out = path.join(root, 'build-fuzz');
fs.mkdirSync(out, { recursive: true });
/** @type {Record<string, { ok: boolean, why?: string, execs?: number, seconds?: number, corpus?: number }>} */
const results = {};

for (const name of names) {
  const bin = path.join(out, name);
  const srcs = [path.join(root, 'fuzz', `${name}.cc`), ...TARGETS[name].map((s) => path.join(root, s))];
  console.log(`\n--- ${name}: building with ${clang} (-fsanitize=fuzzer,address,undefined)`);
  const b = spawnSync(
    clang,
    [
      '-g',
      '-O1',
      '-std=c++17',
      '-fsanitize=fuzzer,address,undefined',
      '-fno-sanitize-recover=all',
      '-fno-omit-frame-pointer',
      `-I${path.join(root, 'native')}`,
      ...srcs,
      '-o',
      bin,
    ],
    { stdio: 'inherit' },
  );
  if (b.status !== 0) {
    results[name] = { ok: false, why: 'build failed' };
    continue;
  }
  // Leaks are findings too; a report of any kind exits non-zero.
  const env = {
    ...process.env,
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:symbolize=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  };

  const regDir = path.join(root, 'fuzz/regressions', name);
  const regs = fs.existsSync(regDir) ? fs.readdirSync(regDir).map((f) => path.join(regDir, f)) : [];
  if (regs.length) {
    const r = spawnSync(bin, regs, { encoding: 'utf8', env });
    if (r.status !== 0) {
      process.stdout.write(r.stderr);
      results[name] = { ok: false, why: `a saved regression input fails again (${regs.length} replayed)` };
      continue;
    }
    console.log(`${name}: ${regs.length} regression input(s) replayed, all pass`);
  }

  const work = path.join(out, 'corpus', name);
  const artifacts = path.join(out, 'artifacts', name);
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const args = ['-print_final_stats=1', `-artifact_prefix=${artifacts}/`, '-max_len=8192', work, path.join(root, 'fuzz/corpus', name)];
  if (seconds !== undefined) args.unshift(`-max_total_time=${seconds}`);
  if (runs !== undefined) args.unshift(`-runs=${runs}`);
  const t0 = Date.now();
  const r = spawnSync(bin, args, { encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
  const secs = (Date.now() - t0) / 1000;
  const stat = (/** @type {string} */ k) => Number(new RegExp(`stat::${k}:\\s+(\\d+)`).exec(r.stderr)?.[1] ?? NaN);
  const execs = stat('number_of_executed_units');
  const corpus = fs.readdirSync(work).length;
  if (r.status !== 0) {
    process.stdout.write(r.stderr.split('\n').slice(-60).join('\n'));
    const found = fs.readdirSync(artifacts);
    results[name] = {
      ok: false,
      execs,
      why: `finding (exit ${r.status ?? r.signal}); inputs in ${path.relative(root, artifacts)}: ${found.join(', ')}`,
    };
    console.log(`${name}: FINDING after ${execs} executions; move the input into fuzz/regressions/${name}/ once fixed`);
    continue;
  }
  results[name] = { ok: true, execs, seconds: Number(secs.toFixed(1)), corpus };
  console.log(`${name}: ${execs} executions in ${secs.toFixed(1)} s (${Math.round(execs / secs)}/s), corpus ${corpus}, no findings`);
}

const passed = Object.values(results).filter((r) => r.ok).length;
const failed = names.length - passed;
console.log(
  `\nfuzz: ${Object.entries(results)
    .map(([n, r]) => `${n} ${r.ok ? `${r.execs} execs ok` : `FAILED (${r.why})`}`)
    .join('; ')}`,
);
if (process.env.DEVMEM_FUZZ_SUMMARY)
  fs.writeFileSync(process.env.DEVMEM_FUZZ_SUMMARY, JSON.stringify({ passed, failed, targets: results }));
process.exitCode = failed ? 1 : 0;

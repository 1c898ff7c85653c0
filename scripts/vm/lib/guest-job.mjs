// @ts-check
// The job directory of one guest boot: a host temp dir shared writable into the guest.
// The host writes job.env (what to run); the guest writes back:
//   results.json  mocha results (test/e2e/mocha-reporter.cjs)
//   mocha-exit    mocha's exit status
//   guest-exit    exit status of scripts/vm/guest/main.sh
//   dmesg.txt     the guest kernel log, saved just before power-off
//   init-failed   why the guest init gave up, if it did
//   bench.json    the benchmark's report (bench jobs)
//   bench-exit    the benchmark's exit status (bench jobs)
//   ksft-*.tap    each kernel selftest's KTAP output (conformance jobs)
//   ksft-*.exit   each kernel selftest's exit status (conformance jobs)
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What test/e2e/mocha-reporter.cjs writes to results.json.
 * @typedef {object} MochaResults
 * @property {{ passes?: number, failures?: number, pending?: number, tests?: number, duration?: number }} [stats]
 * @property {{ title: string, fullTitle: string, file?: string, state: 'passed' | 'failed' | 'pending', durationMs?: number, error?: { message: string, stack?: string } }[]} [tests]
 */
/** @typedef {ReturnType<typeof readJobResults>} JobResults */

/** @param {string} value */
function shellQuote(value) {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

/**
 * @param {object} job
 * @param {string} job.mode
 * @param {string} job.repoRoot
 * @param {string} job.node the node binary the guest runs
 * @param {string} [job.grep]
 * @param {boolean} job.color
 * @param {{ args: string }} [job.bench]
 * @param {{ tree: string, files: string[], timeoutSeconds: number }} [job.selftests]
 */
export function createJob({ mode, repoRoot, node, grep, color, bench, selftests }) {
  const dir = mkdtempSync(join(tmpdir(), `devmem-vm-${mode}-`));
  const vars = {
    DEVMEM_JOB_MODE: mode,
    DEVMEM_JOB_REPO: repoRoot,
    DEVMEM_JOB_NODE: node,
    DEVMEM_JOB_GREP: grep ?? '',
    DEVMEM_JOB_COLOR: color ? '1' : '0',
    DEVMEM_JOB_KIND: bench ? 'bench' : 'test',
    DEVMEM_JOB_BENCH_ARGS: bench?.args ?? '',
    // Conformance jobs: the cached selftest tree, the suites to run and each one's limit.
    DEVMEM_JOB_SELFTESTS: selftests?.tree ?? '',
    DEVMEM_JOB_SELFTEST_FILES: selftests?.files.join(' ') ?? '',
    DEVMEM_JOB_SELFTEST_TIMEOUT: String(selftests?.timeoutSeconds ?? ''),
    // Set by `npm run test:asan`: the sanitizer build of the addon and the
    // runtime preloaded into the guest's node (the host's own files, over 9p).
    DEVMEM_JOB_LD_PRELOAD: process.env.DEVMEM_VM_LD_PRELOAD ?? '',
    DEVMEM_JOB_ASAN_OPTIONS: process.env.DEVMEM_VM_ASAN_OPTIONS ?? '',
    DEVMEM_JOB_UBSAN_OPTIONS: process.env.DEVMEM_VM_UBSAN_OPTIONS ?? '',
    DEVMEM_JOB_ADDON: process.env.DEVMEM_VM_ADDON ?? '',
    // Opt-in for the TX device-removal test, which oopses kernels up to at least 7.3.4
    // (see docs/kernel-notes.md#tx-binding-after-device-removal).
    DEVMEM_JOB_TX_DEVICE_REMOVAL: process.env.DEVMEM_E2E_TX_DEVICE_REMOVAL ?? '',
  };
  writeFileSync(
    join(dir, 'job.env'),
    `# written by scripts/vm/run.mjs, read by the guest (POSIX sh)\n` +
      Object.entries(vars)
        .map(([k, v]) => `${k}=${shellQuote(v)}`)
        .join('\n') +
      '\n',
  );
  return {
    dir,
    consoleLog: join(dir, 'console.log'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * @param {string} dir
 * @param {string} name
 */
function readText(dir, name) {
  const path = join(dir, name);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * @param {string} dir
 * @param {string} name
 */
function readStatus(dir, name) {
  const text = readText(dir, name)?.trim();
  return text === undefined || text === '' ? undefined : Number(text);
}

/**
 * What the guest left in the job directory (missing pieces are undefined).
 * @param {string} dir
 */
export function readJobResults(dir) {
  /** @type {MochaResults | undefined} */
  let results;
  /** @type {string | undefined} */
  let resultsError;
  const raw = readText(dir, 'results.json');
  if (raw !== undefined) {
    try {
      results = JSON.parse(raw);
    } catch (err) {
      resultsError = `results.json is not valid JSON: ${/** @type {Error} */ (err).message}`;
    }
  }
  return {
    results,
    resultsError,
    mochaExit: readStatus(dir, 'mocha-exit'),
    guestExit: readStatus(dir, 'guest-exit'),
    dmesg: readText(dir, 'dmesg.txt'),
    initFailed: readText(dir, 'init-failed')?.trim(),
    benchReport: readText(dir, 'bench.json'),
    benchExit: readStatus(dir, 'bench-exit'),
  };
}

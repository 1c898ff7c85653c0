#!/usr/bin/env node
// @ts-check
// npm run test:vm: the QEMU guest test harness. See docs/guest-lab.md.
//
//   1. build the addon if needed (the guest loads the host's build/Release/*.node) and
//      compile dist/ (the CLI tests run the compiled CLI)
//   2. make sure the kernel artifacts are cached (~/.cache/devmem-tcp/<kernel>/),
//      building them from Debian packages if not
//   3. per mode (devmem, stock): boot the guest, which runs test/e2e/<mode>/** with mocha
//      inside netns nsa, and judge the results and the guest kernel log; the conformance
//      mode instead runs the kernel's own devmem selftests against `devmem nc` (the
//      selftest tree is cached beside the kernel) and judges their KTAP
//   4. print each mode's outcome and finally "N passed, N failed"; exit 0 only if clean
import { copyFileSync, existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureAddon } from './lib/addon.mjs';
import { ensureCompiledCli } from './lib/cli-build.mjs';
import { allowInstall, aptUpdate, ensureExtraSources } from './lib/apt.mjs';
import { buildKernelArtifacts, cleanWork } from './lib/build.mjs';
import { acquireBuildLock } from './lib/build-lock.mjs';
import { usableCachedKernel, workDir } from './lib/cache.mjs';
import { onCleanup, runCleanups } from './lib/cleanup.mjs';
import { HarnessError } from './lib/errors.mjs';
import { createJob, readJobResults } from './lib/guest-job.mjs';
import { ensureBuildTools, ensureRuntimeTools } from './lib/host-tools.mjs';
import { ensurePackages } from './lib/apt.mjs';
import { judgeConformance } from './lib/conformance.mjs';
import { checkSpecs } from './lib/spec-check.mjs';
import { ensureSelftests, SELFTEST_BUILD_PACKAGES, SELFTEST_FILES, SELFTEST_RUNTIME_PACKAGES } from './lib/selftests.mjs';
import { ensureInitramfs } from './lib/initramfs.mjs';
import { elapsedSeconds, step } from './lib/log.mjs';
import { loadPatch } from './lib/netdevsim-patch.mjs';
import { parseOptions, USAGE } from './lib/options.mjs';
import { killAllChildren } from './lib/proc.mjs';
import { bootGuest } from './lib/qemu.mjs';
import { buildBenchReference, judgeBench } from './lib/bench-job.mjs';
import { judgeMode, printModeSummary, totals } from './lib/report.mjs';
import { selectKernel } from './lib/select-kernel.mjs';
/** @import { CachedKernel } from './lib/cache.mjs' */
/** @import { Candidate } from './lib/debian-kernels.mjs' */
/** @import { Options } from './lib/options.mjs' */
/** @import { Verdict } from './lib/report.mjs' */
/** @import { Selftests } from './lib/selftests.mjs' */

/**
 * What every boot needs: the cached kernel, its initramfs and (conformance) the selftest tree.
 * @typedef {{ kernel: CachedKernel, initramfs: string, selftests: Selftests | undefined }} Artifacts
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// The guest sees the host root read-only, but with its own tmpfs on /tmp and /run and
// its own /proc, /sys and /dev: anything it must reach from the host cannot live there.
const HIDDEN_IN_GUEST = ['/tmp', '/run', '/proc', '/sys', '/dev'];

/**
 * @param {string} what
 * @param {string} path
 */
function checkVisibleInGuest(what, path) {
  const real = realpathSync(path);
  const hidden = HIDDEN_IN_GUEST.find((d) => real === d || real.startsWith(`${d}/`));
  if (hidden) {
    throw new HarnessError(`${what} (${real}) is under ${hidden}, which the guest replaces with its own; move it elsewhere`);
  }
}

/**
 * Cached kernel artifacts and initramfs, building them first if needed.
 * @param {Options} opts
 * @returns {Promise<Artifacts>}
 */
async function prepareArtifacts(opts) {
  await ensureRuntimeTools();
  const patch = loadPatch(repoRoot);
  const work = workDir(opts.cacheRoot);
  // The work dir belongs to whoever holds the build lock: only that run may delete it.
  /** @type {(() => void) | undefined} */
  let releaseLock;
  const finish = () => {
    if (!releaseLock) return;
    try {
      cleanWork(work, opts.keepWork);
    } finally {
      releaseLock();
      releaseLock = undefined;
    }
  };
  const unregister = onCleanup(finish);
  // Runs before anything touches apt or the work dir, i.e. only on a cache miss; once.
  /** @type {Promise<void> | undefined} */
  let aptReady;
  const prepareApt = () =>
    (aptReady ??= (async () => {
      releaseLock = await acquireBuildLock(opts.cacheRoot);
      ensureExtraSources();
      await aptUpdate();
      await ensureBuildTools();
    })());
  try {
    const choice = await selectKernel({ opts, patch, work, prepareApt });
    let kernel = choice.cached;
    if (!kernel) {
      const paths = await buildKernelArtifacts({
        candidate: /** @type {Candidate} */ (choice.build),
        sourceDir: /** @type {string} */ (choice.sourceDir),
        patch,
        cacheRoot: opts.cacheRoot,
        work,
        repoRoot,
      });
      kernel = /** @type {CachedKernel} */ (usableCachedKernel(paths.dir, patch.sha256));
      step(`kernel ${kernel.release}: cached in ${paths.dir} (built in ${kernel.buildSeconds} s)`);
    }
    const initramfs = await ensureInitramfs({ paths: kernel.paths, stamp: kernel, repoRoot });
    /** @type {Selftests | undefined} */
    let selftests;
    if (opts.modes.includes('conformance')) {
      await ensurePackages(SELFTEST_RUNTIME_PACKAGES);
      selftests = await ensureSelftests({
        kernel,
        work,
        prepareApt: async () => {
          await prepareApt();
          await ensurePackages(SELFTEST_BUILD_PACKAGES);
        },
      });
    }
    return { kernel, initramfs, selftests };
  } finally {
    unregister();
    finish();
  }
}

/**
 * One boot: runs the mode's specs in the guest and judges the outcome.
 * @param {string} mode
 * @param {Artifacts} artifacts
 * @param {Options} opts
 * @returns {Promise<Verdict>}
 */
async function runMode(mode, { kernel, initramfs, selftests }, opts) {
  const job = createJob({
    mode,
    repoRoot,
    node: process.execPath,
    grep: opts.grep,
    color: opts.color,
    bench: opts.bench,
    selftests:
      mode === 'conformance'
        ? { tree: /** @type {Selftests} */ (selftests).paths.tree, files: SELFTEST_FILES, timeoutSeconds: opts.selftestTimeoutSeconds }
        : undefined,
  });
  const unregister = onCleanup(job.remove);
  try {
    step(`${mode}: booting ${kernel.release} on ${opts.cpus} vCPU${opts.cpus === 1 ? '' : 's'} (timeout ${opts.bootTimeoutMs / 1000} s)`);
    /** @type {string[]} */
    const consoleLines = [];
    const boot = await bootGuest({
      vmlinuz: kernel.paths.vmlinuz,
      initramfs,
      jobDir: job.dir,
      cpus: opts.cpus,
      timeoutMs: opts.bootTimeoutMs,
      consoleLog: job.consoleLog,
      onLine: (line) => {
        consoleLines.push(line);
        console.log(`[${mode}] ${line}`);
      },
    });
    await haltIfAborting();
    const results = readJobResults(job.dir);
    const verdict = opts.bench
      ? judgeBench({ mode, boot, job: results, consoleLines })
      : mode === 'conformance'
        ? judgeConformance({
            mode,
            boot,
            jobDir: job.dir,
            job: results,
            consoleLines,
            specChecks: checkSpecs({
              repoRoot,
              specsDir: join(/** @type {Selftests} */ (selftests).paths.tree, 'Documentation/netlink/specs'),
            }),
          })
        : judgeMode({ mode, boot, job: results, consoleLines, grep: opts.grep });
    if (opts.bench?.out && results.benchReport !== undefined) writeFileSync(opts.bench.out, results.benchReport);
    // Keep the last console log and kernel log of each mode for post-mortems.
    const logs = join(opts.cacheRoot, 'logs');
    mkdirSync(logs, { recursive: true });
    copyFileSync(job.consoleLog, join(logs, `${mode}-console.log`));
    if (existsSync(join(job.dir, 'dmesg.txt'))) copyFileSync(join(job.dir, 'dmesg.txt'), join(logs, `${mode}-dmesg.txt`));
    if (!verdict.ok) verdict.logs = logs;
    return verdict;
  } finally {
    unregister();
    job.remove();
  }
}

/**
 * @param {string | undefined} file
 * @param {object} summary
 */
function writeSummary(file, summary) {
  if (!file) return;
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
}

/** @param {Verdict} v */
function modeSummary(v) {
  return {
    ok: v.ok,
    passed: v.passed,
    failed: v.failed,
    pending: v.pending,
    ...(v.skipped !== undefined ? { skipped: v.skipped, suites: v.suites } : {}),
    failedTests: v.failedTests.map((t) => t.title),
    problems: v.problems,
    guestSeconds: v.bootSeconds,
  };
}

let aborting = false;

// Once abort() has started, the normal flow must not go on to judge and report a guest
// that abort() itself killed: it parks here until abort() exits the process.
function haltIfAborting() {
  return aborting ? new Promise(() => {}) : Promise.resolve();
}

/**
 * @param {Options | undefined} opts
 * @param {string} reason
 * @param {number} code
 */
async function abort(opts, reason, code) {
  if (aborting) return;
  aborting = true;
  console.error(`\ntest:vm: ${reason}; stopping`);
  await killAllChildren();
  runCleanups();
  writeSummary(opts?.summaryFile, { passed: 0, failed: 1, modes: {}, error: reason });
  console.log('0 passed, 1 failed');
  process.exit(code);
}

async function main() {
  let opts;
  try {
    opts = parseOptions();
  } catch (err) {
    console.error(/** @type {Error} */ (err).message);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  allowInstall(opts.install);
  process.on('SIGINT', () => abort(opts, 'interrupted (SIGINT)', 130));
  process.on('SIGTERM', () => abort(opts, 'terminated (SIGTERM)', 143));
  setTimeout(
    () => abort(opts, `overall timeout of ${opts.totalTimeoutMs / 1000} s reached (DEVMEM_VM_TOTAL_TIMEOUT)`, 124),
    opts.totalTimeoutMs,
  ).unref();

  try {
    if (!existsSync(join(repoRoot, 'node_modules', 'mocha'))) {
      throw new HarnessError('node_modules/mocha missing: run npm ci first');
    }
    checkVisibleInGuest('the repository', repoRoot);
    checkVisibleInGuest('node_modules', join(repoRoot, 'node_modules'));
    checkVisibleInGuest('node', process.execPath);
    await ensureAddon(repoRoot);
    if (opts.bench) buildBenchReference(repoRoot);
    await ensureCompiledCli(repoRoot);
    const artifacts = await prepareArtifacts(opts);
    /** @type {Verdict[]} */
    const verdicts = [];
    for (const mode of opts.modes) verdicts.push(await runMode(mode, artifacts, opts));

    console.log('');
    for (const v of verdicts) printModeSummary(v);
    const logs = verdicts.find((v) => v.logs)?.logs;
    if (logs) console.log(`guest console and kernel logs: ${logs}`);
    const total = totals(verdicts);
    writeSummary(opts.summaryFile, {
      ...total,
      kernel: artifacts.kernel.release,
      seconds: Math.round(elapsedSeconds()),
      modes: Object.fromEntries(verdicts.map((v) => [v.mode, modeSummary(v)])),
    });
    console.log(`total time ${elapsedSeconds().toFixed(1)} s, kernel ${artifacts.kernel.release}`);
    console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
    process.exitCode = verdicts.every((v) => v.ok) ? 0 : 1;
  } catch (err) {
    await haltIfAborting();
    await killAllChildren();
    runCleanups();
    console.error(err instanceof HarnessError ? `test:vm: ${err.message}` : err);
    writeSummary(opts.summaryFile, { passed: 0, failed: 1, modes: {}, error: String(/** @type {Error} */ (err).message ?? err) });
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  }
}

await main();

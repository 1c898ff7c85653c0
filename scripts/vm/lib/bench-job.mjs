// @ts-check
// Judging a benchmark boot (`npm run test:vm -- --bench`): it passes when the
// benchmark exited 0, left a JSON report, and the guest kernel log is clean.
// It counts as one test in the totals.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { consoleKernelProblems, kernelProblems } from './kernel-log.mjs';
import { step } from './log.mjs';
/** @import { JobResults } from './guest-job.mjs' */
/** @import { Boot } from './qemu.mjs' */
/** @import { Verdict } from './report.mjs' */

/**
 * Compiles the benchmark's C reference on the host: the guest cannot (read-only root).
 * @param {string} repoRoot
 */
export function buildBenchReference(repoRoot) {
  const out = execFileSync(process.execPath, ['--import=tsx', join(repoRoot, 'bench', 'build-c.ts')], { cwd: repoRoot, encoding: 'utf8' });
  step(`bench: C reference ${out.trim()}`);
}

/**
 * @param {object} args
 * @param {string} args.mode
 * @param {Boot} args.boot
 * @param {JobResults} args.job
 * @param {string[]} args.consoleLines
 * @returns {Verdict}
 */
export function judgeBench({ mode, boot, job, consoleLines }) {
  /** @type {string[]} */
  const problems = [];
  /** @type {unknown} */
  let report;
  if (boot.timedOut) problems.push(`guest timed out after ${(boot.wallMs / 1000).toFixed(0)} s and was killed`);
  if (job.initFailed) problems.push(`guest init failed: ${job.initFailed}`);
  if (job.benchReport === undefined) {
    if (!boot.timedOut && !job.initFailed) problems.push(`the benchmark left no report (exit status ${job.benchExit ?? 'unknown'})`);
  } else {
    try {
      report = JSON.parse(job.benchReport);
    } catch (err) {
      problems.push(`bench.json is not valid JSON: ${/** @type {Error} */ (err).message}`);
    }
  }
  if (job.benchExit !== undefined && job.benchExit !== 0) problems.push(`the benchmark exited with status ${job.benchExit}`);
  const kernel = job.dmesg !== undefined ? kernelProblems(job.dmesg) : consoleKernelProblems(consoleLines);
  if (kernel.length) problems.push(`guest kernel log has ${kernel.length} problem line(s):\n      ${kernel.slice(0, 40).join('\n      ')}`);
  const ok = problems.length === 0;
  return {
    mode,
    ok,
    passed: ok ? 1 : 0,
    failed: problems.length,
    testFailures: 0,
    pending: 0,
    problems,
    failedTests: [],
    kernelProblems: kernel,
    bootSeconds: Math.round(boot.wallMs / 100) / 10,
    benchReport: report,
  };
}

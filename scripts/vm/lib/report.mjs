// @ts-check
// Judging one mode's boot and printing the outcome.
//
// A mode fails on: any failed test; zero tests (an empty run means the harness or the
// spec selection is broken, never that all is well); kernel log problems; a timeout,
// crash or missing results. Each such harness-level problem counts as one failure in
// the totals, so "N passed, 0 failed" is only ever printed for a clean run.
import { consoleKernelProblems, kernelProblems } from './kernel-log.mjs';
/** @import { JobResults } from './guest-job.mjs' */
/** @import { Boot } from './qemu.mjs' */

/**
 * One mode's outcome (judgeMode, judgeConformance or judgeBench).
 * @typedef {object} Verdict
 * @property {string} mode
 * @property {boolean} ok
 * @property {number} passed
 * @property {number} failed test failures plus harness problems
 * @property {number} testFailures
 * @property {number} pending
 * @property {number} [skipped] conformance: skips the kernel's ncdevmem takes too
 * @property {string[]} problems
 * @property {{ title: string, error?: string | undefined }[]} failedTests
 * @property {string[]} kernelProblems
 * @property {number} bootSeconds
 * @property {Record<string, { name: string, status: string, comment: string }[]>} [suites] conformance: each suite's cases
 * @property {{ file: string, firstRun: string }[]} [reruns] conformance: suites that failed once and passed when run again
 * @property {unknown} [benchReport] bench: the parsed bench.json
 * @property {string} [logs] where the console and kernel logs were kept (failed modes)
 */

/**
 * @param {object} args
 * @param {string} args.mode
 * @param {Boot} args.boot
 * @param {JobResults} args.job
 * @param {string[]} args.consoleLines
 * @param {string} [args.grep]
 * @returns {Verdict}
 */
export function judgeMode({ mode, boot, job, consoleLines, grep }) {
  /** @type {string[]} */
  const problems = [];
  const results = job.results;
  const passed = results?.stats?.passes ?? 0;
  const testFailures = results?.stats?.failures ?? 0;
  const pending = results?.stats?.pending ?? 0;

  if (boot.timedOut) problems.push(`guest timed out after ${(boot.wallMs / 1000).toFixed(0)} s and was killed`);
  if (job.initFailed) problems.push(`guest init failed: ${job.initFailed}`);
  if (!results) {
    if (boot.timedOut || job.initFailed) {
      // already explained
    } else if (job.resultsError) {
      problems.push(job.resultsError);
    } else if (job.guestExit === undefined) {
      problems.push(`guest stopped before its test script finished (qemu exit ${boot.exitCode}); see the console above`);
    } else {
      problems.push(`no results from mocha (guest test script exit status ${job.guestExit}); see the console above`);
    }
  } else if (passed + testFailures === 0) {
    problems.push(`zero tests ran in ${mode} mode${grep ? ` (--grep ${JSON.stringify(grep)})` : ''}: an empty run is a defect`);
  } else if (testFailures === 0 && job.mochaExit !== undefined && job.mochaExit !== 0) {
    // mocha's exit status is its failure count: non-zero with no failures means a crash.
    problems.push(`mocha exited with status ${job.mochaExit} although no test failed`);
  }
  const kernel = job.dmesg !== undefined ? kernelProblems(job.dmesg) : consoleKernelProblems(consoleLines);
  if (kernel.length) problems.push(`guest kernel log has ${kernel.length} problem line(s):\n      ${kernel.slice(0, 40).join('\n      ')}`);

  const failedTests = (results?.tests ?? []).filter((t) => t.state === 'failed');
  return {
    mode,
    ok: testFailures === 0 && problems.length === 0,
    passed,
    failed: testFailures + problems.length,
    testFailures,
    pending,
    problems,
    failedTests: failedTests.map((t) => ({ title: t.fullTitle, error: t.error?.message })),
    kernelProblems: kernel,
    bootSeconds: Math.round(boot.wallMs / 100) / 10,
  };
}

/** @param {Verdict} verdict */
export function printModeSummary(verdict) {
  const extra = [
    verdict.pending ? `${verdict.pending} pending` : '',
    verdict.skipped ? `${verdict.skipped} skipped as the kernel's ncdevmem skips them` : '',
    verdict.problems.length ? `${verdict.problems.length} harness problem(s) counted as failures` : '',
  ].filter(Boolean);
  const head =
    `${verdict.mode}: ${verdict.ok ? 'OK' : 'FAILED'}, ${verdict.passed} passed, ${verdict.failed} failed` +
    `${extra.length ? ` (${extra.join(', ')})` : ''}, guest ${verdict.bootSeconds} s`;
  console.log(head);
  for (const t of verdict.failedTests) {
    // The head says what failed; a traceback's last lines say why.
    const lines = (t.error ?? '').trim().split('\n');
    const shown = lines.length > 16 ? [...lines.slice(0, 2), `[${lines.length - 14} lines]`, ...lines.slice(-12)] : lines;
    const detail = shown.join('\n      ');
    console.log(`  failed: ${t.title}${detail ? `\n      ${detail}` : ''}`);
  }
  for (const p of verdict.problems) console.log(`  problem: ${p}`);
  for (const r of verdict.reruns ?? [])
    console.log(`  passed when run again, after failing the first time: ${r.file}\n      ${r.firstRun.split('\n').join('\n      ')}`);
}

/** @param {Verdict[]} verdicts */
export function totals(verdicts) {
  return {
    passed: verdicts.reduce((n, v) => n + v.passed, 0),
    failed: verdicts.reduce((n, v) => n + v.failed, 0),
    skipped: verdicts.reduce((n, v) => n + (v.skipped ?? 0), 0),
  };
}

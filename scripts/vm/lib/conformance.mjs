// @ts-check
// Judging the conformance boot: the kernel's own devmem selftests run unmodified in
// the guest against `devmem nc` (through a two-line `ncdevmem` wrapper), and every case
// they report counts in the run's totals.
//
// A case passes only on "ok". A SKIP counts as a skip only where the kernel's own
// ncdevmem skips that case on this lab too (EXPECTED_SKIPS, each with why); any other
// skip, an XFAIL, a "not ok", a suite that reports fewer cases than it planned or none,
// a suite that timed out, and a kernel log problem are failures.
//
// A suite that fails is run up to twice more (conformance.sh) and judged by the last
// run, with the first run's failure printed: the suites give `devmem nc` 5 s to listen,
// and under TCG on a loaded host its start (Node, a 64 MiB udmabuf and bind-rx, which
// cost the C ncdevmem the same) now and then takes longer; the suites also pick random
// ports that can collide with one in TIME_WAIT. A suite that fails three times fails.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKtap } from './ktap.mjs';
import { consoleKernelProblems, kernelProblems } from './kernel-log.mjs';
import { SELFTEST_FILES } from './selftests.mjs';
/** @import { JobResults } from './guest-job.mjs' */
/** @import { KtapCase } from './ktap.mjs' */
/** @import { Boot } from './qemu.mjs' */
/** @import { Verdict } from './report.mjs' */
/** @import { SpecCheck } from './spec-check.mjs' */

/**
 * Skips that ncdevmem takes on the lab as well: the case name, the skip comment the
 * suite must give, and why ncdevmem skips it (see
 * docs/kernel-notes.md#large-niov-cases-on-netdevsim).
 */
export const EXPECTED_SKIPS = [
  {
    name: 'devmem.check_rx_large_niov',
    comment: /rx-page-size=16384 support/,
    why: 'netdevsim cannot bind with rx-page-size above PAGE_SIZE, so the probe with -b 16384 fails for ncdevmem too',
  },
  {
    name: 'nk_devmem.check_nk_rx_large_niov',
    comment: /rx-page-size=16384 support/,
    why: 'the same probe of the physical netdevsim port as devmem.check_rx_large_niov',
  },
];

/** @param {string} file */
export function suiteName(file) {
  return file.replace(/\.py$/, '');
}

/**
 * Where the guest leaves one suite's output and exit status in the job directory.
 * @param {string} dir
 * @param {string} file
 */
export function suiteOutputFiles(dir, file) {
  const stem = suiteName(file);
  return {
    tap: join(dir, `ksft-${stem}.tap`),
    exit: join(dir, `ksft-${stem}.exit`),
    rerunTap: join(dir, `ksft-${stem}.rerun.tap`),
    rerunExit: join(dir, `ksft-${stem}.rerun.exit`),
  };
}

/**
 * @param {string} file
 * @param {string} tap
 * @param {string} exit
 */
function judgeOutput(file, tap, exit) {
  const exitText = existsSync(exit) ? readFileSync(exit, 'utf8').trim() : '';
  return judgeSuite(file, readFileSync(tap, 'utf8'), exitText === '' ? undefined : Number(exitText));
}

/** @param {KtapCase} c */
function expectedSkip(c) {
  return EXPECTED_SKIPS.find((s) => s.name === c.name && s.comment.test(c.comment));
}

/**
 * @param {string} file
 * @param {string} text
 * @param {number | undefined} exitStatus
 */
function judgeSuite(file, text, exitStatus) {
  const { plan, cases } = parseKtap(text);
  /** @type {Verdict['failedTests']} */
  const failedTests = [];
  /** @type {string[]} */
  const problems = [];
  let passed = 0;
  let skipped = 0;
  for (const c of cases) {
    if (c.status === 'pass') passed++;
    else if (c.status === 'skip' && expectedSkip(c)) skipped++;
    else {
      const what =
        c.status === 'skip'
          ? `skipped (${c.comment || 'no reason given'}), where the kernel's ncdevmem runs it`
          : c.status === 'xfail'
            ? `reported XFAIL (${c.comment})`
            : 'not ok';
      failedTests.push({ title: `${file}: ${c.name}`, error: `${what}\n${c.log.slice(-25).join('\n')}` });
    }
  }
  if (cases.length === 0) problems.push(`${file} reported no test case (exit status ${exitStatus ?? 'unknown'}): an empty run is a defect`);
  else if (plan !== undefined && cases.length !== plan) problems.push(`${file} planned ${plan} cases but reported ${cases.length}`);
  if (exitStatus === 124 || exitStatus === 137) problems.push(`${file} ran past its time limit and was stopped`);
  else if (exitStatus === undefined) problems.push(`${file} left no exit status: the guest stopped while it ran`);
  else if (exitStatus !== 0 && failedTests.length === 0 && problems.length === 0)
    problems.push(`${file} exited with status ${exitStatus} although every case passed or skipped as expected`);
  return { passed, skipped, failedTests, problems, cases: cases.map((c) => ({ name: c.name, status: c.status, comment: c.comment })) };
}

/**
 * `specChecks` ([{ name, problems }], from spec-check.mjs, run on the host against the
 * same source's YAML) count as cases too: the codec must speak the kernel's netlink.
 * @param {object} args
 * @param {string} args.mode
 * @param {Boot} args.boot
 * @param {string} args.jobDir
 * @param {JobResults} args.job
 * @param {string[]} args.consoleLines
 * @param {SpecCheck[]} [args.specChecks]
 * @returns {Verdict}
 */
export function judgeConformance({ mode, boot, jobDir, job, consoleLines, specChecks = [] }) {
  /** @type {string[]} */
  const problems = [];
  if (boot.timedOut) problems.push(`guest timed out after ${(boot.wallMs / 1000).toFixed(0)} s and was killed`);
  if (job.initFailed) problems.push(`guest init failed: ${job.initFailed}`);
  let passed = 0;
  let skipped = 0;
  /** @type {Verdict['failedTests']} */
  const failedTests = [];
  /** @type {NonNullable<Verdict['suites']>} */
  const suites = {};
  /** @type {NonNullable<Verdict['reruns']>} */
  const reruns = [];
  for (const file of SELFTEST_FILES) {
    const out = suiteOutputFiles(jobDir, file);
    if (!existsSync(out.tap)) {
      if (!boot.timedOut && !job.initFailed) problems.push(`${file} did not run (no output in the job directory); see the console above`);
      continue;
    }
    let verdict = judgeOutput(file, out.tap, out.exit);
    if ((verdict.failedTests.length > 0 || verdict.problems.length > 0) && existsSync(out.rerunTap)) {
      const first = [...verdict.failedTests.map((t) => `${t.title}: ${t.error ?? ''}`), ...verdict.problems].join('\n');
      verdict = judgeOutput(file, out.rerunTap, out.rerunExit);
      if (verdict.failedTests.length === 0 && verdict.problems.length === 0) reruns.push({ file, firstRun: first });
      else problems.push(`${file} failed again when run again; its first run:\n      ${first.split('\n').join('\n      ')}`);
    }
    passed += verdict.passed;
    skipped += verdict.skipped;
    failedTests.push(...verdict.failedTests);
    problems.push(...verdict.problems);
    suites[file] = verdict.cases;
  }
  for (const check of specChecks) {
    if (check.problems.length === 0) passed++;
    else failedTests.push({ title: check.name, error: check.problems.join('\n') });
  }
  const kernel = job.dmesg !== undefined ? kernelProblems(job.dmesg) : consoleKernelProblems(consoleLines);
  if (kernel.length) problems.push(`guest kernel log has ${kernel.length} problem line(s):\n      ${kernel.slice(0, 40).join('\n      ')}`);
  return {
    mode,
    ok: failedTests.length === 0 && problems.length === 0,
    passed,
    failed: failedTests.length + problems.length,
    testFailures: failedTests.length,
    pending: 0,
    skipped,
    problems,
    failedTests,
    kernelProblems: kernel,
    suites,
    reruns,
    bootSeconds: Math.round(boot.wallMs / 100) / 10,
  };
}

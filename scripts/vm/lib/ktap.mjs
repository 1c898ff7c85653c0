// @ts-check
// Reads the KTAP that the kernel's Python selftests print (net/lib/py/ksft.py):
//
//   TAP version 13
//   1..5
//   ok 1 devmem.check_rx
//   not ok 2 devmem.check_tx
//   ok 5 devmem.check_rx_large_niov # SKIP Test requires devmem rx-page-size=16384 support
//   # Totals: pass:3 fail:1 xfail:0 xpass:0 skip:1 error:0
//
// Colour codes (ksft colours results on a terminal) are stripped first. Lines that are
// not results (diagnostics "# ...", the plan) are kept as the case's log, so that a
// failure can be shown with what the suite printed for it.

/**
 * @typedef {object} KtapCase
 * @property {number} number
 * @property {string} name
 * @property {'pass' | 'fail' | 'skip' | 'xfail'} status
 * @property {string} comment
 * @property {string[]} log what the suite printed before the result line
 */

const ANSI_RE = /\x1b\[[0-9;]*m/g;
const RESULT_RE = /^(not )?ok (\d+) (\S+)(?:\s+#\s*(\S+)\s*(.*))?$/;
const PLAN_RE = /^1\.\.(\d+)$/;

/**
 * Parses one suite's output: { plan, cases: [{ number, name, status, comment, log }] },
 * status being 'pass', 'fail', 'skip' or 'xfail'.
 * @param {string} text
 * @returns {{ plan: number | undefined, cases: KtapCase[] }}
 */
export function parseKtap(text) {
  /** @type {KtapCase[]} */
  const cases = [];
  /** @type {number | undefined} */
  let plan;
  /** @type {string[]} */
  let log = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(ANSI_RE, '').replace(/\r$/, '');
    const planMatch = PLAN_RE.exec(line);
    if (planMatch) {
      plan = Number(planMatch[1]);
      continue;
    }
    const m = RESULT_RE.exec(line);
    if (!m) {
      if (line.trim() !== '') log.push(line);
      continue;
    }
    const [, not, number, name, directive, comment] = m;
    const dir = directive?.toUpperCase();
    /** @type {KtapCase['status']} */
    let status;
    if (dir === 'SKIP') status = 'skip';
    else if (dir === 'XFAIL') status = 'xfail';
    else status = not ? 'fail' : 'pass';
    cases.push({ number: Number(number), name, status, comment: (comment ?? '').trim(), log });
    log = [];
  }
  return { plan, cases };
}

/**
 * `devmem nc` (also installed as `ncdevmem-js`): the kernel's ncdevmem for
 * Node users, flag for flag. See bin/nc/options.ts for the flags and
 * bin/nc/{rx,tx,selftest}.ts for the three modes.
 */
import { fromError, type Outcome } from '../nc/outcome';
import { NC_HELP, parseNcArgs } from '../nc/options';
import { Reporter } from '../nc/reporter';
import type * as Rx from '../nc/rx';
import type * as SelfTest from '../nc/selftest';
import type * as Tx from '../nc/tx';

export { NC_HELP };

export async function runNc(argv: string[]): Promise<number> {
  let reporter = new Reporter(argv.includes('--json'));
  let outcome: Outcome;
  let mode = 'unknown';
  try {
    const o = parseNcArgs(argv);
    if (o.help) {
      process.stdout.write(NC_HELP);
      return 0;
    }
    mode = o.mode;
    reporter = new Reporter(o.json);
    // Each mode loads only its own modules (see bin/devmem.ts for why).
    if (o.mode === 'rx') outcome = await (require('../nc/rx') as typeof Rx).runRx(o, reporter);
    else if (o.mode === 'tx') outcome = await (require('../nc/tx') as typeof Tx).runTx(o, reporter);
    else outcome = await (require('../nc/selftest') as typeof SelfTest).runSelfTest(o, reporter);
  } catch (e) {
    outcome = fromError(e);
  }
  const word = { ok: 'ok', fail: 'FAIL', skip: 'SKIP' }[outcome.result];
  reporter.log(
    `devmem nc: ${word}${outcome.message ? `: ${outcome.message}` : ''}${outcome.reason === 'USAGE' ? ' (see devmem nc --help)' : ''}`,
  );
  if (outcome.advice) reporter.log(`  ${outcome.advice}`);
  reporter.event('summary', { mode, ...outcome });
  return outcome.exitCode;
}

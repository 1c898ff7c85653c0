/**
 * `devmem restore [IFACE]`: undoes the NIC changes that a devmem process
 * left behind when it died without restoring them (SIGKILL, a crash), from
 * its crash journal (lib/nic-journal.ts). Reports on stdout, errors on
 * stderr; exit 0 when everything left was undone or nothing was left.
 */
import { parseArgs } from 'node:util';

import { DevmemError, listNicJournals, recoverNic, type RecoveredStep, type RecoveryReport } from '../../lib/index';
import { describeError } from '../../lib/internal';

export const RESTORE_HELP = `Usage: devmem restore [IFACE] [--dry-run] [--json]

Undo the NIC changes (header split, RSS, n-tuple rules and feature, channels)
that a devmem process killed by SIGKILL, or crashed, left on IFACE, as listed
in its journal under /run/devmem-tcp/, in the order the kernel needs; then
remove the journal. Without IFACE: every journal of this network namespace
whose process is gone. A second run finds nothing to restore.

Options:
  --dry-run   List what would be undone; change nothing.
  --json      Print the reports as one JSON document on stdout.
  -h, --help  Show this help.

Exit status: 0 when everything was undone or nothing was left; 1 when an undo
failed (the journal keeps it for another try), a journal is unusable, or its
process still runs.
`;

const VERB: Record<RecoveredStep['outcome'], string> = {
  undone: 'undid',
  'already gone': 'already gone',
  released: 'released with its process',
  kept: 'kept (Linux ends it only with its netkit device)',
  'device gone': 'gone with the device',
  failed: 'FAILED to undo',
  planned: 'would undo',
};

function stepLine(s: RecoveredStep): string {
  return `  ${VERB[s.outcome]}: ${s.description}${s.error ? `: ${s.error}` : ''}`;
}

function header(r: RecoveryReport): string {
  const who = r.owner ? `pid ${r.owner.pid} (${r.owner.command}), which is gone` : 'no live process';
  return `${r.ifname}: changes left by ${who}, journal ${r.journal}`;
}

export async function runRestore(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    process.stderr.write(`devmem restore: ${(e as Error).message}\n\n${RESTORE_HELP}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(RESTORE_HELP);
    return 0;
  }
  if (positionals.length > 1) {
    process.stderr.write(`devmem restore: one interface at most, got ${positionals.join(' ')}\n\n${RESTORE_HELP}`);
    return 1;
  }
  const dryRun = values['dry-run'] === true;
  const json = values.json === true;
  const out = (line: string) => {
    if (!json) process.stdout.write(`${line}\n`);
  };
  const reports: RecoveryReport[] = [];
  const errors: { ifname: string; reason?: string; message: string }[] = [];
  let skipped = 0;

  const one = async (ifname: string): Promise<void> => {
    const lines: string[] = [];
    try {
      const r = await recoverNic(ifname, { dryRun, onStep: (s) => lines.push(stepLine(s)) });
      if (r) {
        reports.push(r);
        out(header(r));
        for (const l of lines) out(l);
        out(`${r.ifname}: ${dryRun ? 'nothing changed (dry run)' : 'restored, journal removed'}`);
      }
    } catch (e) {
      // A failed undo has listed its steps: print them before the error.
      for (const l of lines) out(l);
      errors.push({
        ifname,
        ...(e instanceof DevmemError ? { reason: e.reason } : {}),
        message: e instanceof Error ? e.message : String(e),
      });
      process.stderr.write(`devmem restore: ${describeError(e)}\n`);
    }
  };

  if (positionals[0] !== undefined) await one(positionals[0]);
  else {
    for (const j of listNicJournals()) {
      if (!j.thisNetns) {
        skipped++;
        continue;
      }
      if (j.ownerAlive) {
        out(`${j.ifname}: left alone, pid ${j.owner?.pid} (${j.owner?.command}) is still using it`);
        continue;
      }
      await one(j.ifname);
    }
  }
  if (reports.length === 0 && errors.length === 0) out('nothing to restore');
  if (skipped > 0) out(`(${skipped} journal(s) of other network namespaces left alone: run devmem restore there)`);
  if (json) process.stdout.write(`${JSON.stringify({ dryRun, restored: reports, errors }, null, 1)}\n`);
  return errors.length > 0 ? 1 : 0;
}

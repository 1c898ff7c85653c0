/**
 * Recovery from the crash journal (nic-journal.ts): what `devmem restore`
 * runs to undo the NIC changes of a process that died without restoring
 * them (SIGKILL, a crash, a power cut of the process's cgroup).
 */
import * as path from 'node:path';

import { DevmemError } from './errors';
import { checkInterfaceSpec, resolveInterface, type InterfaceRef, type InterfaceSpec } from './interfaces';
import { nicUndoPhase } from './nic-config';
import {
  foreignJournal,
  journalFiles,
  journalPath,
  netnsInode,
  ownerAlive,
  readJournal,
  recoverTarget,
  recoveryFailed,
  removeJournal,
  type NicJournalOwner,
  type RecoveredStep,
  type RecoveryReport,
} from './nic-journal';

/** Options of {@link recoverNic}. */
export interface RecoverNicOptions {
  /**
   * Only list what would be undone (steps come back `planned`); the journal stays.
   * @defaultValue `false`
   */
  dryRun?: boolean;
  /** Called for each step as it is undone (or planned). */
  onStep?: (step: RecoveredStep) => void;
}

/** A journal found by {@link listNicJournals}. */
export interface NicJournalInfo {
  /** The journal's file. */
  file: string;
  /** The interface it was written for, by the name it had then. */
  ifname: string;
  /** That interface's index then; absent for a journal that cannot be read. */
  ifindex?: number;
  /** Whether it belongs to this network namespace (only those can be recovered from here). */
  thisNetns: boolean;
  /** Its owner; null once a failed restore disowned the changes. Absent for a journal that cannot be read. */
  owner?: NicJournalOwner | null;
  /** Whether the owner still runs (then the changes are its, not to be recovered). */
  ownerAlive: boolean;
  /** How many changes it lists. */
  steps: number;
  /** Why it cannot be used (JOURNAL_CORRUPT's message); absent for a good one. */
  problem?: string;
}

async function findDevice(spec: InterfaceSpec): Promise<InterfaceRef | null> {
  try {
    return await resolveInterface(spec);
  } catch (e) {
    if (e instanceof DevmemError && (e.reason === 'NO_SUCH_DEVICE' || e.reason === 'INVALID_ARGUMENT')) return null;
    throw e;
  }
}

/**
 * Undoes the NIC changes that a dead process left journalled for `iface`
 * (see the README's "Recovery"), in the kernel's order, then removes the
 * journal. Tolerant of what the kernel already undid (a rule that is gone
 * is reported `already gone`); a device that no longer exists took its
 * settings with it (`device gone`, journal removed).
 *
 * @returns null when there is nothing to restore (no journal), else what
 * was undone.
 * @throws DevmemError NIC_IN_USE while the journal's owner still runs,
 * JOURNAL_CORRUPT for a journal that cannot be parsed, JOURNAL_FOREIGN for
 * one written for another device of the same name or another namespace
 * (both change nothing), and NIC_RESTORE_FAILED when an undo failed (the
 * journal then keeps the failed steps for another try).
 */
export async function recoverNic(iface: InterfaceSpec, options: RecoverNicOptions = {}): Promise<RecoveryReport | null> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const spec = checkInterfaceSpec(iface);
  const device = await findDevice(spec);
  if (device) {
    const report = recoverTarget(device, nicUndoPhase, options);
    const failed = report && recoveryFailed(report);
    if (failed) throw failed;
    return report;
  }
  if (typeof spec === 'number') return null; // no device of that index, and journals are found by name
  const file = journalPath(spec);
  const doc = readJournal(file);
  if (!doc) return null;
  if (doc.interface.netns !== netnsInode()) throw foreignJournal(file, `it was written in network namespace ${doc.interface.netns}`);
  if (doc.owner !== null && ownerAlive(doc.owner)) {
    // Its owner can still restore (or fail, and report it) itself.
    throw new DevmemError(`${spec} is gone, and pid ${doc.owner.pid} that changed it still runs; its journal is ${file}`, {
      reason: 'NIC_IN_USE',
    });
  }
  const renamed = await findDevice(doc.interface.ifindex);
  if (renamed)
    throw foreignJournal(
      file,
      `${spec} no longer exists, and its ifindex ${doc.interface.ifindex} is now ${renamed.ifname} (rename it back and run again)`,
    );
  const report: RecoveryReport = {
    ifname: spec,
    ifindex: doc.interface.ifindex,
    journal: file,
    owner: doc.owner && { pid: doc.owner.pid, command: doc.owner.command },
    snapshot: doc.snapshot,
    steps: doc.steps.map((s) => ({ kind: s.undo.kind, description: s.description, outcome: options.dryRun ? 'planned' : 'device gone' })),
    dryRun: options.dryRun === true,
  };
  for (const s of report.steps) options.onStep?.(s);
  if (!options.dryRun) removeJournal(file);
  return report;
}

/**
 * Every NIC journal on this host (all network namespaces), good or not,
 * with whether its owner still runs. Changes nothing.
 */
export function listNicJournals(): NicJournalInfo[] {
  const netns = netnsInode();
  return journalFiles().map((file) => {
    const m = /^nic-(\d+)-(.+)\.json$/.exec(path.basename(file));
    const fromName = { ifname: m?.[2] ?? '?', thisNetns: Number(m?.[1]) === netns };
    try {
      const doc = readJournal(file);
      if (!doc) return { file, ...fromName, ownerAlive: false, steps: 0, problem: 'removed while being listed' };
      return {
        file,
        ifname: doc.interface.ifname,
        ifindex: doc.interface.ifindex,
        thisNetns: doc.interface.netns === netns,
        owner: doc.owner && { pid: doc.owner.pid, command: doc.owner.command },
        ownerAlive: ownerAlive(doc.owner),
        steps: doc.steps.length,
      };
    } catch (e) {
      return { file, ...fromName, ownerAlive: false, steps: 0, problem: e instanceof Error ? e.message : String(e) };
    }
  });
}

export type { NicJournalOwner, RecoveredStep, RecoveryReport } from './nic-journal';

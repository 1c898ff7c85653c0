/**
 * The crash journal: one JSON file per interface under /run/devmem-tcp/ that
 * says which NIC changes a NicConfig has made and how to undo each, so that
 * a SIGKILL or a crash (which no hook survives) still leaves them undoable
 * by `devmem restore`, recoverNic() or the next NicConfig.open().
 *
 * Ordering: each change is written ahead, as an `intent`, before it is made,
 * and marked `done` (with what the kernel answered, e.g. a rule's location)
 * after it, in the same JS turn. A SIGKILL can land at any instant: between
 * the intent and the change (recovery undoes a change that never happened,
 * which every undo tolerates: the rings, RSS and channels go to values they
 * already have, a rule is looked for and not found), inside the change, or
 * between the change and its `done` (the intent alone is enough to undo it).
 * Writing the result only after the change would lose a change made just
 * before the kill. An undone change leaves the journal after its undo, so a
 * kill during a restore repeats at most one undo, which is tolerated too.
 *
 * Every write is a new file in the same directory, fsync'd and renamed over
 * the old one: a reader sees the old journal or the new, never half of one.
 * The first one is linked rather than renamed, which fails if another
 * process got there first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { DevmemError } from './errors';
import type { NicState, NicStepKind } from './nic-config';
import { checkUndo, undoStep, type NicUndo, type UndoTarget } from './nic-undo';

/** The format name in every journal; with {@link JOURNAL_VERSION} it says how to read one. @internal */
export const JOURNAL_FORMAT = 'devmem-tcp-nic-journal';
/** @internal */
export const JOURNAL_VERSION = 1;

/**
 * Where journals live. DEVMEM_TCP_JOURNAL_DIR overrides it, for tests and for
 * a CAP_NET_ADMIN user who cannot write /run; every process that shares an
 * interface must then use the same directory, or none sees the others.
 *
 * @internal
 */
export function journalDir(): string {
  return process.env.DEVMEM_TCP_JOURNAL_DIR || '/run/devmem-tcp';
}

/** Who wrote a journal: a pid and its start time, so a reused pid is not taken for the owner. @internal */
export interface JournalOwner {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot when the process started. */
  startTime: number;
  /** Inode of the owner's PID namespace: pids from another are meaningless here. */
  pidns: number;
  /** The owner's command line, for messages. */
  command: string;
}

/** One change in a journal. @internal */
export interface JournalStep {
  id: number;
  /** `intent`: written before the change, which may or may not have happened; `done`: made. */
  state: 'intent' | 'done';
  description: string;
  undo: NicUndo;
}

/** A journal as stored. @internal */
export interface JournalDoc {
  format: typeof JOURNAL_FORMAT;
  version: typeof JOURNAL_VERSION;
  /** null once nobody owns the changes left (a restore that failed): anyone may recover them. */
  owner: JournalOwner | null;
  interface: { ifname: string; ifindex: number; netns: number };
  /** readNicState() before the first change; null where it could not be read. */
  snapshot: NicState | null;
  steps: JournalStep[];
}

/** The inode of this process's network namespace: journals are kept per namespace. @internal */
export function netnsInode(): number {
  return fs.statSync('/proc/self/ns/net').ino;
}

function pidnsInode(): number {
  return fs.statSync('/proc/self/ns/pid').ino;
}

/** Field 22 of /proc/PID/stat and the state letter; null when there is no such process. */
function readStat(pid: number): { state: string; startTime: number } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command (field 2) is in parentheses and may itself hold spaces or ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', startTime: Number(fields[19]) };
}

let self: JournalOwner | undefined;

/** This process as a journal owner. @internal */
export function selfOwner(): JournalOwner {
  self ??= {
    pid: process.pid,
    startTime: readStat(process.pid)?.startTime ?? 0,
    pidns: pidnsInode(),
    command: process.argv.slice(1).join(' ').slice(0, 200),
  };
  return self;
}

/**
 * Whether the journal's owner still runs: the same pid with the same start
 * time. A zombie counts as dead (its sockets are closed already).
 *
 * @internal
 */
export function ownerAlive(owner: JournalOwner | null): boolean {
  if (owner === null) return false;
  const s = readStat(owner.pid);
  return s !== null && s.startTime === owner.startTime && s.state !== 'Z' && s.state !== 'X';
}

/** The journal's file for an interface of this network namespace. @internal */
export function journalPath(ifname: string, netns = netnsInode()): string {
  return path.join(journalDir(), `nic-${netns}-${ifname}.json`);
}

function fileError(what: string, e: unknown): DevmemError {
  const err = e as NodeJS.ErrnoException;
  const denied = err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS';
  return new DevmemError(`${what}: ${err.message}`, {
    reason: denied ? 'NOT_PERMITTED' : 'KERNEL_ERROR',
    errno: typeof err.errno === 'number' ? err.errno : undefined,
    code: err.code,
    syscall: err.syscall,
    cause: e,
  });
}

// The directory is root's alone: the journal says what root will write to the
// NIC, so nobody else may plant or edit one.
function ensureDir(): string {
  const dir = journalDir();
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.geteuid?.() || (st.mode & 0o022) !== 0)
      throw new DevmemError(
        `${dir} is not a directory owned by uid ${process.geteuid?.()} and writable only by it; NIC journals cannot be kept there safely`,
        { reason: 'NOT_PERMITTED' },
      );
  } catch (e) {
    if (e instanceof DevmemError) throw e;
    throw fileError(`cannot create the NIC journal directory ${dir}`, e);
  }
  return dir;
}

/**
 * Writes `doc` to `file` atomically; with `exclusive`, fails with EEXIST
 * instead of replacing a journal that is already there.
 */
function writeAtomic(file: string, doc: JournalDoc, exclusive: boolean): void {
  const dir = ensureDir();
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(doc, null, 1)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    if (exclusive) {
      fs.linkSync(tmp, file);
      fs.unlinkSync(tmp);
    } else fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/** Removes a journal; one already gone is fine. @internal */
export function removeJournal(file: string): void {
  fs.rmSync(file, { force: true });
}

const ADVICE_FILE = (file: string) =>
  `Inspect ${file}: undo what it lists by hand (or not, if the device was reset), then delete the file; nothing was changed.`;

/** The error for a journal that cannot be read or does not parse. @internal */
export function corruptJournal(file: string, why: string): DevmemError {
  return new DevmemError(`the NIC journal ${file} is unusable: ${why}. ${ADVICE_FILE(file)}`, { reason: 'JOURNAL_CORRUPT' });
}

/** The error for a journal that describes another device than the one found. @internal */
export function foreignJournal(file: string, why: string): DevmemError {
  return new DevmemError(`the NIC journal ${file} is not for this device: ${why}. ${ADVICE_FILE(file)}`, { reason: 'JOURNAL_FOREIGN' });
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and checks a journal's text; throws JOURNAL_CORRUPT for anything malformed. @internal */
export function parseJournal(file: string, text: string): JournalDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw corruptJournal(file, `not JSON (${(e as Error).message})`);
  }
  const d = doc as Partial<JournalDoc> | null;
  if (d === null || typeof d !== 'object') throw corruptJournal(file, 'not a JSON object');
  if (d.format !== JOURNAL_FORMAT) throw corruptJournal(file, `its format is ${JSON.stringify(d.format)}, not ${JOURNAL_FORMAT}`);
  if (d.version !== JOURNAL_VERSION)
    throw corruptJournal(file, `it is version ${JSON.stringify(d.version)}; this devmem-tcp reads version ${JOURNAL_VERSION}`);
  const o = d.owner;
  if (o !== null && (typeof o !== 'object' || !isUint(o.pid) || !isUint(o.startTime) || !isUint(o.pidns) || typeof o.command !== 'string'))
    throw corruptJournal(file, 'its owner is malformed');
  const i = d.interface;
  if (!i || typeof i !== 'object' || typeof i.ifname !== 'string' || !isUint(i.ifindex) || !isUint(i.netns))
    throw corruptJournal(file, 'its interface is malformed');
  if (d.snapshot !== null && (typeof d.snapshot !== 'object' || d.snapshot === undefined))
    throw corruptJournal(file, 'its snapshot is malformed');
  if (!Array.isArray(d.steps)) throw corruptJournal(file, 'it has no list of steps');
  d.steps.forEach((s, n) => {
    const ok =
      s !== null &&
      typeof s === 'object' &&
      isUint(s.id) &&
      (s.state === 'intent' || s.state === 'done') &&
      typeof s.description === 'string' &&
      checkUndo(s.undo);
    if (!ok)
      throw corruptJournal(file, `step ${n} is malformed or of a kind this devmem-tcp cannot undo (${JSON.stringify(s?.undo?.kind)})`);
  });
  return d as JournalDoc;
}

/** Reads the journal at `file`; null when there is none. @internal */
export function readJournal(file: string): JournalDoc | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(`cannot read the NIC journal ${file}`, e);
  }
  return parseJournal(file, text);
}

/** The error for a journal whose owner still runs. @internal */
export function inUseError(ifname: string, file: string, owner: JournalOwner): DevmemError {
  const who = owner.pid === process.pid ? 'this process (another NicConfig on it is open)' : `pid ${owner.pid} (${owner.command})`;
  return new DevmemError(`${ifname} is being configured by ${who}; its changes are journalled in ${file}`, { reason: 'NIC_IN_USE' });
}

/**
 * A NicConfig's journal: created at its first change, rewritten after each,
 * removed once everything is undone. Writes are synchronous so they stay in
 * the JS turn of their change.
 *
 * @internal
 */
export class JournalWriter {
  readonly file: string;
  readonly #doc: JournalDoc;
  #exists = false;
  #nextId = 0;

  constructor(target: UndoTarget, snapshot: NicState | null) {
    const netns = netnsInode();
    this.file = journalPath(target.ifname, netns);
    this.#doc = {
      format: JOURNAL_FORMAT,
      version: JOURNAL_VERSION,
      owner: selfOwner(),
      interface: { ifname: target.ifname, ifindex: target.ifindex, netns },
      snapshot,
      steps: [],
    };
  }

  #write(): void {
    if (this.#doc.steps.length === 0) {
      removeJournal(this.file);
      this.#exists = false;
      return;
    }
    writeAtomic(this.file, this.#doc, !this.#exists);
    this.#exists = true;
  }

  /**
   * Records a change about to be made. Throws, before anything changed,
   * NIC_IN_USE when a live owner's journal appeared since open(), or when the
   * journal cannot be written.
   */
  intend(description: string, undo: NicUndo): JournalStep {
    const step: JournalStep = { id: this.#nextId++, state: 'intent', description, undo };
    this.#doc.steps.push(step);
    try {
      this.#write();
    } catch (e) {
      this.#doc.steps.pop();
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        const other = readJournal(this.file);
        throw other?.owner
          ? inUseError(this.#doc.interface.ifname, this.file, other.owner)
          : new DevmemError(
              `another NIC journal ${this.file} appeared after open(); run \`devmem restore ${this.#doc.interface.ifname}\``,
              {
                reason: 'NIC_IN_USE',
              },
            );
      }
      throw e instanceof DevmemError ? e : fileError(`cannot write the NIC journal ${this.file}`, e);
    }
    return step;
  }

  /** The change was made; `undo` replaces the intent's record where the kernel told more. */
  commit(step: JournalStep, description: string, undo: NicUndo = step.undo): void {
    step.state = 'done';
    step.description = description;
    step.undo = undo;
    this.#tryWrite();
  }

  /** The change failed, so there is nothing to undo. */
  abandon(step: JournalStep): void {
    this.#drop(step);
  }

  /** The change was undone. */
  undone(step: JournalStep): void {
    this.#drop(step);
  }

  /** What is left after a restore with failures belongs to nobody now: anyone may recover it. */
  disown(): void {
    if (this.#doc.steps.length === 0) return;
    this.#doc.owner = null;
    this.#tryWrite();
  }

  /** The device is gone, and the changes with it: the journal goes too. */
  discard(): void {
    this.#doc.steps.length = 0;
    this.#tryWrite();
  }

  #drop(step: JournalStep): void {
    const i = this.#doc.steps.indexOf(step);
    if (i >= 0) this.#doc.steps.splice(i, 1);
    this.#tryWrite();
  }

  // After a change (or its undo) the kernel state moved on whatever the file
  // says; a failed rewrite leaves the previous journal, which still undoes
  // correctly (intents are tolerated), so it is reported but not thrown.
  #tryWrite(): void {
    try {
      this.#write();
    } catch (e) {
      process.emitWarning(`devmem-tcp: could not update the NIC journal ${this.file}: ${(e as Error).message}`);
    }
  }
}

/** How one step of a dead owner's journal went. */
export interface RecoveredStep {
  /** The kind of change. */
  kind: NicStepKind;
  /** The change, as its owner described it. */
  description: string;
  /**
   * `undone`; `already gone` (nothing of it was left); `released` (a binding
   * or zcrx queue that died with its owner); `kept` (a queue lease, which
   * Linux ends only with its netkit device); `failed` (see `error`); `planned`
   * in a dry run; `device gone` when the device itself no longer exists, its
   * settings gone with it.
   */
  outcome: 'undone' | 'already gone' | 'released' | 'kept' | 'device gone' | 'failed' | 'planned';
  /** Why the undo failed. */
  error?: string;
}

/** The process that journalled NIC changes. */
export interface NicJournalOwner {
  /** Its pid. */
  pid: number;
  /** Its command line (the first 200 characters), for people. */
  command: string;
}

/** What undoing a dead owner's journal did; see {@link recoverNic}. */
export interface RecoveryReport {
  /** The interface, by the name it has now. */
  ifname: string;
  /** Its index. */
  ifindex: number;
  /** The journal's file (removed unless a step failed). */
  journal: string;
  /** The process that made the changes; null when a failed restore had already disowned them. */
  owner: NicJournalOwner | null;
  /** The state read before the owner's first change, where it could be read. */
  snapshot: NicState | null;
  /** Each step in the order undone (the kernel's order). */
  steps: RecoveredStep[];
  /** True when nothing was undone, only listed. */
  dryRun: boolean;
}

/**
 * Checks that the journal describes `target` in this namespace, and that its
 * owner is gone. Throws JOURNAL_FOREIGN or NIC_IN_USE.
 *
 * @internal
 */
export function checkClaim(file: string, doc: JournalDoc, target: UndoTarget): void {
  if (doc.interface.netns !== netnsInode()) throw foreignJournal(file, `it was written in network namespace ${doc.interface.netns}`);
  if (doc.interface.ifindex !== target.ifindex)
    throw foreignJournal(
      file,
      `it was written for ${doc.interface.ifname} with ifindex ${doc.interface.ifindex}, and ${target.ifname} is now ifindex ${target.ifindex} (the device was re-created or renamed)`,
    );
  if (doc.owner !== null && doc.owner.pidns !== selfOwner().pidns)
    throw foreignJournal(file, `its owner, pid ${doc.owner.pid}, ran in another PID namespace, so whether it still runs cannot be told`);
  if (ownerAlive(doc.owner)) throw inUseError(target.ifname, file, doc.owner!);
}

/**
 * Undoes a dead owner's journal in the kernel's order (`phase` per kind,
 * newest first within one), rewriting the journal after each undo so that a
 * crash here loses nothing; removes it when everything went, else keeps the
 * failed steps, disowned. Returns the report; failures are in it.
 *
 * @internal
 */
export function undoJournal(
  file: string,
  doc: JournalDoc,
  target: UndoTarget,
  phase: (kind: NicUndo['kind']) => number,
  options: { dryRun?: boolean; onStep?: (step: RecoveredStep) => void } = {},
): RecoveryReport {
  const report: RecoveryReport = {
    ifname: target.ifname,
    ifindex: target.ifindex,
    journal: file,
    owner: doc.owner && { pid: doc.owner.pid, command: doc.owner.command },
    snapshot: doc.snapshot,
    steps: [],
    dryRun: options.dryRun === true,
  };
  const order = [...doc.steps].sort((a, b) => phase(a.undo.kind) - phase(b.undo.kind) || b.id - a.id);
  // The recoverer owns what is left while it works, so nobody else starts on
  // it. Two that read the dead owner's journal in the same instant both go
  // on; the undos tolerate each other (a rule the other deleted is gone).
  const left: JournalDoc = { ...doc, owner: selfOwner(), steps: [...doc.steps] };
  if (!report.dryRun) writeAtomic(file, left, false);
  for (const s of order) {
    const r: RecoveredStep = { kind: s.undo.kind, description: s.description, outcome: 'planned' };
    if (!report.dryRun) {
      try {
        r.outcome = undoStep(target, s.undo, true);
        left.steps.splice(left.steps.indexOf(s), 1);
        writeAtomic(file, left, false);
      } catch (e) {
        r.outcome = 'failed';
        r.error = e instanceof Error ? e.message : String(e);
      }
    }
    report.steps.push(r);
    options.onStep?.(r);
  }
  if (!report.dryRun) {
    if (left.steps.length === 0) removeJournal(file);
    else writeAtomic(file, { ...left, owner: null }, false);
  }
  return report;
}

/** The error for a recovery in which some undo failed. @internal */
export function recoveryFailed(report: RecoveryReport): DevmemError | undefined {
  const failed = report.steps.filter((s) => s.outcome === 'failed');
  if (failed.length === 0) return undefined;
  const list = failed.map((s) => `${s.description}: ${s.error}`).join('; ');
  return new DevmemError(
    `could not undo ${failed.length} change(s) left on ${report.ifname} by a dead process: ${list}; they stay in ${report.journal}`,
    { reason: 'NIC_RESTORE_FAILED' },
  );
}

/** Every journal file in the directory (names only; none when the directory does not exist). @internal */
export function journalFiles(): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(journalDir());
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fileError(`cannot list the NIC journals in ${journalDir()}`, e);
  }
  return names
    .filter((n) => n.startsWith('nic-') && n.endsWith('.json'))
    .sort()
    .map((n) => path.join(journalDir(), n));
}

/**
 * Recovers what a dead owner left on `target`: null when there is no
 * journal; throws JOURNAL_CORRUPT, JOURNAL_FOREIGN or NIC_IN_USE having
 * changed nothing.
 *
 * @internal
 */
export function recoverTarget(
  target: UndoTarget,
  phase: (kind: NicUndo['kind']) => number,
  options: { dryRun?: boolean; onStep?: (step: RecoveredStep) => void } = {},
): RecoveryReport | null {
  const file = journalPath(target.ifname);
  const doc = readJournal(file);
  if (!doc) return null;
  checkClaim(file, doc, target);
  return undoJournal(file, doc, target, phase, options);
}

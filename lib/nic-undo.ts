/**
 * How each NicConfig change is undone, from a plain JSON description of it:
 * the one implementation that both the live undo stack and the crash
 * recovery (nic-journal.ts) run, so every kernel fact about putting a setting
 * back is written once, here. Everything is synchronous, as NicConfig's undo
 * must be (it runs from exit and signal handlers).
 *
 * Adding a kind: one member of {@link NicUndo} and one entry in `KINDS`
 * (its validation when read back from a journal, and its undo). The mapped
 * type of `KINDS` makes the compiler ask for both.
 */
import { DevmemError, invalidArgument } from './errors';
import { getRingsSync, setChannelsSync, setRingsSync, type ChannelsUpdate, type TcpDataSplit } from './ethtool';
import { deleteFlowRule, encodeFlowRule, listFlowRules, setNtupleFilter, type FlowRule } from './flow-rules';
import { getQueueSync } from './netdev';
import { setRssIndirection } from './rss';
import { contextIndirection, deleteRssContextSync, getRssContext, type RssContextApi } from './rss-context';

/**
 * The undo of one NicConfig change, as plain values (the crash journal
 * stores it as JSON). `bind-rx` and `zcrx` need no undo after a crash: the
 * binding and the zcrx area die with their owner's sockets; recovery only
 * waits for the kernel to let go of their queues.
 *
 * @internal
 */
export type NicUndo =
  /** Back to these rings values (absent: the driver did not report one). */
  | { kind: 'header-split'; tcpDataSplit?: TcpDataSplit | number; hdsThresh?: number }
  /** This RSS table, or the driver's default spreading for null. */
  | { kind: 'rss'; table: number[] | null }
  /** rx-ntuple-filter back off (it is only recorded when it was off). */
  | { kind: 'ntuple-feature' }
  /**
   * Delete the rule. `location` is known once the driver has placed it;
   * before that (a journal written ahead of the change) the rule is looked
   * for by its fields among the locations not in `before`.
   */
  | { kind: 'flow-rule'; rule: FlowRule; location?: number; before?: number[] }
  /** Back to these channel counts. */
  | { kind: 'channels'; back: ChannelsUpdate }
  /** Released with its owner; recovery waits until the queues have no binding. */
  | { kind: 'bind-rx'; queues: number[] }
  /** Released with its owner; recovery waits until the queue has no io_uring owner. */
  | { kind: 'zcrx'; queue: number }
  /**
   * Delete RSS context `context`, through the API that made it. The kernel
   * picks the ID, so a journal written ahead of the create has none; it
   * has the contexts that existed before (`before`, where the kernel can
   * list them) and the queues the new one spreads over, and recovery looks
   * for that context where the kernel puts a new one (see the undo).
   */
  | { kind: 'rss-context'; context?: number; api: RssContextApi; before?: number[]; queues?: number[] }
  /**
   * A lease of physical RX queue `queue`: Linux cannot end it short of
   * deleting the netkit device, so it is only reported (see the undo).
   */
  | { kind: 'lease'; queue: number };

/** The device an undo acts on. @internal */
export interface UndoTarget {
  ifname: string;
  ifindex: number;
}

/**
 * What an undo found: `undone` (it put the setting back), `already gone`
 * (nothing of the change was left, e.g. a rule someone else deleted, or a
 * change that a crash stopped before it reached the kernel), `released`
 * (a binding or zcrx queue that died with its owner), `kept` (a change
 * Linux cannot undo, left as it is: a queue lease).
 *
 * @internal
 */
export type UndoOutcome = 'undone' | 'already gone' | 'released' | 'kept';

/**
 * The context a create that a crash interrupted made, if it got that far.
 * The ethtool core gives a new context the lowest free ID, so it is the
 * lowest ID not in `before`; it is ours only if it spreads over exactly the
 * reserved queues as reserveQueues() spreads them.
 */
function createdBefore(t: UndoTarget, u: Extract<NicUndo, { kind: 'rss-context' }>): number | undefined {
  if (u.before === undefined || u.queues === undefined || u.queues.length === 0) return undefined;
  const taken = new Set(u.before);
  let id = 1;
  while (taken.has(id)) id++;
  let found;
  try {
    found = getRssContext(t.ifname, id);
  } catch (e) {
    if (e instanceof DevmemError && (e.reason === 'RSS_UNSUPPORTED' || e.code === 'ENODEV')) return undefined;
    throw e;
  }
  if (!found) return undefined;
  const expected = contextIndirection(found.indirection.length, u.queues);
  return found.indirection.every((q, i) => q === expected[i]) ? id : undefined;
}

interface KindSpec<U extends NicUndo> {
  /** Checks the fields of a record read back from a journal (kind already matched). */
  check(u: U): boolean;
  /** Undoes the change; `crashed` when its owner died (live owners close bindings themselves). */
  undo(t: UndoTarget, u: U, crashed: boolean): UndoOutcome;
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isUintArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isUint);

// How long recovery waits for the kernel to release a dead owner's queues: a
// zcrx area's teardown runs in a kernel worker after the ring's last close.
const RELEASE_TIMEOUT_MS = 5000;

/**
 * Blocks until `queue` no longer has a memory provider of the given kind
 * (`ioUring` for zcrx, `dmabuf` for a devmem binding), polling the queue dump.
 * A queue (or device) that no longer exists holds nothing.
 *
 * @internal
 */
export function waitQueueReleased(t: UndoTarget, queue: number, provider: 'ioUring' | 'dmabuf', timeoutMs = RELEASE_TIMEOUT_MS): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let held: boolean;
    try {
      held = getQueueSync(t.ifindex, 'rx', queue)[provider] !== undefined;
    } catch {
      return;
    }
    if (!held) return;
    if (Date.now() > deadline) {
      const what = provider === 'ioUring' ? 'an io_uring owner' : 'a devmem binding';
      throw new DevmemError(`queue ${queue} of ${t.ifname} still has ${what} ${timeoutMs} ms after its owner let go`, {
        reason: 'TIMEOUT',
      });
    }
    Atomics.wait(sleeper, 0, 0, 10);
  }
}

// Whether a rule read back from the driver is the one we added. The driver
// may normalise fields it does not model, so only what we set is compared.
function sameFlow(have: FlowRule | undefined, want: FlowRule): boolean {
  if (!have) return false;
  return (
    have.flowType === want.flowType &&
    have.queue === want.queue &&
    have.dstPort === want.dstPort &&
    have.dstIp === want.dstIp &&
    have.rssContext === want.rssContext &&
    (want.srcIp === undefined || have.srcIp === want.srcIp) &&
    (want.srcPort === undefined || have.srcPort === want.srcPort)
  );
}

function undoFlowRule(t: UndoTarget, u: Extract<NicUndo, { kind: 'flow-rule' }>): UndoOutcome {
  const rules = listFlowRules(t.ifname).rules;
  if (u.location !== undefined) {
    const at = rules.find((r) => r.location === u.location);
    // Gone, or its slot reused by a rule that is not ours: nothing of ours to delete.
    if (!at || (at.rule !== undefined && !sameFlow(at.rule, u.rule))) return 'already gone';
    return deleteRule(t, u.location);
  }
  const before = new Set(u.before ?? []);
  const ours = rules.filter((r) => !before.has(r.location) && sameFlow(r.rule, u.rule));
  const outcomes = ours.map((r) => deleteRule(t, r.location));
  return outcomes.includes('undone') ? 'undone' : 'already gone';
}

// A rule that vanished between the listing and the delete (another
// recoverer, or someone's ethtool -N delete) is gone, not a failure.
function deleteRule(t: UndoTarget, location: number): UndoOutcome {
  try {
    deleteFlowRule(t.ifname, location);
    return 'undone';
  } catch (e) {
    if (!listFlowRules(t.ifname).rules.some((r) => r.location === location)) return 'already gone';
    throw e;
  }
}

// Back to the driver default first and then to the saved value only if the
// default reads differently (see docs/kernel-notes.md#header-split):
// restoring "enabled" explicitly would leave the user setting changed.
function restoreRings(t: UndoTarget, tds: TcpDataSplit | number | undefined, thresh: number | undefined): UndoOutcome {
  setRingsSync(t.ifindex, t.ifname, thresh === undefined ? { tcpDataSplit: 'unknown' } : { tcpDataSplit: 'unknown', hdsThresh: thresh });
  if (tds === undefined) return 'undone';
  const readBack = getRingsSync(t.ifindex, t.ifname).tcpDataSplit ?? 'unknown';
  if (readBack !== tds) setRingsSync(t.ifindex, t.ifname, { tcpDataSplit: tds });
  return 'undone';
}

const KINDS: { [K in NicUndo['kind']]: KindSpec<Extract<NicUndo, { kind: K }>> } = {
  'header-split': {
    check: (u) =>
      (u.tcpDataSplit === undefined || typeof u.tcpDataSplit === 'string' || isUint(u.tcpDataSplit)) &&
      (u.hdsThresh === undefined || isUint(u.hdsThresh)),
    undo: (t, u) => restoreRings(t, u.tcpDataSplit, u.hdsThresh),
  },
  rss: {
    check: (u) => u.table === null || isUintArray(u.table),
    undo: (t, u) => {
      setRssIndirection(t.ifname, u.table === null ? null : Uint32Array.from(u.table));
      return 'undone';
    },
  },
  'ntuple-feature': {
    check: () => true,
    undo: (t) => {
      setNtupleFilter(t.ifname, false);
      return 'undone';
    },
  },
  'flow-rule': {
    check: (u) => {
      if (u.rule === null || typeof u.rule !== 'object') return false;
      try {
        encodeFlowRule(u.rule);
      } catch {
        return false;
      }
      return (u.location === undefined || isUint(u.location)) && (u.before === undefined || isUintArray(u.before));
    },
    undo: (t, u) => undoFlowRule(t, u),
  },
  'rss-context': {
    check: (u) =>
      (u.context === undefined || isUint(u.context)) &&
      (u.api === 'netlink' || u.api === 'ioctl') &&
      (u.before === undefined || isUintArray(u.before)) &&
      (u.queues === undefined || isUintArray(u.queues)),
    undo: (t, u) => {
      const context = u.context ?? createdBefore(t, u);
      if (context === undefined) return 'already gone';
      try {
        deleteRssContextSync(t.ifindex, t.ifname, context, u.api);
      } catch (e) {
        if (e instanceof DevmemError && e.code === 'ENOENT') return 'already gone';
        throw e;
      }
      return 'undone';
    },
  },
  channels: {
    check: (u) =>
      u.back !== null &&
      typeof u.back === 'object' &&
      Object.entries(u.back).every(([k, v]) => ['rxCount', 'txCount', 'otherCount', 'combinedCount'].includes(k) && isUint(v)),
    undo: (t, u) => {
      setChannelsSync(t.ifindex, t.ifname, u.back);
      return 'undone';
    },
  },
  'bind-rx': {
    check: (u) => isUintArray(u.queues),
    undo: (t, u, crashed) => {
      if (!crashed) throw invalidArgument('a live binding is undone by closing it');
      for (const q of u.queues) waitQueueReleased(t, q, 'dmabuf');
      return 'released';
    },
  },
  lease: {
    check: (u) => isUint(u.queue),
    // The lease ends with its netkit device (netkit_uninit), which belongs to
    // whoever made the container; deleting it here would take the
    // container's interface away. So it is kept, and said to be.
    undo: (t, u) => {
      let leased: boolean;
      try {
        leased = getQueueSync(t.ifindex, 'rx', u.queue).lease !== undefined;
      } catch {
        return 'already gone';
      }
      return leased ? 'kept' : 'already gone';
    },
  },
  zcrx: {
    check: (u) => isUint(u.queue),
    undo: (t, u, crashed) => {
      if (!crashed) throw invalidArgument('a live zcrx queue is undone by closing it');
      waitQueueReleased(t, u.queue, 'ioUring');
      return 'released';
    },
  },
};

/** True for a kind this version can undo from a journal. @internal */
export function isUndoKind(kind: unknown): kind is NicUndo['kind'] {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/** Validates a record read back from a journal; false for a malformed one. @internal */
export function checkUndo(u: unknown): u is NicUndo {
  if (u === null || typeof u !== 'object') return false;
  const kind = (u as { kind?: unknown }).kind;
  if (!isUndoKind(kind)) return false;
  return (KINDS[kind] as KindSpec<NicUndo>).check(u as NicUndo);
}

/**
 * Undoes one change. `crashed` says its owner is dead: bindings and zcrx
 * queues are then only waited for, as the kernel released them with the
 * owner's sockets. Throws what the kernel refused.
 *
 * @internal
 */
export function undoStep(t: UndoTarget, u: NicUndo, crashed: boolean): UndoOutcome {
  return (KINDS[u.kind] as KindSpec<NicUndo>).undo(t, u, crashed);
}

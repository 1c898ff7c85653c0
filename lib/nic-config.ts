/**
 * NicConfig: the NIC set-up devmem needs (header split, RSS isolation, n-tuple
 * flow steering, the binding), applied step by step onto an undo stack so that
 * none of it outlives its user.
 *
 * The kernel dictates the unwind order: the binding (or the io_uring zcrx
 * queue) goes first (see docs/kernel-notes.md#header-split), then channel
 * changes, the flow rules, the n-tuple feature, RSS, and last the rings. The
 * stack is sorted by that order rather than popped blindly, so callers may
 * apply steps in any order. Undo steps are synchronous, which lets the
 * process-wide hooks in nic-restore.ts run them on exit and on SIGINT/SIGTERM.
 * What no hook survives (SIGKILL, a crash) the crash journal covers: every
 * change is journalled under /run/devmem-tcp/ before it is made (see
 * nic-journal.ts for the ordering), and `devmem restore`, recoverNic() or
 * the next open() on the interface undoes what a dead owner left.
 *
 * Each change is made synchronously too, and its undo entry pushed in the same
 * JS turn. A signal handler runs only between turns, so at every instant the
 * stack holds exactly what the kernel has: a SIGTERM landing mid-set-up (while
 * bind-rx is in the kernel, say) can never find a change without its undo.
 * Reads before a change may be asynchronous; the changes themselves block for
 * one netlink round trip each.
 */
import { bindRxSync, type BindRxOptions, type DmaBufLike, RxBinding } from './bindings';
import type { DmaBuf } from './dmabuf';
import { closedError, DevmemError, invalidArgument } from './errors';
import { getChannels, getRings, rxChannelCount, setChannelsSync, setRingsSync, type TcpDataSplit } from './ethtool';
import { addFlowRule, encodeFlowRule, flowTypeFor, getNtupleFilter, listFlowRules, setNtupleFilter, type FlowRule } from './flow-rules';
import { bytesToIp, ipToBytes, unmapIpv4 } from './ip';
import { checkInterfaceSpec, interfaceNameSync, resolveInterface, type InterfaceSpec } from './interfaces';
import { native } from './native';
import { listQueues, queueBusyBecause } from './netdev';
import { applyLeaseSync, closeLeasePlan, leaseDescription, planLease, type Lease, type LeaseQueueOptions } from './lease';
import { JournalWriter, recoverTarget, recoveryFailed, type JournalStep, type RecoveryReport } from './nic-journal';
import { track, untrack } from './nic-restore';
import { undoStep, waitQueueReleased, type NicUndo, type UndoOutcome } from './nic-undo';
import { equalIndirection, getRssIndirection, getRxRingCount, isDefaultIndirection, setRssIndirection } from './rss';
import { contextIndirection, createRssContextSync, getRssContext, listRssContexts, rssContextApi } from './rss-context';
import { openZcrx, zcrxPlan, type ZcrxOptions, type ZcrxQueue } from './zcrx';

/**
 * What a step does, one kind per NicConfig method: `check-channels`
 * (checkChannels(), a read with nothing to undo), `header-split`
 * (enableHeaderSplit()), `rss` (isolateQueues()), `ntuple-feature` and
 * `flow-rule` (steerFlow()), `channels` (setChannels()), `bind-rx`
 * (bindRx(), planBindRx()), `zcrx` (openZcrx(), planZcrx()), `lease`
 * (leaseQueue(), which Linux cannot undo) and `rss-context`
 * (reserveQueues(), with `rss` for the narrowed main table; steerPort()
 * adds `flow-rule`s). The kind sets the step's place in the undo order.
 */
export type NicStepKind =
  'check-channels' | 'header-split' | 'rss' | 'rss-context' | 'ntuple-feature' | 'flow-rule' | 'bind-rx' | 'zcrx' | 'lease' | 'channels';

/** One change (or check) NicConfig made, plans to make, or undid. */
export interface NicStep {
  /** Which change it is; see {@link NicStepKind}. */
  kind: NicStepKind;
  /** What the step does, in the terms of the ethtool command line where there is one. */
  description: string;
  /**
   * `planned` in a dry run; `done` once applied; `undone` after restore;
   * `kept` after restore for a change Linux cannot undo (a queue lease,
   * which ends with its netkit device); `failed` when its undo failed.
   */
  state: 'planned' | 'done' | 'undone' | 'kept' | 'failed';
}

/** Options of {@link NicConfig.open}. */
export interface NicConfigOptions {
  /**
   * List the steps without changing the NIC. Reads still happen, so the plan shows real values.
   * @defaultValue `false`
   */
  dryRun?: boolean;
  /**
   * Put everything back on process exit, SIGINT and SIGTERM. With false the
   * changes outlive the process unless close() or restore() runs; they stay
   * journalled, so `devmem restore` or the next open() undoes them.
   * @defaultValue `true`
   */
  restoreOnExit?: boolean;
  /** Called for every step as it is applied, planned or undone. */
  onStep?: (step: NicStep) => void;
  /**
   * Only bind queues (bindRx(), openZcrx()) on a NIC that another NicConfig,
   * perhaps in another process, has set up: no crash journal, so no
   * NIC_IN_USE while that one lives, and no recovery of a dead one's
   * changes. The configuration steps then refuse with INVALID_ARGUMENT.
   * @defaultValue `false`
   */
  bindOnly?: boolean;
}

/** A flow to steer to a devmem queue: what ncdevmem's -s, -c and -p describe. */
export interface SteerFlowOptions {
  /** The local (server) address the flow arrives at. */
  serverIp: string;
  /** The local (server) port the flow arrives at. */
  port: number;
  /** The peer's address; with it the rule is a 5-tuple, falling back to a 3-tuple. */
  clientIp?: string;
  /**
   * The peer's port, used only with `clientIp`.
   * @defaultValue `port`, as ncdevmem's peers bind to it
   */
  clientPort?: number;
  /** The RX queue to steer to: one of the queues bound (or to be bound) to the dma-buf. */
  queue: number;
}

/** The rule steerFlow() installed; restore() deletes it. */
export interface SteeredFlow {
  /** Where the driver put the rule in its table. */
  location: number;
  /** 5 when the full tuple was accepted, 3 after the fallback to address and port, 1 for a port alone (steerPort() without serverIp). */
  tuple: 5 | 3 | 1;
  /** The rule as installed: the 5-tuple, or the 3-tuple after the fallback. */
  rule: FlowRule;
}

/** What devmem set-up touches, as read back from the device; equal snapshots mean nothing was left behind. */
export interface NicState {
  /** The header-split setting; absent when the device has no ring parameters (veth) or does not report it. */
  tcpDataSplit?: TcpDataSplit | number;
  /** hds-thresh in bytes; absent like `tcpDataSplit`, or when the driver reports no threshold. */
  hdsThresh?: number;
  /** null when the device has no readable RSS table. */
  rssIndirection: number[] | null;
  /** null when the device has no n-tuple rules. */
  flowRules: string[] | null;
  /**
   * Whether the rx-ntuple-filter feature is on. readNicState() reads it from
   * the legacy ethtool flags, and throws rather than give null when it cannot.
   */
  ntupleFilter: boolean | null;
  /** RX queues as devmem counts them: the channels' rxCount + combinedCount. */
  rxChannels: number;
  /**
   * The RSS contexts, each as `ID:table`; null when the kernel cannot list
   * them (no ethtool netlink RSS dump of contexts) or the device has no RSS.
   */
  rssContexts: string[] | null;
}

/** What reserveQueues() reserved: the queues to bind, and the RSS context spreading flows over them. */
export interface ReservedQueues {
  /** The RX queues to bind to the dma-buf (the last `count` of the device, or only the first of them without a context). */
  queues: number[];
  /**
   * The RSS context over `queues`, for steerPort(); null when the device has
   * no RSS contexts (see `fallback`) and in a dry run, where nothing is created.
   */
  context: number | null;
  /** Set when the device has no RSS contexts: what was done instead, in words for a warning. */
  fallback?: string;
}

/** A listening port to steer into reserved queues: what steerPort() takes. */
export interface SteerPortOptions {
  /** The local port the flows arrive at. */
  port: number;
  /**
   * The local address they arrive at; it picks the flow type (tcp4 or
   * tcp6). Without it the port is steered for both families, a rule each.
   */
  serverIp?: string;
  /**
   * The RSS context from reserveQueues(); null steers every flow to one
   * queue (`queue`, else the first reserved queue) as steerFlow() does.
   */
  context: number | null;
  /** With `context` null: the queue; defaults to the first queue reserveQueues() returned. */
  queue?: number;
}

/** The rules steerPort() installed; restore() deletes them. */
export interface SteeredPort {
  /** The context the rules spread over, or null for single-queue rules. */
  context: number | null;
  /** One rule per flow type (tcp4 and/or tcp6), as installed. */
  rules: SteeredFlow[];
}

function bindDescription(ifname: string, queues: readonly number[]): string {
  return `bind-rx ${ifname} queues ${queues.join(',')}`;
}

// Memory providers first: the kernel refuses header split off (and dropping
// the queue) while a devmem binding or a zcrx area holds it.
// A lease comes right after them: ending it closes whatever provider a
// binding made through it still has on the physical queue
// (netif_rxq_cleanup_unlease), so the bindings must be closed first; and
// the physical queue must still exist, so channels shrink after it. Linux
// has no way to end a lease short of deleting the netkit device, so its
// undo only reports it as kept, here where an end of it would go.
// Rules before RSS contexts: the kernel refuses to delete a context that a
// rule still names (EBUSY, ethtool_check_rss_ctx_busy()). Channels after the
// rules, contexts and the table: shrinking channels is refused while any of
// them still sends flows to a queue that would go (ethtool_check_max_channel()
// checks rules, contexts and a user-set table), and adding channels is how a
// caller makes room for reserveQueues().
const PHASE: Record<NicStepKind, number> = {
  'bind-rx': 0,
  zcrx: 0,
  lease: 1,
  'flow-rule': 2,
  'ntuple-feature': 3,
  'rss-context': 4,
  rss: 5,
  channels: 6,
  'header-split': 7,
  'check-channels': 8,
};

/** The undo order of a kind (lower first), for the crash recovery. @internal */
export function nicUndoPhase(kind: NicStepKind): number {
  return PHASE[kind];
}

function zcrxDescription(
  ifname: string,
  queue: number,
  area: DmaBuf | { size: number; kind?: string },
  rqEntries: number,
  rxBufLen: number,
): string {
  const what = area.kind === undefined ? 'host memory' : `a ${area.kind} dma-buf`;
  return `zcrx ${ifname} queue ${queue}: ${area.size}-byte area of ${what}, ${rxBufLen}-byte buffers, ${rqEntries} refill entries`;
}

/**
 * Closes a zcrx queue and waits, blocking, until the queue dump shows no
 * io_uring owner: what comes after it on the undo stack (header split off,
 * fewer channels) is refused while the area still holds the queue.
 */
function closeZcrxSync(queue: ZcrxQueue): void {
  // close() unregisters at once (the native close is synchronous) and then
  // polls asynchronously; that poll is redundant with the one here.
  void queue.close().catch(() => undefined);
  waitQueueReleased({ ifname: queue.ifname, ifindex: queue.ifindex }, queue.queue, 'ioUring');
}

interface UndoEntry {
  step: NicStep;
  seq: number;
  /** Undoes the change; a lease, which Linux cannot undo, says `kept`. */
  undo: () => UndoOutcome | void;
  /** Its entry in the crash journal; absent for a bind-only NicConfig. */
  journal: JournalStep | undefined;
}

// IPv4-mapped IPv6 addresses become dotted quads, as a tcp4 rule needs them.
function canonicalIp(text: string): string {
  if (typeof text !== 'string') throw new TypeError(`an IP address must be a string, got ${typeof text}`);
  const b = ipToBytes(text);
  return bytesToIp(unmapIpv4(b) ?? b);
}

function orNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch (e) {
    if (e instanceof DevmemError && (e.reason === 'NTUPLE_UNSUPPORTED' || e.reason === 'RSS_UNSUPPORTED')) return null;
    throw e;
  }
}

/** Reads the state that devmem set-up changes, for before/after comparisons. */
export async function readNicState(iface: InterfaceSpec): Promise<NicState> {
  const { ifname } = await resolveInterface(checkInterfaceSpec(iface));
  // The netlink reads run together, and the ioctls while they are in the
  // kernel: devmem nc takes this snapshot before it listens, and the
  // kernel's selftests give it a few seconds to start on an emulated host.
  const reads = Promise.all([
    // A device without ring parameters (veth, for one) simply has no header-split state.
    getRings(ifname).catch((e: unknown): { tcpDataSplit?: TcpDataSplit | number; hdsThresh?: number } => {
      if (e instanceof DevmemError && e.reason === 'DEVICE_UNSUPPORTED') return {};
      throw e;
    }),
    getChannels(ifname),
    listRssContexts(ifname)
      .then((l) => l && l.map((c) => `${c.id}:${c.indirection.join(',')}`))
      .catch((e: unknown) => {
        if (e instanceof DevmemError) return null;
        throw e;
      }),
  ]);
  let sync: Pick<NicState, 'rssIndirection' | 'flowRules' | 'ntupleFilter'>;
  try {
    sync = {
      rssIndirection: orNull(() => Array.from(getRssIndirection(ifname))),
      flowRules: orNull(() => listFlowRules(ifname).rules.map((r) => `${r.location}:${r.raw.toString('hex')}`)),
      ntupleFilter: getNtupleFilter(ifname),
    };
  } catch (e) {
    await reads.catch(() => undefined);
    throw e;
  }
  const [rings, channels, rssContexts] = await reads;
  const state: NicState = { ...sync, rxChannels: rxChannelCount(channels), rssContexts };
  if (rings.tcpDataSplit !== undefined) state.tcpDataSplit = rings.tcpDataSplit;
  if (rings.hdsThresh !== undefined) state.hdsThresh = rings.hdsThresh;
  return state;
}

/**
 * Transactional devmem set-up of one interface. Create with `NicConfig.open`,
 * apply the steps you need, and `close()` (or `restore()`) when done; the
 * process hooks undo whatever is left if the program exits or is signalled
 * first. SIGKILL and crashes cannot be caught, so every change is also
 * journalled under /run/devmem-tcp/ before it is made: `devmem restore`,
 * {@link recoverNic} or the next `NicConfig.open()` of the interface undoes
 * what a dead process left. While a live process has changes on the
 * interface, open() refuses with NIC_IN_USE.
 */
export class NicConfig {
  /** The interface's name, resolved by open(). */
  readonly ifname: string;
  /** The interface's index, resolved by open(). */
  readonly ifindex: number;
  /** A plan only: steps are recorded as `planned` and nothing on the NIC changes. */
  readonly dryRun: boolean;
  readonly #steps: NicStep[] = [];
  readonly #undo: UndoEntry[] = [];
  readonly #onStep: ((step: NicStep) => void) | undefined;
  readonly #restoreOnExit: boolean;
  readonly #bindOnly: boolean;
  readonly #journal: JournalWriter | undefined;
  #seq = 0;
  #tracked = false;
  #closed = false;
  /** What reserveQueues() reserved (planned, in a dry run), for steerPort(). */
  #reserved: { queues: number[]; context: number | null; contextPlanned: boolean } | undefined;

  /**
   * What open() undid (or, in a dry run, would undo) that a dead process had
   * left on this interface; undefined when there was nothing.
   */
  readonly recovered: RecoveryReport | undefined;

  private constructor(
    ifname: string,
    ifindex: number,
    dryRun: boolean,
    options: NicConfigOptions,
    recovered: RecoveryReport | undefined,
    snapshot: NicState | null,
  ) {
    this.ifname = ifname;
    this.ifindex = ifindex;
    this.dryRun = dryRun;
    this.#onStep = options.onStep;
    this.#restoreOnExit = options.restoreOnExit ?? true;
    this.#bindOnly = options.bindOnly === true;
    this.recovered = recovered;
    if (!dryRun && !this.#bindOnly) this.#journal = new JournalWriter({ ifname, ifindex }, snapshot);
  }

  /**
   * Resolves `iface` and starts an empty undo stack for it. If a process
   * that died (SIGKILL, a crash) left changes journalled on the interface,
   * they are undone first, as `devmem restore` would, and listed in
   * {@link NicConfig.recovered}; a dry run only lists them there (as
   * `planned`) and changes nothing. Otherwise changes nothing.
   *
   * @throws TypeError for an interface or options of the wrong type,
   * DevmemError INVALID_ARGUMENT for a malformed name or index,
   * NO_SUCH_DEVICE when there is no such interface, NIC_IN_USE while another
   * live process (or NicConfig) has changes on it, JOURNAL_CORRUPT or
   * JOURNAL_FOREIGN for a journal that cannot be used (nothing changed), and
   * NIC_RESTORE_FAILED when undoing a dead process's changes failed.
   */
  static async open(iface: InterfaceSpec, options: NicConfigOptions = {}): Promise<NicConfig> {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const { ifname, ifindex } = await resolveInterface(checkInterfaceSpec(iface));
    const dryRun = options.dryRun === true;
    let recovered: RecoveryReport | undefined;
    let snapshot: NicState | null = null;
    if (options.bindOnly !== true) {
      recovered = recoverTarget({ ifname, ifindex }, nicUndoPhase, { dryRun }) ?? undefined;
      const failed = recovered && recoveryFailed(recovered);
      if (failed) throw failed;
      // For the journal: what the NIC looked like before this NicConfig, for
      // people and tests to compare against; the undo itself never needs it.
      if (!dryRun) snapshot = await readNicState(ifindex).catch(() => null);
    }
    return new NicConfig(ifname, ifindex, dryRun, options, recovered, snapshot);
  }

  /** Every step so far, in the order applied (or planned). */
  get steps(): readonly NicStep[] {
    return this.#steps;
  }

  /** True while changes are waiting to be undone. */
  get pending(): boolean {
    return this.#undo.length > 0;
  }

  #check(): void {
    if (this.#closed) throw closedError(`NicConfig for ${this.ifname}`);
  }

  #checkConfigures(what: string): void {
    this.#check();
    if (this.#bindOnly) throw invalidArgument(`${what} changes the NIC, which a bindOnly NicConfig leaves to the one that set it up`);
  }

  /**
   * Makes one change: journals its undo first (see nic-journal.ts for why
   * ahead), then `change()`; a change that throws leaves no journal entry.
   * The caller pushes the undo in the same turn with #pushUndo().
   */
  #apply<T>(description: string, undo: NicUndo, change: () => T): { result: T; journal: JournalStep | undefined } {
    const journal = this.#journal?.intend(description, undo);
    try {
      return { result: change(), journal };
    } catch (e) {
      if (journal) this.#journal!.abandon(journal);
      throw e;
    }
  }

  #record(kind: NicStepKind, description: string): NicStep {
    const step: NicStep = { kind, description, state: this.dryRun ? 'planned' : 'done' };
    this.#steps.push(step);
    this.#onStep?.(step);
    return step;
  }

  /**
   * Pushes a change's undo: `undo` as the journal records it (the kernel's
   * answer in it, e.g. a rule's location), run through undoStep() unless a
   * live object must do it (`live`: closing a binding).
   */
  #pushUndo(step: NicStep, journal: JournalStep | undefined, undo: NicUndo, live?: () => void): void {
    if (journal) this.#journal!.commit(journal, step.description, undo);
    this.#undo.push({ step, seq: this.#seq++, undo: live ?? (() => undoStep(this, undo, false)), journal });
    if (this.#restoreOnExit && !this.#tracked) {
      this.#tracked = true;
      track(this);
    }
  }

  /** Checks that queues first..first+count-1 exist; returns the RX channel count. */
  async checkChannels(first: number, count: number): Promise<number> {
    this.#check();
    if (!Number.isInteger(first) || first < 0) throw invalidArgument(`the first queue must be a non-negative integer, got ${first}`);
    if (!Number.isInteger(count) || count < 1) throw invalidArgument(`the queue count must be a positive integer, got ${count}`);
    const n = rxChannelCount(await getChannels(this.ifname));
    this.#record('check-channels', `check ${this.ifname} has RX queues ${first}..${first + count - 1} (it has ${n})`);
    if (first + count > n)
      throw new DevmemError(`${this.ifname} has ${n} RX channels, too few for queues ${first}..${first + count - 1}`, {
        reason: 'TOO_FEW_QUEUES',
      });
    return n;
  }

  /** tcp-data-split "enabled" with hds-thresh 0, as bind-rx requires; restored from the saved values. */
  async enableHeaderSplit(): Promise<void> {
    this.#checkConfigures('enableHeaderSplit()');
    const saved = await getRings(this.ifname);
    const hasThresh = saved.hdsThresh !== undefined;
    const description = `ethtool -G ${this.ifname} tcp-data-split on${hasThresh ? ' hds-thresh 0' : ''} (was ${saved.tcpDataSplit ?? 'not reported'}${hasThresh ? `, hds-thresh ${saved.hdsThresh}` : ''})`;
    if (this.dryRun) {
      this.#record('header-split', description);
      return;
    }
    const undo: NicUndo = {
      kind: 'header-split',
      ...(saved.tcpDataSplit !== undefined ? { tcpDataSplit: saved.tcpDataSplit } : {}),
      ...(saved.hdsThresh !== undefined ? { hdsThresh: saved.hdsThresh } : {}),
    };
    const { journal } = this.#apply(description, undo, () =>
      setRingsSync(this.ifindex, this.ifname, hasThresh ? { tcpDataSplit: 'enabled', hdsThresh: 0 } : { tcpDataSplit: 'enabled' }),
    );
    this.#pushUndo(this.#record('header-split', description), journal, undo);
  }

  /**
   * Spreads RSS over queues 0..firstDevmemQueue-1 only, so the devmem queues
   * get nothing but steered flows (`ethtool -X IF equal N`). The saved table
   * comes back on restore; a default table comes back as the default.
   */
  async isolateQueues(firstDevmemQueue: number): Promise<void> {
    this.#checkConfigures('isolateQueues()');
    if (!Number.isInteger(firstDevmemQueue) || firstDevmemQueue < 1)
      throw invalidArgument(
        `RSS isolation needs at least queue 0 left for other traffic; the first devmem queue must be 1 or more, got ${firstDevmemQueue}`,
      );
    const rings = getRxRingCount(this.ifname);
    const saved = getRssIndirection(this.ifname);
    if (firstDevmemQueue >= rings)
      throw new DevmemError(`${this.ifname} has ${rings} RX rings; RSS cannot keep queue ${firstDevmemQueue} and above free`, {
        reason: 'TOO_FEW_QUEUES',
      });
    const wasDefault = isDefaultIndirection(saved, rings);
    const description = `ethtool -X ${this.ifname} equal ${firstDevmemQueue} (was ${wasDefault ? 'the default' : 'a custom table'}, ${saved.length} entries)`;
    if (this.dryRun) {
      this.#record('rss', description);
      return;
    }
    const undo: NicUndo = { kind: 'rss', table: wasDefault ? null : Array.from(saved) };
    const { journal } = this.#apply(description, undo, () =>
      setRssIndirection(this.ifname, equalIndirection(saved.length, firstDevmemQueue)),
    );
    this.#pushUndo(this.#record('rss', description), journal, undo);
  }

  /**
   * Installs an n-tuple rule sending the flow to `queue`: the 5-tuple when the
   * client is known, else (or when the driver refuses it) the 3-tuple of
   * server address and port. Turns rx-ntuple-filter on first if it is off.
   */
  async steerFlow(flow: SteerFlowOptions): Promise<SteeredFlow | null> {
    this.#checkConfigures('steerFlow()');
    if (flow === null || typeof flow !== 'object') throw new TypeError('steerFlow needs { serverIp, port, queue }');
    const flowType = flowTypeFor(flow.serverIp);
    const three: FlowRule = { flowType, dstIp: canonicalIp(flow.serverIp), dstPort: flow.port, queue: flow.queue };
    const five: FlowRule | undefined =
      flow.clientIp === undefined ? undefined : { ...three, srcIp: canonicalIp(flow.clientIp), srcPort: flow.clientPort ?? flow.port };
    // Validate both before touching anything.
    encodeFlowRule(three);
    if (five) encodeFlowRule(five);

    this.#enableNtuple();
    const describe = (r: FlowRule) =>
      `ethtool -N ${this.ifname} flow-type ${r.flowType}${r.srcIp ? ` src-ip ${r.srcIp}` : ''} dst-ip ${r.dstIp}` +
      `${r.srcPort !== undefined ? ` src-port ${r.srcPort}` : ''} dst-port ${r.dstPort} action ${r.queue}`;
    if (this.dryRun) {
      this.#record('flow-rule', five ? `${describe(five)} (or, if refused, ${describe(three)})` : describe(three));
      return null;
    }
    let firstError: unknown;
    for (const [rule, tuple] of (five
      ? [
          [five, 5],
          [three, 3],
        ]
      : [[three, 3]]) as [FlowRule, 5 | 3][]) {
      let location: number;
      let journal: JournalStep | undefined;
      try {
        ({ result: location, journal } = this.#apply(describe(rule), this.#ruleIntent(rule), () => addFlowRule(this.ifname, rule)));
      } catch (e) {
        firstError ??= e;
        if (e instanceof DevmemError && e.reason === 'NTUPLE_UNSUPPORTED') throw e;
        continue;
      }
      this.#pushUndo(this.#record('flow-rule', `${describe(rule)} (rule ${location})`), journal, { kind: 'flow-rule', rule, location });
      return { location, tuple, rule };
    }
    throw firstError;
  }

  /** Turns rx-ntuple-filter on if it is off, with its undo. */
  #enableNtuple(): void {
    if (getNtupleFilter(this.ifname)) return;
    const description = `ethtool -K ${this.ifname} ntuple on (was off)`;
    if (this.dryRun) {
      this.#record('ntuple-feature', description);
      return;
    }
    const undo: NicUndo = { kind: 'ntuple-feature' };
    let journal: JournalStep | undefined;
    try {
      ({ journal } = this.#apply(description, undo, () => setNtupleFilter(this.ifname, true)));
    } catch (e) {
      if (!(e instanceof DevmemError)) throw e;
      throw new DevmemError(`${this.ifname} has rx-ntuple-filter off and it cannot be turned on (${e.code})`, {
        reason: 'NTUPLE_UNSUPPORTED',
        errno: e.errno,
        code: e.code,
        cause: e,
      });
    }
    this.#pushUndo(this.#record('ntuple-feature', description), journal, undo);
  }

  /**
   * Refuses, before any change, queues that someone else uses: a binding, a
   * zcrx area, an AF_XDP socket or a lease holds them, or another RSS context
   * already spreads flows over them (whose traffic would then land in this
   * binding and fail there).
   */
  async #checkReservable(queues: readonly number[], contexts: boolean): Promise<void> {
    const wanted = new Set(queues);
    for (const q of await listQueues(this.ifindex)) {
      if (q.type !== 'rx' || !wanted.has(q.id)) continue;
      const busy = queueBusyBecause(q);
      if (busy)
        throw new DevmemError(
          `queue ${q.id} of ${this.ifname} ${busy}, so it cannot be reserved: reserve fewer queues, or release it first`,
          {
            reason: 'QUEUE_BUSY',
          },
        );
    }
    if (!contexts) return;
    for (const ctx of (await listRssContexts(this.ifname)) ?? []) {
      const shared = [...new Set(ctx.indirection.filter((q) => wanted.has(q)))].sort((a, b) => a - b);
      if (shared.length > 0)
        throw new DevmemError(
          `RSS context ${ctx.id} of ${this.ifname} already spreads flows over queue(s) ${shared.join(',')}, so they cannot be reserved: ` +
            `delete it (ethtool -X ${this.ifname} context ${ctx.id} delete) or reserve fewer queues`,
          { reason: 'QUEUE_BUSY' },
        );
    }
  }

  /** Undoes the newest change at once (a later step of the same call failed). */
  #undoLast(): void {
    const e = this.#undo.pop();
    if (!e) return;
    e.undo();
    e.step.state = 'undone';
    if (e.journal) this.#journal!.undone(e.journal);
    this.#onStep?.(e.step);
  }

  /**
   * Whether the device has RSS contexts, read without changing anything: the
   * kernel refuses to read a context with EOPNOTSUPP on drivers without them,
   * and answers ENOENT (or the table) on drivers with them.
   */
  #hasContexts(): { supported: boolean; why?: string } {
    try {
      getRssContext(this.ifname, 1);
      return { supported: true };
    } catch (e) {
      if (e instanceof DevmemError && (e.reason === 'RSS_UNSUPPORTED' || e.code === 'EOPNOTSUPP'))
        return { supported: false, why: e.code ?? e.reason };
      throw e;
    }
  }

  /**
   * Reserves the last `count` RX queues for one devmem server that accepts
   * many connections on one port (kperf's set-up): the main RSS table is
   * narrowed to the other queues (`ethtool -X IF equal N`), and an RSS
   * context spreads over the reserved ones (`ethtool -X IF context new start
   * N equal count`); steerPort() then sends the port's flows into it. Bind
   * the returned `queues` to the dma-buf. restore() deletes the context and
   * puts the table back (a default table as the default).
   *
   * A device without RSS contexts gets what steerFlow() gives: the table is
   * narrowed the same way, but `queues` is only the first reserved queue,
   * `context` is null and `fallback` says so (a step records it too), so
   * every connection shares one queue. A dry run records the steps it would
   * make, with the values read from the device, and returns `context` null;
   * steerPort() with that null plans the rule into the planned context.
   *
   * @throws DevmemError INVALID_ARGUMENT for a count that is not an integer
   * of 1 or more or a second reservation; TOO_FEW_QUEUES when `count` would
   * leave no queue for RSS (add channels first); RSS_UNSUPPORTED when the
   * device has no RSS table at all. Nothing is left changed when it throws.
   */
  async reserveQueues(count: number): Promise<ReservedQueues> {
    this.#checkConfigures('reserveQueues()');
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1)
      throw invalidArgument(`reserveQueues() needs a whole number of queues, 1 or more; got ${String(count)}`);
    if (this.#reserved)
      throw invalidArgument(`queues ${this.#reserved.queues.join(',')} of ${this.ifname} are already reserved by this NicConfig`);
    const rings = getRxRingCount(this.ifname);
    if (count >= rings)
      throw new DevmemError(
        `${this.ifname} has ${rings} RX queue(s); reserving ${count} would leave none for RSS to spread other traffic over. ` +
          `Reserve at most ${rings - 1}, or add channels first (ethtool -L ${this.ifname} combined N, or NicConfig.setChannels())`,
        { reason: 'TOO_FEW_QUEUES' },
      );
    const first = rings - count;
    const queues = Array.from({ length: count }, (_, i) => first + i);
    const saved = getRssIndirection(this.ifname);
    const wasDefault = isDefaultIndirection(saved, rings);
    const { supported, why } = this.#hasContexts();
    await this.#checkReservable(queues, supported);
    const api = supported ? await rssContextApi() : 'ioctl';
    const narrow = `ethtool -X ${this.ifname} equal ${first} (was ${wasDefault ? 'the default' : 'a custom table'}, ${saved.length} entries)`;
    const ctxText = `ethtool -X ${this.ifname} context new start ${first} equal ${count}`;
    const fallback = supported
      ? undefined
      : `${this.ifname} has no RSS contexts (${why}): every connection goes to queue ${first} alone, through one n-tuple rule, ` +
        `instead of being spread over queues ${first}..${rings - 1}` +
        (count > 1 ? `; queues ${first + 1}..${rings - 1} stay out of RSS but unused` : '');
    // The context goes first: nothing sends traffic to it yet, and if the
    // table cannot be narrowed afterwards it is deleted again before the error.
    let context: number | null = null;
    if (this.dryRun) {
      this.#record(
        'rss-context',
        supported ? `${ctxText} (via ${api === 'netlink' ? 'ethtool netlink' : 'the ioctl'})` : `skipped: ${fallback}`,
      );
      this.#record('rss', narrow);
      this.#reserved = { queues: supported ? queues : [first], context: null, contextPlanned: supported };
      return { queues: supported ? queues : [first], context: null, ...(fallback ? { fallback } : {}) };
    }
    if (supported) {
      const table = contextIndirection(saved.length, queues);
      // What a crash before the kernel's answer reaches the journal needs to
      // find the new context (see NicUndo).
      const before = (await listRssContexts(this.ifname))?.map((c) => c.id);
      const intent: NicUndo = { kind: 'rss-context', api, queues, ...(before ? { before } : {}) };
      const created = this.#apply(ctxText, intent, () => createRssContextSync(this.ifindex, this.ifname, table, api));
      context = created.result;
      this.#pushUndo(this.#record('rss-context', `${ctxText} (context ${context})`), created.journal, {
        kind: 'rss-context',
        context,
        api,
      });
    } else {
      this.#record('rss-context', `skipped: ${fallback}`);
    }
    const undo: NicUndo = { kind: 'rss', table: wasDefault ? null : Array.from(saved) };
    try {
      const { journal } = this.#apply(narrow, undo, () => setRssIndirection(this.ifname, equalIndirection(saved.length, first)));
      this.#pushUndo(this.#record('rss', narrow), journal, undo);
    } catch (e) {
      if (context !== null) this.#undoLast();
      throw e;
    }
    const out: ReservedQueues = { queues: context === null ? [first] : queues, context, ...(fallback ? { fallback } : {}) };
    this.#reserved = { queues: out.queues, context, contextPlanned: false };
    return out;
  }

  /**
   * Steers a listening port into reserved queues: an n-tuple rule with
   * FLOW_RSS naming `context` (`ethtool -N IF flow-type tcp4 dst-ip A
   * dst-port P context C`), so that every flow to the port lands on one of
   * the context's queues by its hash. Without `serverIp` the port is
   * steered for tcp4 and tcp6 alike, one rule each. With `context` null the
   * rule sends every flow to one queue, as steerFlow() does. Turns
   * rx-ntuple-filter on first if it is off. restore() deletes the rules
   * before the context, as the kernel requires.
   *
   * @throws DevmemError INVALID_ARGUMENT for a bad port, address or queue, a
   * context that does not exist on the device, or a port that a rule
   * already steers (the first matching rule wins, so a second one would be
   * ignored); NTUPLE_UNSUPPORTED when the device has no n-tuple rules.
   * Nothing is left changed when it throws.
   */
  async steerPort(options: SteerPortOptions): Promise<SteeredPort> {
    this.#checkConfigures('steerPort()');
    if (options === null || typeof options !== 'object') throw new TypeError('steerPort needs { port, context, serverIp? }');
    const { port, serverIp, context } = options;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      throw invalidArgument(`port must be a TCP port from 1 to 65535, got ${String(port)}`);
    if (context !== null && (typeof context !== 'number' || !Number.isInteger(context) || context < 1))
      throw invalidArgument(`context must be an RSS context ID (1 or more) from reserveQueues(), or null; got ${String(context)}`);
    const planned = this.dryRun && context === null && this.#reserved?.contextPlanned === true;
    let queue = 0;
    if (context === null && !planned) {
      const q = options.queue ?? this.#reserved?.queues[0];
      if (q === undefined) throw invalidArgument('steerPort() with context null needs a queue, or reserveQueues() first');
      queue = q;
    }
    const base = serverIp === undefined ? undefined : { flowType: flowTypeFor(serverIp), dstIp: canonicalIp(serverIp) };
    const rules: FlowRule[] = (base ? [base] : [{ flowType: 'tcp4' as const }, { flowType: 'tcp6' as const }]).map((b) => ({
      ...b,
      dstPort: port,
      queue,
      ...(context !== null ? { rssContext: context } : {}),
    }));
    for (const r of rules) encodeFlowRule(r);
    if (context !== null && getRssContext(this.ifname, context) === null)
      throw invalidArgument(`${this.ifname} has no RSS context ${context}: pass the context reserveQueues() returned`);
    // A second rule on the port would never match (the first one wins): say so.
    const existing = orNull(() => listFlowRules(this.ifname).rules) ?? [];
    for (const r of rules) {
      const clash = existing.find(
        (e) =>
          e.rule?.flowType === r.flowType &&
          e.rule.dstPort === port &&
          e.rule.srcIp === undefined &&
          (e.rule.dstIp === undefined || r.dstIp === undefined || e.rule.dstIp === r.dstIp),
      );
      if (clash)
        throw invalidArgument(
          `port ${port} (${r.flowType}) of ${this.ifname} is already steered by rule ${clash.location}; delete it first (ethtool -N ${this.ifname} delete ${clash.location})`,
        );
    }
    this.#enableNtuple();
    const describe = (r: FlowRule) =>
      `ethtool -N ${this.ifname} flow-type ${r.flowType}${r.dstIp ? ` dst-ip ${r.dstIp}` : ''} dst-port ${r.dstPort} ` +
      (r.rssContext !== undefined ? `context ${r.rssContext}` : planned ? 'context (the new one)' : `action ${r.queue}`);
    if (this.dryRun) {
      for (const r of rules) this.#record('flow-rule', describe(r));
      return { context, rules: [] };
    }
    const out: SteeredFlow[] = [];
    try {
      for (const rule of rules) {
        const { result: location, journal } = this.#apply(describe(rule), this.#ruleIntent(rule), () => addFlowRule(this.ifname, rule));
        this.#pushUndo(this.#record('flow-rule', `${describe(rule)} (rule ${location})`), journal, { kind: 'flow-rule', rule, location });
        out.push({ location, tuple: base ? 3 : 1, rule });
      }
    } catch (e) {
      // Both families or neither: the tcp4 rule goes again if tcp6 failed.
      for (let i = 0; i < out.length; i++) this.#undoLast();
      throw e;
    }
    return { context, rules: out };
  }

  // With the rules there before the add, so that a crash recovery that must
  // find the rule by its fields (the driver picks the location) skips them.
  #ruleIntent(rule: FlowRule): NicUndo {
    if (!this.#journal) return { kind: 'flow-rule', rule };
    try {
      return { kind: 'flow-rule', rule, before: listFlowRules(this.ifname).rules.map((r) => r.location) };
    } catch {
      return { kind: 'flow-rule', rule };
    }
  }

  /**
   * Changes channel counts with the old counts on the undo stack; the kernel
   * refuses to drop a queue that has a memory provider.
   */
  async setChannels(update: { rxCount?: number; combinedCount?: number; txCount?: number }): Promise<void> {
    this.#checkConfigures('setChannels()');
    const saved = await getChannels(this.ifname);
    const parts = Object.entries(update).map(([k, v]) => `${k.replace('Count', '')} ${v}`);
    const description = `ethtool -L ${this.ifname} ${parts.join(' ')}`;
    if (this.dryRun) {
      this.#record('channels', description);
      return;
    }
    const back: Record<string, number> = {};
    for (const k of Object.keys(update) as (keyof typeof update)[]) {
      const v = saved[k];
      if (v !== undefined) back[k] = v;
    }
    const undo: NicUndo = { kind: 'channels', back };
    const { journal } = this.#apply(description, undo, () => setChannelsSync(this.ifindex, this.ifname, update));
    this.#pushUndo(this.#record('channels', description), journal, undo);
  }

  /**
   * bind-rx, with the unbind first on the undo stack. The bind itself is
   * synchronous (see the class comment); the device watch starts after its
   * unbind is on the stack. A dry run plans it with planBindRx() instead.
   */
  async bindRx(queues: readonly number[], dmabuf: DmaBufLike | number, options: BindRxOptions = {}): Promise<RxBinding> {
    this.#check();
    if (this.dryRun) throw invalidArgument('a dry run binds nothing: plan the bind with planBindRx()');
    // Journalled so that a crash recovery waits for the kernel to drop the
    // binding (with its owner's socket) before header split goes back.
    const undo: NicUndo = { kind: 'bind-rx', queues: Array.from(queues) };
    const { result: binding, journal } = this.#apply(bindDescription(this.ifname, queues), undo, () =>
      bindRxSync(this.ifindex, this.ifname, queues, dmabuf, options),
    );
    this.#pushUndo(this.#record('bind-rx', `${bindDescription(this.ifname, queues)} (binding ${binding.id})`), journal, undo, () =>
      binding.close(),
    );
    await binding.watchDevice();
    return binding;
  }

  /** In a dry run, records the bind-rx that bindRx() would make. */
  planBindRx(queues: readonly number[]): void {
    this.#check();
    if (!this.dryRun) throw invalidArgument('planBindRx() is for dry runs; bind with bindRx()');
    this.#record('bind-rx', bindDescription(this.ifname, queues));
  }

  /**
   * Registers RX queue `queue` for io_uring zero-copy receive (see
   * {@link openZcrx}, whose options and errors these are), with the queue's
   * close on the undo stack. It unwinds first, beside bind-rx's unbind, and
   * blocks until the kernel has restarted the queue without zcrx (at most
   * 5 s, else the step fails with TIMEOUT), because header split cannot go
   * off while the area holds the queue. Closing the queue yourself first
   * (`await queue.close()`) is fine: the undo then finds nothing to wait for.
   * Sockets still receiving through the queue fail with CLOSED when it is
   * undone. A dry run plans it with planZcrx() instead.
   */
  async openZcrx(queue: number, options: ZcrxOptions): Promise<ZcrxQueue> {
    this.#check();
    if (this.dryRun) throw invalidArgument('a dry run registers nothing: plan the zcrx queue with planZcrx()');
    // The registration happens inside openZcrx(), so its intent is journalled
    // ahead of the whole call and dropped if the call fails.
    const undo: NicUndo = { kind: 'zcrx', queue };
    const journal = this.#journal?.intend(`zcrx ${this.ifname} queue ${queue}`, undo);
    let q: ZcrxQueue;
    try {
      q = await openZcrx(this.ifindex, queue, options);
    } catch (e) {
      if (journal) this.#journal!.abandon(journal);
      throw e;
    }
    // openZcrx() registers synchronously in its last turn and returns at
    // once, so this runs in that turn's microtasks: no signal handler can
    // find the queue registered without its undo.
    const description = `${zcrxDescription(this.ifname, queue, q.area, q.rqEntries, q.rxBufLen)} (zcrx id ${q.zcrxId})`;
    if (this.#closed) {
      closeZcrxSync(q);
      if (journal) this.#journal!.abandon(journal);
      throw closedError(`NicConfig for ${this.ifname}`);
    }
    this.#pushUndo(this.#record('zcrx', description), journal, undo, () => closeZcrxSync(q));
    return q;
  }

  /**
   * In a dry run, records the zcrx registration that openZcrx() would make,
   * after checking `options` as openZcrx() does (INVALID_ARGUMENT for a
   * refill ring that is not a power of two or too small, a bad buffer or
   * area size). A dry run allocates nothing, so the area may be given as
   * its size and, for a dma-buf that would be allocated, its kind
   * (`{ size, kind: 'udmabuf' }`); `{ size }` alone is host memory.
   */
  planZcrx(
    queue: number,
    options: Omit<ZcrxOptions, 'area'> & {
      /** The area: a DmaBuf, or its size and, for a dma-buf to be allocated, its kind. */
      area:
        | DmaBuf
        | {
            /** The area's size in bytes. */
            size: number;
            /** The kind of dma-buf that would be allocated (`udmabuf`, `dma-heap`, ...); absent for host memory. */
            kind?: string;
          };
    },
  ): void {
    this.#check();
    if (!this.dryRun) throw invalidArgument('planZcrx() is for dry runs; register with openZcrx()');
    if (!Number.isSafeInteger(queue) || queue < 0) throw invalidArgument(`queue must be a non-negative integer, got ${queue}`);
    const page = native().constants.PAGE_SIZE;
    const area = options?.area;
    const plan = zcrxPlan(
      {
        ...options,
        // zcrxPlan takes an object without an fd as host memory: only its size is checked here.
        area: area !== null && typeof area === 'object' && !('fd' in area) ? { size: area.size } : area,
      },
      page,
    );
    this.#record('zcrx', zcrxDescription(this.ifname, queue, area, plan.rqEntries, plan.rxBufLen || page));
  }

  /**
   * Leases RX queue `queue` of this NIC to the netkit guest `into` (see
   * {@link leaseQueue}, whose checks and errors these are) and resolves with
   * the lease; a dry run checks the same and records the step as planned,
   * resolving with null.
   *
   * There is no undo: Linux has no op to end a lease (no queue-delete, and
   * a netkit device cannot drop queues), so restore() and close() leave it
   * in place and mark its step `kept`; it is journalled all the same, so
   * that `devmem restore` after a crash reports it (as kept, or as already
   * gone once the netkit device is). The lease ends when the netkit device is deleted (which also
   * happens when its network namespace goes away, or when this NIC is
   * unregistered); the step's description says so. Close bindings made
   * through the leased queue before deleting the netkit device: the kernel
   * closes their provider on the physical queue when the lease ends.
   */
  async leaseQueue(options: Omit<LeaseQueueOptions, 'physical'>): Promise<Lease | null> {
    this.#check();
    if (options === null || typeof options !== 'object') throw new TypeError('leaseQueue needs { queue, into }');
    const plan = await planLease({ ...options, physical: this.ifindex });
    try {
      const description = `${leaseDescription(plan)}; it lasts until ${plan.into.ifname} is deleted`;
      if (this.dryRun) {
        this.#record('lease', description);
        return null;
      }
      this.#check();
      // Journalled and stacked like a change, so that restore() and `devmem
      // restore` report it; its undo keeps it (see NicUndo).
      const undo: NicUndo = { kind: 'lease', queue: options.queue };
      const { result: lease, journal } = this.#apply(description, undo, () => applyLeaseSync(plan));
      const done = `${leaseDescription(plan, lease.queue)}; it lasts until ${plan.into.ifname} is deleted`;
      this.#pushUndo(this.#record('lease', done), journal, undo);
      return lease;
    } finally {
      closeLeasePlan(plan);
    }
  }

  /**
   * Undoes every change in the kernel's order. Keeps going past a failed step
   * and then throws `NIC_RESTORE_FAILED` listing every failure.
   */
  restore(): void {
    const entries = this.#undo.splice(0).sort((a, b) => PHASE[a.step.kind] - PHASE[b.step.kind] || b.seq - a.seq);
    const failures: { step: NicStep; error: unknown }[] = [];
    for (const e of entries) {
      try {
        e.step.state = e.undo() === 'kept' ? 'kept' : 'undone';
        if (e.journal) this.#journal!.undone(e.journal);
      } catch (error) {
        e.step.state = 'failed';
        failures.push({ step: e.step, error });
      }
      this.#onStep?.(e.step);
    }
    if (this.#tracked) {
      this.#tracked = false;
      untrack(this);
    }
    if (failures.length > 0) {
      // What failed stays journalled, disowned, for `devmem restore` to try
      // again; a device that is gone took its settings with it.
      if (this.#deviceGone()) this.#journal?.discard();
      else this.#journal?.disown();
      const list = failures.map((f) => `${f.step.description}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
      throw new DevmemError(`could not undo ${failures.length} change(s) on ${this.ifname}: ${list.join('; ')}`, {
        reason: 'NIC_RESTORE_FAILED',
        cause: new AggregateError(failures.map((f) => f.error)),
      });
    }
  }

  #deviceGone(): boolean {
    try {
      interfaceNameSync(this.ifindex);
      return false;
    } catch {
      return true;
    }
  }

  /** Used by the process hooks. */
  restoreNow(_reason: string): void {
    this.restore();
  }

  /** Restores and refuses further steps. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.restore();
  }

  /** `using nic = await NicConfig.open(...)`: the same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using nic = await NicConfig.open(...)`: the same as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/**
 * Process-wide safety net for NicConfig: whatever is still configured when
 * the process exits, or is told to stop by SIGINT or SIGTERM, is put back.
 * Restoring is synchronous (ioctl and blocking netlink), so it also runs from
 * the 'exit' event, which is where an uncaught exception ends up after Node
 * has printed it.
 */

/** Something that can put its NIC changes back, synchronously. */
export interface Restorable {
  restoreNow(reason: string): void;
}

const live = new Set<Restorable>();
let exitHook = false;
let signalHooks = false;

function restoreAll(reason: string): void {
  for (const r of [...live]) {
    try {
      r.restoreNow(reason);
    } catch (e) {
      // The process is going away; say what was left behind and carry on with the rest.
      process.stderr.write(`devmem-tcp: NIC restore on ${reason} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // Only when nobody else listens do we die of the signal, as the process
  // would have without us; another listener owns the decision otherwise.
  // Counted first: restoring the last config removes our own listener.
  const alone = process.listenerCount(signal) === 1;
  restoreAll(signal);
  if (alone) {
    process.removeListener(signal, onSignal);
    signalHooks = false;
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => restoreAll('exit'));
  }
  if (!signalHooks) {
    signalHooks = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}

// Signal listeners go once nothing is live, so that a program which is done
// with its NIC gets Node's default signal behaviour back.
function uninstall(): void {
  if (!signalHooks || live.size > 0) return;
  signalHooks = false;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}

export function track(r: Restorable): void {
  install();
  live.add(r);
}

export function untrack(r: Restorable): void {
  live.delete(r);
  uninstall();
}

/**
 * Noticing that a bound device went away, which the kernel does not tell the
 * devmem sockets (see docs/kernel-notes.md#device-removal-is-silent): one
 * netlink socket per thread listens for dev-del-ntf on the netdev family's
 * "mgmt" group while any binding is open, and tells whoever watches that
 * ifindex.
 * @internal
 */
import { DevmemError } from './errors';
import { native, type NativeDeviceWatch } from './native';
import { getDevice, netdevFamily } from './netdev';

type Listener = () => void;

const listeners = new Map<number, Set<Listener>>();
let watch: NativeDeviceWatch | undefined;
let starting: Promise<boolean> | undefined;

function notify(ifindex: number): void {
  const set = listeners.get(ifindex);
  if (!set) return;
  listeners.delete(ifindex);
  for (const fn of set) fn();
  stopIfIdle();
}

/** Asks the kernel whether `ifindex` still exists; reports it removed if not. */
async function recheck(ifindex: number): Promise<void> {
  try {
    await getDevice(ifindex);
  } catch (e) {
    if (e instanceof DevmemError && e.reason === 'NO_SUCH_DEVICE') notify(ifindex);
    // Any other failure says nothing about the device; keep watching.
  }
}

function onEvents(removed: Uint32Array | null): void {
  // null: the kernel dropped notifications (the socket buffer overflowed), so
  // any device may have gone unnoticed.
  if (removed === null) for (const ifindex of [...listeners.keys()]) void recheck(ifindex);
  else for (const ifindex of removed) notify(ifindex);
}

async function start(): Promise<boolean> {
  try {
    const family = await netdevFamily();
    const group = family.mcastGroups.find((g) => g.name === 'mgmt');
    if (!group) return false;
    watch = new (native().NativeDeviceWatch)(family.id, group.id, onEvents);
    stopIfIdle(); // everyone stopped watching while it was being set up
    return true;
  } catch {
    // Watching is an aid, not a precondition: a binding works without it.
    return false;
  } finally {
    starting = undefined;
  }
}

function stopIfIdle(): void {
  if (listeners.size === 0 && watch) {
    watch.close();
    watch = undefined;
  }
}

/**
 * Calls `onRemoved` once if device `ifindex` is unregistered. Resolves when
 * the watch is in place (it may already have fired, if the device went away
 * while it was being set up) and returns the function that stops watching.
 * Where the kernel offers no notifications, it never fires.
 */
export async function watchDevice(ifindex: number, onRemoved: Listener): Promise<() => void> {
  let set = listeners.get(ifindex);
  if (!set) listeners.set(ifindex, (set = new Set()));
  let fired = false;
  const once = () => {
    if (!fired) {
      fired = true;
      onRemoved();
    }
  };
  set.add(once);
  const stop = () => {
    const s = listeners.get(ifindex);
    if (s?.delete(once) && s.size === 0) listeners.delete(ifindex);
    stopIfIdle();
  };
  if (!watch) {
    starting ??= start();
    await starting;
  }
  // Closes the gap between the caller learning the ifindex and the watch
  // joining the multicast group: a device deleted in between is caught here.
  if (watch && !fired) await recheck(ifindex);
  if (!watch) stop();
  return stop;
}

/** Devices watched right now (tests use it to check nothing is left behind). */
export function watchedDevices(): number[] {
  return [...listeners.keys()];
}

/** Whether the multicast socket is open (tests check it closes when idle). */
export function deviceWatchOpen(): boolean {
  return watch !== undefined;
}

// A second netdevsim pair for tests that need more queues than the harness's pair
// (scripts/vm/guest/netdevsim-pair.sh makes that one): created from the test's own
// namespace (the local one), its far port moved to the remote namespace, linked back
// to back and addressed in a subnet of its own, and deleted again by remove().
import { closeSync, openSync, writeFileSync } from 'node:fs';

import { listLinks } from '../../../lib/index';
import { run } from '../../support/process';
import { e2eEnv } from './env';
import { runRemote } from './remote';

const BUS = '/sys/bus/netdevsim';

export interface ExtraPair {
  /** The local port (in the test's namespace) and its index. */
  ifLocal: string;
  ifindexLocal: number;
  /** The far port, in the remote namespace. */
  ifRemote: string;
  addr4Local: string;
  addr4Remote: string;
  /** Deletes both devices (idempotent). */
  remove(): void;
}

async function ip(args: string[]): Promise<void> {
  await run(['ip', ...args], { check: true, timeoutMs: 20_000, label: 'ip' });
}

/**
 * Creates netdevsim devices `id` and `id + 1` with `queues` queues each. Device
 * ids 1 and 2 are the harness's. The far port's netdev is found by the names
 * that appeared in this namespace, since sysfs here shows this namespace only.
 */
export async function createExtraPair(id: number, queues: number, subnet: string): Promise<ExtraPair> {
  const env = e2eEnv();
  const removeDevices = () => {
    for (const d of [id, id + 1]) {
      try {
        writeFileSync(`${BUS}/del_device`, String(d));
      } catch {
        // not created, or already deleted
      }
    }
  };
  try {
    const before = new Set((await listLinks()).map((l) => l.ifname));
    const created: string[] = [];
    for (const d of [id, id + 1]) {
      writeFileSync(`${BUS}/new_device`, `${d} 1 ${queues}`);
      // The port registers a moment after the device: wait for its netdev.
      for (let i = 0; i < 100; i++) {
        const fresh = (await listLinks()).map((l) => l.ifname).filter((n) => !before.has(n) && !created.includes(n));
        if (fresh.length > 0) {
          created.push(fresh[0]!);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      if (created.length !== (d === id ? 1 : 2)) throw new Error(`netdevsim device ${d} has no netdev in this namespace`);
    }
    const [ifLocal, ifRemote] = created as [string, string];
    const addr4Local = `${subnet}.1`;
    const addr4Remote = `${subnet}.2`;
    await ip(['link', 'set', ifRemote, 'netns', env.netnsRemote]);
    const ifindexLocal = (await listLinks()).find((l) => l.ifname === ifLocal)!.ifindex;
    const remoteIndex = Number((await runRemote(['cat', `/sys/class/net/${ifRemote}/ifindex`])).stdout.trim());
    // link_device takes "NETNS_FD:IFINDEX NETNS_FD:IFINDEX", the fds this process's.
    const here = openSync('/proc/self/ns/net', 'r');
    const there = openSync(`/run/netns/${env.netnsRemote}`, 'r');
    try {
      writeFileSync(`${BUS}/link_device`, `${here}:${ifindexLocal} ${there}:${remoteIndex}`);
    } finally {
      closeSync(here);
      closeSync(there);
    }
    await ip(['addr', 'add', `${addr4Local}/24`, 'dev', ifLocal]);
    await ip(['link', 'set', ifLocal, 'up']);
    await runRemote(['ip', 'addr', 'add', `${addr4Remote}/24`, 'dev', ifRemote]);
    await runRemote(['ip', 'link', 'set', ifRemote, 'up']);
    return { ifLocal, ifindexLocal, ifRemote, addr4Local, addr4Remote, remove: removeDevices };
  } catch (e) {
    removeDevices();
    throw e;
  }
}

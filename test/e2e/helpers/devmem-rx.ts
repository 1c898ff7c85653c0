// Shared set-up for the guest receive tests: header split on (and the rings put
// back after), and the local port's queues to bind. The remote pattern sender is
// in traffic.ts, the pattern itself in test/support/pattern.cjs.
import { ethtool } from '../../../lib/index';
import { e2eEnv } from './env';

/** Reads the header-split settings of `ifname`'s rings and gives back a function that puts them back. */
export async function saveRings(ifname: string = e2eEnv().ifLocal): Promise<() => Promise<void>> {
  const saved = await ethtool.getRings(ifname);
  return async () => {
    await ethtool.setRings(ifname, { tcpDataSplit: saved.tcpDataSplit ?? 'unknown', hdsThresh: saved.hdsThresh ?? 0 });
  };
}

/** Enables header split on `ifname` (the local port by default) and gives back a function that restores the rings. */
export async function enableHeaderSplit(ifname: string = e2eEnv().ifLocal): Promise<() => Promise<void>> {
  const restore = await saveRings(ifname);
  await ethtool.setRings(ifname, { tcpDataSplit: 'enabled', hdsThresh: 0 });
  return restore;
}

/** All of the local port's RX queues. */
export function allQueues(): number[] {
  return Array.from({ length: e2eEnv().queues }, (_, i) => i);
}

// Shared set-up for the guest receive tests: header split on (and the rings put
// back after), and the local port's queues to bind. The remote pattern sender is
// in traffic.ts, the pattern itself in test/support/pattern.cjs.
import { ethtool } from '../../../lib/index';
import { e2eEnv } from './env';

/** Enables header split for the test and gives back a function that restores the rings. */
export async function enableHeaderSplit(): Promise<() => Promise<void>> {
  const env = e2eEnv();
  const saved = await ethtool.getRings(env.ifLocal);
  await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
  return async () => {
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: saved.tcpDataSplit ?? 'unknown', hdsThresh: saved.hdsThresh ?? 0 });
  };
}

/** All of the local port's RX queues. */
export function allQueues(): number[] {
  return Array.from({ length: e2eEnv().queues }, (_, i) => i);
}

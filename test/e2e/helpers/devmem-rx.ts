// Shared set-up for the guest receive tests: header split on, a udmabuf bound
// to the local port's queues, and the remote pattern sender.
import * as path from 'node:path';

import { ethtool } from '../../../lib/index';
import { e2eEnv } from './env';
import { runRemote } from './remote';

const SENDER = path.join(__dirname, '../fixtures/send-pattern.cjs');

export const { patternByte } = require('../fixtures/pattern.cjs') as { patternByte(i: number): number };

/** Enables header split for the test and gives back a function that restores the rings. */
export async function enableHeaderSplit(): Promise<() => Promise<void>> {
  const env = e2eEnv();
  const saved = await ethtool.getRings(env.ifLocal);
  await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
  return async () => {
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: saved.tcpDataSplit ?? 'unknown', hdsThresh: saved.hdsThresh ?? 0 });
  };
}

/** Sends `bytes` of the pattern from the remote namespace to host:port. */
export function sendFromRemote(host: string, port: number, bytes: number, connections = 1): Promise<unknown> {
  return runRemote([process.execPath, SENDER, host, String(port), String(bytes), String(connections)], { timeoutMs: 240_000 });
}

/** Counts bytes that differ from the pattern, starting at stream position `pos`. */
export function mismatches(data: Uint8Array, pos: number): number {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== patternByte(pos + i)) bad++;
  return bad;
}

/** All of the local port's RX queues. */
export function allQueues(): number[] {
  return Array.from({ length: e2eEnv().queues }, (_, i) => i);
}

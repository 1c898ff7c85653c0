// Running `devmem nc` in the local namespace and `devmem peer` (the plain-TCP
// far end) in the remote one, both as the compiled CLI.
import type { ChildProcess } from 'node:child_process';

import * as assert from 'node:assert/strict';

import { readNicState, type NicState } from '../../../lib/index';
import { describeExit, type Exit } from '../../support/process';
import { LOCAL_CLI, startLocal } from '../../hw/local';
import { startInRemote } from './remote';

export type NcResult = Exit;

export interface NcProcess {
  child: { kill(signal?: NodeJS.Signals): void };
  /** Resolves once stderr contains `text`; rejects if the process ends first. */
  waitFor(text: string): Promise<void>;
  done: Promise<NcResult>;
}

/** `devmem nc ARGS` in the local namespace, through the hardware suite's runner. */
export function startNc(args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): NcProcess {
  const run = startLocal(['nc', ...args], options.input, options.timeoutMs, options.env);
  return { child: { kill: (s) => run.kill(s) }, waitFor: run.waitFor, done: run.done };
}

export function runNc(args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<NcResult> {
  return startNc(args, options).done;
}

/** Starts `devmem peer ARGS` in the remote namespace; it exits on its own when its mode is done. */
export function startPeer(args: string[]): { child: ChildProcess; done: Promise<NcResult> } {
  return startInRemote([...LOCAL_CLI, 'peer', ...args]);
}

export const describeRun = (r: NcResult): string => describeExit(r);

/** Where {@link ncReceive}'s peer sends from and what. */
export interface PeerSend {
  /** The address and port nc listens on (its -s and -p). */
  host: string;
  port: number;
  /** The remote address the peer binds to. */
  from: string;
  /** Bytes of ncdevmem's pattern for `period` (as with -v period). */
  bytes: number;
  period: number;
}

/**
 * `devmem nc -l -s HOST -p PORT ARGS` fed by `devmem peer send` from the remote
 * netns; resolves with nc's exit once both have ended (the peer is stopped if
 * nc ended first, as it does on a mismatch).
 */
export async function ncReceive(args: string[], send: PeerSend, env?: NodeJS.ProcessEnv): Promise<NcResult> {
  const nc = startNc(['-l', '-s', send.host, '-p', String(send.port), ...args], env ? { env } : {});
  await nc.waitFor('waiting for a connection');
  const port = String(send.port);
  const peer = startPeer([
    'send',
    '--host',
    send.host,
    '--port',
    port,
    '--bind',
    send.from,
    '--bytes',
    String(send.bytes),
    '--pattern',
    String(send.period),
  ]);
  const r = await nc.done;
  peer.child.kill();
  await peer.done;
  return r;
}

/**
 * Registers hooks that read the NIC state of `iface` before each test of the
 * calling suite and fail the test if it differs afterwards: every run,
 * whatever its outcome, leaves the NIC as it found it. `state()` is the
 * reading taken before the current test.
 */
export function checkNicStateKept(iface: string): { state(): NicState } {
  let before: NicState | undefined;
  beforeEach(async () => {
    before = await readNicState(iface);
  });
  afterEach(async function () {
    assert.deepEqual(await readNicState(iface), before, `NIC state changed by "${this.currentTest?.title}"`);
  });
  return {
    state: () => {
      if (!before) throw new Error('checkNicStateKept: no state read yet (call state() inside a test)');
      return before;
    },
  };
}

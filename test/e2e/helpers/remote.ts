// Running commands in the remote network namespace (DEVMEM_E2E_NETNS_REMOTE) from a test,
// which itself runs in the local one: `ip netns exec <remote> argv...`, through the
// shared process helper (test/support/process.ts).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

import { run, start, type Exit, type Started } from '../../support/process';
import { e2eEnv } from './env.js';

/** The argv that runs `argv` in the remote netns. */
export function remoteArgv(argv: readonly string[]): string[] {
  if (argv.length === 0) throw new Error('remoteArgv: empty command');
  return ['ip', 'netns', 'exec', e2eEnv().netnsRemote, ...argv];
}

/** Starts `argv` in the remote netns without collecting anything; the caller owns the child (stdio piped by default). */
export function spawnRemote(argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const [cmd, ...args] = remoteArgv(argv);
  return spawn(cmd!, args, { stdio: 'pipe', ...options });
}

export type RemoteResult = Exit;

export interface RunRemoteOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string | Buffer;
  /** Kill the command (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Reject unless the command exits 0 (default true). */
  check?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Runs `argv` in the remote netns to completion and collects its output. */
export function runRemote(argv: readonly string[], options: RunRemoteOptions = {}): Promise<RemoteResult> {
  const { timeoutMs = 60_000, check = true, ...rest } = options;
  return run(remoteArgv(argv), { ...rest, timeoutMs, check, label: 'remote command' });
}

/** Starts `argv` in the remote netns with its output collected (no time limit unless given). */
export function startInRemote(argv: readonly string[], options: { timeoutMs?: number } = {}): Started {
  return start(remoteArgv(argv), { ...options, label: argv.join(' ') });
}

/** A long-running process in the remote netns that prints "listening" on a line of its own first and one JSON line when it is done. */
export interface RemoteServer {
  child: ChildProcess;
  /** Resolves once the process printed "listening" (or, without that, ended with a result). */
  ready: Promise<void>;
  /** The JSON object of its last line, once it exits. */
  result: Promise<Record<string, unknown>>;
}

export function startRemote(argv: string[], timeoutMs = 240_000): RemoteServer {
  const p = startInRemote(argv, { timeoutMs });
  const result = p.done.then((r) => {
    const last = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(last) as Record<string, unknown>;
    } catch {
      throw new Error(`remote process exited ${r.code ?? r.signal} without a result: ${r.stdout}\n${r.stderr}`);
    }
  });
  // Racing the end keeps a rejected result handled when nobody awaits it (a killed server).
  const ended = result.then(() => undefined);
  const ready = Promise.race([p.waitFor('listening\n', 'stdout').catch(() => ended), ended]);
  return { child: p.child, ready, result };
}

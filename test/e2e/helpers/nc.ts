// Running `devmem nc` in the local namespace and `devmem peer` (the plain-TCP
// far end) in the remote one, both as the compiled CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import { spawnRemote } from './remote';

const ROOT = path.resolve(__dirname, '../../..');
export const CLI = path.join(ROOT, 'dist/bin/devmem.js');

export interface NcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface NcProcess {
  child: ChildProcess;
  /** Resolves with stderr so far once it contains `text`. */
  waitFor(text: string | RegExp): Promise<string>;
  done: Promise<NcResult>;
}

export function startNc(args: string[], options: { input?: string; timeoutMs?: number } = {}): NcProcess {
  // The compiled CLI (scripts/vm compiles dist/ before booting): tsx would
  // add seconds per process over the guest's 9p root.
  const child = spawn(process.execPath, [CLI, 'nc', ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { test: string | RegExp; resolve(s: string): void }[] = [];
  const matches = (t: string | RegExp) => (typeof t === 'string' ? stderr.includes(t) : t.test(stderr));
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
    for (const w of waiters.splice(0)) {
      if (matches(w.test)) w.resolve(stderr);
      else waiters.push(w);
    }
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const done = new Promise<NcResult>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    child,
    done,
    waitFor: (test) =>
      matches(test)
        ? Promise.resolve(stderr)
        : new Promise<string>((resolve, reject) => {
            waiters.push({ test, resolve });
            void done.then((r) => reject(new Error(`devmem nc exited (${r.code ?? r.signal}) before printing ${String(test)}:\n${r.stderr}`)));
          }),
  };
}

export function runNc(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<NcResult> {
  return startNc(args, options).done;
}

/** Starts `devmem peer ARGS` in the remote namespace; it exits on its own when its mode is done. */
export function startPeer(args: string[]): { child: ChildProcess; done: Promise<NcResult> } {
  const child = spawnRemote([process.execPath, CLI, 'peer', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<NcResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function describeRun(r: NcResult): string {
  return `exit ${r.code ?? r.signal}\n--- stderr\n${r.stderr}`;
}

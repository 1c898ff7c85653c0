// Running this checkout's compiled CLI on the local end.
import { spawn } from 'node:child_process';
import * as path from 'node:path';

import type { Done } from './remote';

export const ROOT = path.resolve(__dirname, '../..');
export const LOCAL_CLI = [process.execPath, path.join(ROOT, 'dist/bin/devmem.js')];

export interface LocalRun {
  /** Resolves once stderr contains `text`; rejects if the process ends first. */
  waitFor(text: string): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  done: Promise<Done>;
}

export function startLocal(args: string[], input?: string, timeoutMs = 120_000): LocalRun {
  const [bin, ...pre] = LOCAL_CLI;
  const child = spawn(bin!, [...pre, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve(): void }[] = [];
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
    for (const w of waiters.splice(0)) (stderr.includes(w.text) ? w.resolve : () => waiters.push(w))();
  });
  child.stdin!.end(input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Done>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    done,
    kill: (s = 'SIGTERM') => child.kill(s),
    waitFor: (text) =>
      stderr.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ text, resolve });
            void done.then((r) => reject(new Error(`devmem exited (${r.code ?? r.signal}) before "${text}":\n${r.stderr}`)));
          }),
  };
}

export function runLocal(args: string[], input?: string, timeoutMs?: number): Promise<Done> {
  return startLocal(args, input, timeoutMs).done;
}

/** The last stderr lines, for a failure report. */
export function tail(d: Done, lines = 12): string {
  return `exit ${d.code ?? d.signal}\n${d.stderr.trim().split('\n').slice(-lines).join('\n')}`;
}

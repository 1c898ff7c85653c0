// A long-running process in the remote namespace that announces "listening"
// on its first line and reports one JSON line when it is done.
import type { ChildProcess } from 'node:child_process';

import { spawnRemote } from './remote';

export interface RemoteProcess {
  child: ChildProcess;
  /** Resolves once the process printed "listening". */
  ready: Promise<void>;
  /** The JSON object of its last line, once it exits. */
  result: Promise<Record<string, unknown>>;
}

export function startRemote(argv: string[], timeoutMs = 240_000): RemoteProcess {
  const child = spawnRemote(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    if (out.includes('listening\n')) onReady();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`remote process exited ${code} without a result: ${out}\n${err}`));
      }
    });
  });
  return { child, ready: Promise.race([ready, result.then(() => undefined)]), result };
}

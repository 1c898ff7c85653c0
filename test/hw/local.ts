// Running this checkout's compiled CLI on the local end.
import * as path from 'node:path';

import { describeExit, run, start, type Started } from '../support/process';
import type { Done } from './remote';

export const ROOT = path.resolve(__dirname, '../..');
export const LOCAL_CLI = [process.execPath, path.join(ROOT, 'dist/bin/devmem.js')];

/** `devmem ARGS`, killed after `timeoutMs`; `waitFor(text)` waits for text on its stderr. */
export type LocalRun = Started;

export function startLocal(args: string[], input?: string, timeoutMs = 120_000, env?: NodeJS.ProcessEnv): LocalRun {
  return start([...LOCAL_CLI, ...args], { input: input ?? '', timeoutMs, label: 'devmem', ...(env ? { env } : {}) });
}

export function runLocal(args: string[], input?: string, timeoutMs = 120_000): Promise<Done> {
  return run([...LOCAL_CLI, ...args], { input: input ?? '', timeoutMs, label: 'devmem' });
}

/** The last stderr lines, for a failure report. */
export function tail(d: Done, lines = 12): string {
  return describeExit(d, lines);
}

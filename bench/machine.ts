/** What the numbers were measured on, printed with every report. */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';

import { packageRoot } from '../lib/internal';

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  loadAverage: number[];
  /** The checkout's commit, when run from a git clone (and `+` if it has changes). */
  commit?: string;
}

function commit(): string | undefined {
  const git = (args: string[]) => spawnSync('git', ['-C', packageRoot, ...args], { encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head.status !== 0) return undefined;
  const dirty = git(['status', '--porcelain', '--untracked-files=no']).stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '+' : ''}`;
}

export function machine(): Machine {
  const at = commit();
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    kernel: os.release(),
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    ...(at ? { commit: at } : {}),
  };
}

export function describeMachine(m: Machine): string {
  return (
    `${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}, load average ${m.loadAverage.join(' ')} at start` +
    `${m.commit ? `, commit ${m.commit}` : ''}`
  );
}

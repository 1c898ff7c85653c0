// Commands on the remote end: `ip netns exec NS` or `ssh REMOTE_ARGS`, the
// two REMOTE_TYPEs of the kernel's driver tests. Commands are argv arrays;
// over ssh they are quoted for the remote shell.
import { spawn, type ChildProcess } from 'node:child_process';

import type { HwConfig } from './config';

export interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export class Remote {
  constructor(readonly config: HwConfig) {}

  argv(cmd: readonly string[]): string[] {
    if (this.config.remoteType === 'netns') return ['ip', 'netns', 'exec', this.config.remoteArgs, ...cmd];
    return ['ssh', ...this.config.remoteArgs.split(/\s+/).filter(Boolean), cmd.map(shellQuote).join(' ')];
  }

  spawn(cmd: readonly string[]): { child: ChildProcess; done: Promise<Done> } {
    const [bin, ...args] = this.argv(cmd);
    const child = spawn(bin!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const done = new Promise<Done>((resolve) => {
      child.on('error', (e) => resolve({ code: 127, signal: null, stdout, stderr: `${stderr}${e.message}` }));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    return { child, done };
  }

  run(cmd: readonly string[]): Promise<Done> {
    return this.spawn(cmd).done;
  }

  async has(program: string): Promise<boolean> {
    return (await this.run(['sh', '-c', `command -v ${shellQuote(program)}`])).code === 0;
  }
}

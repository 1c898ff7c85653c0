// Commands on the remote end: `ip netns exec NS` or `ssh REMOTE_ARGS`, the
// two REMOTE_TYPEs of the kernel's driver tests. Commands are argv arrays;
// over ssh they are quoted for the remote shell.
import { run, start, type Exit, type Started } from '../support/process';
import type { HwConfig } from './config';

export type Done = Exit;

function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export class Remote {
  constructor(readonly config: HwConfig) {}

  argv(cmd: readonly string[]): string[] {
    if (this.config.remoteType === 'netns') return ['ip', 'netns', 'exec', this.config.remoteArgs, ...cmd];
    return ['ssh', ...this.config.remoteArgs.split(/\s+/).filter(Boolean), cmd.map(shellQuote).join(' ')];
  }

  /** Starts `cmd` on the remote end with its output collected; a command that cannot start ends with code 127. */
  spawn(cmd: readonly string[]): Started {
    return start(this.argv(cmd), { label: cmd.join(' ') });
  }

  run(cmd: readonly string[]): Promise<Done> {
    return run(this.argv(cmd), { label: cmd.join(' ') });
  }

  async has(program: string): Promise<boolean> {
    return (await this.run(['sh', '-c', `command -v ${shellQuote(program)}`])).code === 0;
  }
}

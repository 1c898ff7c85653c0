// Running commands in the remote network namespace (DEVMEM_E2E_NETNS_REMOTE) from a test,
// which itself runs in the local one: `ip netns exec <remote> argv...`.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { e2eEnv } from './env.js';

/** The argv that runs `argv` in the remote netns. */
export function remoteArgv(argv: readonly string[]): string[] {
  if (argv.length === 0) throw new Error('remoteArgv: empty command');
  return ['ip', 'netns', 'exec', e2eEnv().netnsRemote, ...argv];
}

/** Starts `argv` in the remote netns; the caller owns the child (stdio piped by default). */
export function spawnRemote(argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const [cmd, ...args] = remoteArgv(argv);
  return spawn(cmd!, args, { stdio: 'pipe', ...options });
}

export interface RemoteResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

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
  const { input, timeoutMs = 60_000, check = true, env } = options;
  return new Promise((resolve, reject) => {
    const child = spawnRemote(argv, { env: env ?? process.env });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => stdout.push(b));
    child.stderr!.on('data', (b: Buffer) => stderr.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = {
        code,
        signal,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
      };
      if (check && code !== 0) {
        const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms?)` : ''}` : `exit ${code}`;
        reject(new Error(`remote command failed (${why}): ${argv.join(' ')}\n${result.stderr.trim()}`));
        return;
      }
      resolve(result);
    });
    child.stdin!.on('error', () => {
      /* the command may exit without reading its input; the exit status tells */
    });
    child.stdin!.end(input);
  });
}

/**
 * Child processes for the tests, the one way: spawn an argv, collect its
 * stdout and stderr as text, wait for it to exit, kill it after a timeout.
 * Shared by the host suite, the guest suite (test/e2e, through its remote
 * netns wrappers) and the hardware suite (test/hw).
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** How a process ended, with everything it printed. */
export interface Exit {
  /** The exit status; null when a signal ended it; 127 when it could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Whether the timeout killed it (with SIGKILL). */
  timedOut: boolean;
}

export interface StartOptions {
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer;
  /** SIGKILL the process after this long; without it, no limit. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Names the process in error messages; default argv[0]. */
  label?: string;
}

export interface RunOptions extends StartOptions {
  /** Reject unless the process exits 0. */
  check?: boolean;
}

export interface Started {
  child: ChildProcess;
  /** Resolves once the process has exited and its output is closed; never rejects. */
  done: Promise<Exit>;
  /** What it printed so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once `stream` (stderr by default) contains `text`; rejects if the process ends first. */
  waitFor(text: string, stream?: 'stdout' | 'stderr'): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `argv` with its output collected. */
export function start(argv: readonly string[], options: StartOptions = {}): Started {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('start: empty command');
  const { input, timeoutMs, env, cwd, label = cmd } = options;
  const child = spawn(cmd, args, {
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(env ? { env } : {}),
    ...(cwd ? { cwd } : {}),
  });
  const out = { stdout: '', stderr: '' };
  const waiters: { text: string; stream: 'stdout' | 'stderr'; resolve(): void }[] = [];
  const collect = (stream: 'stdout' | 'stderr') => (d: string) => {
    out[stream] += d;
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.stream === stream && out[stream].includes(w.text)) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', collect('stdout'));
  child.stderr!.setEncoding('utf8').on('data', collect('stderr'));
  if (input !== undefined) {
    child.stdin!.on('error', () => {
      /* the process may exit without reading its input; its exit status tells */
    });
    child.stdin!.end(input);
  }
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeoutMs);
  const done = new Promise<Exit>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null, stderr = out.stderr) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out.stdout, stderr, timedOut });
    };
    // Only a failed start ends the process here; a failed kill leaves it running.
    child.on('error', (e) => {
      if (child.pid === undefined) finish(127, null, `${out.stderr}${e.message}`);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
  return {
    child,
    done,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
    waitFor: (text, stream = 'stderr') =>
      out[stream].includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ text, stream, resolve });
            void done.then((r) =>
              reject(
                new Error(
                  `${label} exited (${r.code ?? r.signal}) before "${text}" on ${stream}:\n${stream === 'stdout' ? `${r.stdout}\n` : ''}${r.stderr}`,
                ),
              ),
            );
          }),
  };
}

/** Runs `argv` to its end; with `check`, rejects unless it exits 0. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<Exit> {
  const { check = false, ...startOptions } = options;
  const r = await start(argv, startOptions).done;
  if (check && r.code !== 0) {
    const why = r.timedOut ? `killed after ${startOptions.timeoutMs} ms` : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
    throw new Error(`${startOptions.label ?? 'command'} failed (${why}): ${argv.join(' ')}\n${r.stderr.trim()}`);
  }
  return r;
}

/** How it ended and what it said on stderr (its last `lines` lines, when given), for a failure message. */
export function describeExit(r: Exit, lines?: number): string {
  const stderr = lines === undefined ? r.stderr : r.stderr.trim().split('\n').slice(-lines).join('\n');
  return `exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}\n--- stderr\n${stderr}`;
}

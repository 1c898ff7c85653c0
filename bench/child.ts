/**
 * Child processes of the benchmark. Every receiver runs in a process of its
 * own, so its CPU time is its own; receivers print `port N` once listening
 * and one JSON line of results at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';

/** argv that runs one of bench/receivers/*.ts (compiled .js, or the .ts through tsx). */
export function receiverArgv(name: string, args: string[] = []): string[] {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, 'receivers', `${name}${ext}`);
  return [process.execPath, ...(ext === '.ts' ? ['--import=tsx'] : []), file, ...args];
}

export interface Started {
  child: ChildProcess;
  port: Promise<number>;
  /** The last JSON line the child printed, once it exited 0. */
  result: Promise<Record<string, number>>;
}

/**
 * Starts argv and follows the `port N` / JSON-line protocol on its stdout.
 * Its stderr is passed on, less the lines `quiet` matches (perf stat's
 * "Events enabled" notes, say).
 */
export function start(argv: string[], env: NodeJS.ProcessEnv = process.env, quiet?: RegExp): Started {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'], env });
  if (quiet)
    readline.createInterface({ input: child.stderr! }).on('line', (line) => {
      if (!quiet.test(line)) process.stderr.write(`${line}\n`);
    });
  const lines = readline.createInterface({ input: child.stdout! });
  let last: string | undefined;
  let gotPort: (p: number) => void;
  let noPort: (e: Error) => void;
  const port = new Promise<number>((res, rej) => {
    gotPort = res;
    noPort = rej;
  });
  lines.on('line', (line) => {
    const m = /^port (\d+)$/.exec(line);
    if (m) gotPort(Number(m[1]));
    else if (line.startsWith('{')) last = line;
  });
  const result = new Promise<Record<string, number>>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      noPort(new Error(`${argv.join(' ')} exited before listening`));
      if (code === 0 && last) resolve(JSON.parse(last) as Record<string, number>);
      else reject(new Error(`${path.basename(argv[1] ?? argv[0]!)} failed (exit ${code ?? signal})`));
    });
  });
  port.catch(() => undefined);
  return { child, port, result };
}

/**
 * The CUDA test double (cuda-double/libcuda.c): a stand-in for NVIDIA's
 * libcuda.so.1, built by the tests with the system C compiler. It is a double
 * of a third-party library, not of the kernel: its "device memory" is a memfd
 * exported through the kernel's real udmabuf. See its header for what it can
 * and cannot prove.
 *
 * The addon dlopens libcuda.so.1 once per process through the loader's path,
 * so each scenario runs in a child process with LD_LIBRARY_PATH pointing here.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { run, type Exit } from './process';

const SOURCE = path.join(__dirname, 'cuda-double', 'libcuda.c');

/** Builds the double once per source version; returns the directory holding libcuda.so.1. */
export function buildCudaDouble(): string {
  const source = fs.readFileSync(SOURCE);
  const dir = path.join(os.tmpdir(), `devmem-cuda-double-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  const lib = path.join(dir, 'libcuda.so.1');
  if (fs.existsSync(lib)) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${lib}.${process.pid}`;
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-Wextra', '-Werror', '-o', tmp, SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the CUDA test double: ${r.error?.message ?? r.stderr}`);
  fs.renameSync(tmp, lib);
  return dir;
}

/** One scenario's outcome: what the child printed as JSON, and the double's call log. */
export interface DoubleRun {
  result: Record<string, unknown>;
  log: string[];
  exit: Exit;
}

/**
 * Runs `node --import tsx script` with the double on the loader path and the
 * given knobs (CUDA_DOUBLE_*); the script prints one JSON object last.
 */
export async function runWithCudaDouble(script: string, args: string[], knobs: Record<string, string> = {}): Promise<DoubleRun> {
  const dir = buildCudaDouble();
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-cuda-log-')), 'calls.log');
  const env = { ...process.env, LD_LIBRARY_PATH: dir, CUDA_DOUBLE_LOG: log, ...knobs };
  const exit = await run([process.execPath, '--import', 'tsx', script, ...args], { env, timeoutMs: 240_000, label: path.basename(script) });
  const lines = exit.stdout.trim().split('\n');
  let result: Record<string, unknown> = {};
  try {
    result = JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
  } catch {
    throw new Error(`${path.basename(script)} printed no JSON result (exit ${exit.code}): ${exit.stderr.slice(-2000)}`);
  }
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  fs.rmSync(path.dirname(log), { recursive: true, force: true });
  return { result, log: calls, exit };
}

/** The double's last log line: what was still allocated and retained at exit. */
export function leftAtExit(log: string[]): string | undefined {
  return [...log].reverse().find((l) => l.startsWith('exit '));
}

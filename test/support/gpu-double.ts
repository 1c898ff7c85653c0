/**
 * The GPU library test doubles: stand-ins for NVIDIA's libcuda.so.1
 * (gpu-doubles/libcuda.c) and AMD's libhsa-runtime64.so.1
 * (gpu-doubles/libhsa-runtime64.c), built by the tests with the system C
 * compiler. They are doubles of third-party libraries, not of the kernel:
 * their "device memory" is a memfd exported through the kernel's real udmabuf.
 * See each source's header for what it can and cannot prove.
 *
 * The addon dlopens each library once per process through the loader's path,
 * so each scenario runs in a child process with LD_LIBRARY_PATH pointing here.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { run, type Exit } from './process';

/** Which double: the library file it stands in for, its source, and its log knob. */
const DOUBLES = {
  cuda: { library: 'libcuda.so.1', source: 'gpu-doubles/libcuda.c', log: 'CUDA_DOUBLE_LOG' },
  rocm: { library: 'libhsa-runtime64.so.1', source: 'gpu-doubles/libhsa-runtime64.c', log: 'HSA_DOUBLE_LOG' },
} as const;
export type GpuDouble = keyof typeof DOUBLES;

/** Builds a double once per source version; returns the directory holding the library. */
export function buildDouble(kind: GpuDouble): string {
  const d = DOUBLES[kind];
  const source = path.join(__dirname, d.source);
  // The cache key covers the shared header as well as the double's own source.
  const text = Buffer.concat([fs.readFileSync(source), fs.readFileSync(path.join(__dirname, 'gpu-doubles', 'common.h'))]);
  const dir = path.join(os.tmpdir(), `devmem-${kind}-double-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`);
  const lib = path.join(dir, d.library);
  if (fs.existsSync(lib)) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${lib}.${process.pid}`;
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-Wextra', '-Werror', '-o', tmp, source], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the ${kind} test double: ${r.error?.message ?? r.stderr}`);
  fs.renameSync(tmp, lib);
  return dir;
}

/** The CUDA double's directory. */
export const buildCudaDouble = (): string => buildDouble('cuda');

/** One scenario's outcome: what the child printed as JSON, and the double's call log. */
export interface DoubleRun {
  result: Record<string, unknown>;
  log: string[];
  exit: Exit;
}

/**
 * Runs `node --import tsx script` with the double on the loader path and the
 * given knobs (CUDA_DOUBLE_*, HSA_DOUBLE_*); the script prints one JSON object last.
 */
export async function runWithDouble(
  kind: GpuDouble,
  script: string,
  args: string[],
  knobs: Record<string, string> = {},
): Promise<DoubleRun> {
  const dir = buildDouble(kind);
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `devmem-${kind}-log-`)), 'calls.log');
  const env = { ...process.env, LD_LIBRARY_PATH: dir, [DOUBLES[kind].log]: log, ...knobs };
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

/** runWithDouble('cuda', ...). */
export const runWithCudaDouble = (script: string, args: string[], knobs: Record<string, string> = {}): Promise<DoubleRun> =>
  runWithDouble('cuda', script, args, knobs);

/** A double's last log line: what was still allocated (and retained or exported) at exit. */
export function leftAtExit(log: string[]): string | undefined {
  return [...log].reverse().find((l) => l.startsWith('exit '));
}

/**
 * Builds the C reference program (bench/c/devmem_bench.c) with the system C
 * compiler, once per source change. It lives under node_modules/.cache:
 * ignored by git, kept by node-gyp rebuild (which empties build/), and
 * visible at the same path inside the guest lab.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { packageRoot } from '../lib/internal';

export const C_SOURCE = path.join(packageRoot, 'bench', 'c', 'devmem_bench.c');
export const C_BINARY = path.join(packageRoot, 'node_modules', '.cache', 'devmem-bench', 'devmem_bench');

/** Path of the C reference, compiled now if missing or older than its source. */
export function buildCReference(): string {
  const stale = !fs.existsSync(C_BINARY) || fs.statSync(C_BINARY).mtimeMs < fs.statSync(C_SOURCE).mtimeMs;
  if (stale) {
    fs.mkdirSync(path.dirname(C_BINARY), { recursive: true });
    const cc = process.env.CC ?? 'cc';
    execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-o', C_BINARY, C_SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return C_BINARY;
}

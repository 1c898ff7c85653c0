/**
 * Builds the C reference programs with the system C compiler, once per
 * source change: bench/c/devmem_bench.c (the devmem loops, the sender, the
 * pipeline) and, where liburing 2.9+ is installed, bench/c/zcrx_bench.c (the
 * io_uring zcrx loop, liburing linked statically as the addon links it).
 * They live under node_modules/.cache: ignored by git, kept by node-gyp
 * rebuild (which empties build/), and visible at the same path inside the
 * guest lab, which cannot compile them (its root is the host's, read-only).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { packageRoot } from '../lib/internal';

const CACHE = path.join(packageRoot, 'node_modules', '.cache', 'devmem-bench');

export const C_SOURCE = path.join(packageRoot, 'bench', 'c', 'devmem_bench.c');
export const C_BINARY = path.join(CACHE, 'devmem_bench');
export const ZCRX_SOURCE = path.join(packageRoot, 'bench', 'c', 'zcrx_bench.c');
export const ZCRX_BINARY = path.join(CACHE, 'zcrx_bench');

function stale(binary: string, source: string): boolean {
  return !fs.existsSync(binary) || fs.statSync(binary).mtimeMs < fs.statSync(source).mtimeMs;
}

function compile(binary: string, args: string[]): void {
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const cc = process.env.CC ?? 'cc';
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-o', binary, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Path of the C reference, compiled now if missing or older than its source. */
export function buildCReference(): string {
  if (stale(C_BINARY, C_SOURCE)) compile(C_BINARY, [C_SOURCE]);
  return C_BINARY;
}

/**
 * liburing.a as the addon's build finds it (scripts/find-liburing.cjs, which
 * binding.gyp runs too), or '' when there is none of 2.9 or later.
 */
function findLiburing(): string {
  const finder = path.join(packageRoot, 'scripts', 'find-liburing.cjs');
  if (!fs.existsSync(finder)) return '';
  return execFileSync(process.execPath, [finder], { encoding: 'utf8' }).trim();
}

/**
 * The C zcrx reference, compiled now if missing or older than its source;
 * or, where it cannot be built (no liburing 2.9+ on the build host), why.
 * Compiled as the addon's zcrx code is: liburing.a linked in, and
 * native/uapi/compat after the system headers (liburing 2.9's compat.h
 * includes <linux/blkdev.h>, which 6.1 uapi headers lack).
 */
export function buildZcrxReference(): { path: string } | { reason: string } {
  if (!stale(ZCRX_BINARY, ZCRX_SOURCE)) return { path: ZCRX_BINARY };
  const lib = findLiburing();
  if (!lib) return { reason: 'no liburing 2.9 or later (liburing-dev) on the build host, or DEVMEM_TCP_NO_LIBURING is set' };
  compile(ZCRX_BINARY, ['-idirafter', path.join(packageRoot, 'native', 'uapi', 'compat'), ZCRX_SOURCE, lib]);
  return { path: ZCRX_BINARY };
}

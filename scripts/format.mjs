#!/usr/bin/env node
// @ts-check
// `npm run format`: Prettier over the TypeScript and JavaScript (.prettierrc.json),
// clang-format over the C++ (.clang-format). With --check (what `npm test` and
// `npm run check` run) it changes nothing and fails on any difference. clang-format
// comes from Debian's clang-format package, installed only with --install.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { allowInstall, ensurePackages } from './vm/lib/apt.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const check = args.has('--check');
allowInstall(args.has('--install'));

/** The C++ the project owns: the addon, the fuzz targets and the native tests. */
const CPP_DIRS = ['native', 'fuzz', 'test/native'];

/**
 * @param {string} dir
 * @returns {string[]}
 */
function cppFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...cppFiles(p));
    else if (/\.(cc|h)$/.test(name)) out.push(relative(root, p));
  }
  return out;
}

/**
 * @param {string} cmd
 * @param {string[]} argv
 * @returns {boolean}
 */
function runs(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.error) console.error(`${cmd}: ${r.error.message}${cmd === 'clang-format' ? ' (Debian package clang-format)' : ''}`);
  return r.status === 0;
}

let ok = runs('npx', ['prettier', check ? '--check' : '--write', '--log-level', 'warn', '.']);
if (check && !ok) console.error('TypeScript/JavaScript formatting differs from Prettier: run `npm run format`');

try {
  await ensurePackages(['clang-format']);
  const files = CPP_DIRS.flatMap((d) => cppFiles(join(root, d))).sort();
  const cpp = runs('clang-format', check ? ['--dry-run', '-Werror', ...files] : ['-i', ...files]);
  if (check && !cpp) console.error('C++ formatting differs from .clang-format: run `npm run format`');
  ok &&= cpp;
} catch (e) {
  console.error(`format: ${/** @type {Error} */ (e).message}`);
  ok = false;
}
process.exitCode = ok ? 0 : 1;

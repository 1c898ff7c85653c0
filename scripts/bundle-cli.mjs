#!/usr/bin/env node
// @ts-check
// Bundles the compiled command line (dist/bin/cli.js and what it requires
// from dist/) into dist/cli/devmem.bundle.js, which bin/devmem.ts runs through
// V8's code cache (see there for why). The addon stays outside: node-gyp-build
// finds it at run time. Old code caches go, since V8 would reject them anyway.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist/cli');
fs.mkdirSync(outDir, { recursive: true });
for (const f of fs.readdirSync(outDir)) if (f.endsWith('.cache')) fs.rmSync(path.join(outDir, f));
await build({
  entryPoints: [path.join(root, 'dist/bin/cli.js')],
  outfile: path.join(outDir, 'devmem.bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['node-gyp-build'],
  logLevel: 'warning',
});

#!/usr/bin/env node
/**
 * The `devmem` executable. It runs the command line from one bundled file
 * (dist/cli/devmem.bundle.js, built by scripts/bundle-cli.mjs) through V8's
 * code cache, one cache per subcommand beside the bundle, written by the
 * first run of that subcommand that can write there.
 *
 * Why: test harnesses start `devmem nc` and give its listener a few seconds
 * (the kernel's selftests allow 5 s), and on an emulated guest compiling the
 * modules is a large part of Node's share of that. Without the bundle (a
 * plain `tsc` build, or tsx) the modules load as usual.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

const SUBCOMMANDS = new Set(['nc', 'probe', 'bench', 'peer']);
const bundleDir = path.join(__dirname, '..', 'cli');
const bundle = path.join(bundleDir, 'devmem.bundle.js');

interface Cli {
  run(): void;
}

function cacheFile(): string {
  const first = process.argv[2];
  return path.join(bundleDir, `devmem.${first && SUBCOMMANDS.has(first) ? first : 'default'}.cache`);
}

// Best effort: a read-only install (or the guest's read-only share) keeps
// compiling, and of two concurrent writers one rename wins whole.
function writeCache(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}

function loadBundle(): Cli | undefined {
  let source: string;
  try {
    // A bundle older than the compiled modules (tsc run without the bundler) is stale.
    if (fs.statSync(bundle).mtimeMs < fs.statSync(path.join(__dirname, 'cli.js')).mtimeMs) return undefined;
    source = fs.readFileSync(bundle, 'utf8');
  } catch {
    return undefined;
  }
  const file = cacheFile();
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(file);
  } catch {
    cachedData = undefined;
  }
  // CommonJS's own wrapper; the shebang line would not parse inside it.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source.replace(/^#!.*/, '')}\n})`;
  const script = new vm.Script(wrapped, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  // Made after the run, the cache also holds every function the run compiled.
  if (!cachedData || script.cachedDataRejected) process.once('exit', () => writeCache(file, script.createCachedData()));
  const mod = { exports: {} as Cli };
  (script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(bundle), mod, bundle, bundleDir);
  return mod.exports;
}

(loadBundle() ?? (require('./cli') as Cli)).run();

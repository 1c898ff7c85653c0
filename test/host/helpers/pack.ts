import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');

/** What `npm pack` made from a clean clone. */
export interface Packed {
  /** The tarball's absolute path. */
  tarball: string;
  /** The paths inside the package, as `npm pack --json` lists them. */
  files: string[];
  /** The tarball's size and the unpacked size, in bytes. */
  size: number;
  unpackedSize: number;
  /** The commit that was packed. */
  commit: string;
  /** The clean clone it was packed from, with its devDependencies installed (kept until the run ends). */
  clone: string;
  /** How long cloning, installing and packing took, in seconds. */
  seconds: number;
}

/** Runs npm (or another command) with the machine's Node headers for node-gyp, failing with its output. */
export function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr', ...env },
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

let packed: Packed | undefined;
let failed: Error | undefined;

/**
 * Packs the package as a release would, once per test run: a clean clone of
 * HEAD (what is not committed is not in it), `npm ci` with scripts off (a
 * clone has no prebuild, so the install script would compile), then
 * `npm pack`, whose prepack makes both prebuilds (scripts/prebuild/run.mjs,
 * which reuses the prebuilds cache when nothing they are made from changed).
 */
export function packFromCleanClone(): Packed {
  if (failed) throw failed;
  if (packed) return packed;
  try {
    packed = pack();
  } catch (err) {
    failed = err as Error; // the other package test fails the same way, without packing again
    throw err;
  }
  return packed;
}

function pack(): Packed {
  const t0 = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-pack-'));
  // Both package tests use the one tarball; it goes when the test run ends.
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const clone = path.join(dir, 'clone');
  sh('git', ['clone', '--quiet', '--no-hardlinks', root, clone], dir);
  sh('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], clone);
  const out = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', dir], clone)) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  const p = out[0]!;
  return {
    tarball: path.join(dir, p.filename),
    files: p.files.map((f) => f.path),
    size: p.size,
    unpackedSize: p.unpackedSize,
    commit: sh('git', ['rev-parse', 'HEAD'], clone).trim(),
    clone,
    seconds: (Date.now() - t0) / 1000,
  };
}

/**
 * The package tests load what the tarball ships; under DEVMEM_TCP_ADDON (the
 * sanitizer pass loads its own addon through it) they would not, so they skip there.
 */
export function skipUnderAddonOverride(ctx: Mocha.Context): void {
  if (process.env.DEVMEM_TCP_ADDON) {
    console.log('    (skipped: DEVMEM_TCP_ADDON names another addon; the package tests load the shipped prebuilds)');
    ctx.skip();
  }
}

#!/usr/bin/env node
// @ts-check
// `npm run prebuild` (and `prepack`): prebuilds/linux-x64/ and
// prebuilds/linux-arm64/ with prebuildify (--napi --strip, Node 20.19's
// headers from npm_config_nodedir), each linking liburing statically.
//
// The build runs in a scratch copy of binding.gyp and native/, never in the
// checkout's build/, which a developer's tests load at any time. arm64 is
// cross-compiled with Debian's g++-aarch64-linux-gnu against the arm64
// liburing of the cached arm64 root (arm64-root.mjs). Each .node file is
// checked: its machine, and the glibc it needs against GLIBC_FLOOR.
//
// Results are cached by what they are built from (sources, toolchain, liburing),
// so packing twice compiles once; --fresh ignores the cache.
//
//   --install   apt-install what is missing (liburing-dev, the cross compiler,
//               debootstrap, qemu-user-static); without it, refuse naming it
//   --arch A,B  only these (default x64,arm64)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureArm64Root, ARM64_HOST_PACKAGES } from './arm64-root.mjs';
import { GLIBC_FLOOR, compareVersions, elfNeeds } from './glibc.mjs';
import { allowInstall, ensurePackages } from '../vm/lib/apt.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const install = args.includes('--install');
const fresh = args.includes('--fresh');
const archIndex = args.indexOf('--arch');
const arches = (archIndex >= 0 ? (args[archIndex + 1] ?? '') : 'x64,arm64').split(',');
const cacheRoot = process.env.DEVMEM_VM_CACHE || join(homedir(), '.cache', 'devmem-tcp');
const MACHINE = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' };
/** The Node headers prebuildify builds against (N-API 8; the package's engines floor). */
const TARGET = '20.19.0';

// Everything goes to stderr, so that `npm pack --json` (which runs this as
// prepack) still prints nothing but its JSON on stdout.
/** @param {string} line */
const log = (line) => console.error(`prebuild: ${line}`);

/**
 * @param {string} message
 * @returns {never}
 */
function refuse(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

for (const a of arches) if (!(a in MACHINE)) refuse(`unknown architecture ${a}; this package prebuilds x64 and arm64`);
if (process.platform !== 'linux' || process.arch !== 'x64')
  refuse(`prebuilds are made on linux-x64, not ${process.platform}-${process.arch}`);
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
if (!env.npm_config_nodedir) refuse('set npm_config_nodedir to a Node 20 install with headers (include/node/node_api.h)');

const findLiburing = () =>
  execFileSync(process.execPath, [join(root, 'scripts/find-liburing.cjs')], {
    encoding: 'utf8',
    env: { ...env, DEVMEM_TCP_NO_LIBURING: '' },
  }).trim();

// ---- what each build needs --------------------------------------------------------
/** @typedef {{ liburing: string, include?: string, env: Record<string, string> }} Plan */
/** @type {Record<string, Plan>} */
const plan = {};
if (arches.includes('x64')) {
  let lib = findLiburing();
  if (!lib && install) {
    execFileSync(process.execPath, [join(root, 'scripts/build-deps.mjs'), '--install'], { stdio: ['ignore', 2, 2], env });
    lib = findLiburing();
  }
  if (!lib)
    refuse('no liburing 2.9 or later for linux-x64; install liburing-dev (trixie), or run `node scripts/prebuild/run.mjs --install`');
  plan.x64 = { liburing: lib, env: {} };
}
if (arches.includes('arm64')) {
  allowInstall(install);
  try {
    await ensurePackages(ARM64_HOST_PACKAGES);
  } catch (err) {
    refuse(`linux-arm64 needs ${ARM64_HOST_PACKAGES.join(', ')}: ${/** @type {Error} */ (err).message}`);
  }
  /** @type {import('./arm64-root.mjs').Arm64Root} */
  let arm;
  try {
    arm = await ensureArm64Root({ cacheRoot, install, log });
  } catch (err) {
    refuse(`linux-arm64 needs the arm64 root (its liburing): ${/** @type {Error} */ (err).message}`);
  }
  if (arm.built) log(`arm64 root made in ${arm.seconds.toFixed(1)} s`);
  const cross = 'aarch64-linux-gnu-';
  plan.arm64 = {
    liburing: arm.liburingA,
    include: arm.liburingInclude,
    env: {
      CC: `${cross}gcc`,
      CXX: `${cross}g++`,
      LINK: `${cross}g++`,
      AR: `${cross}ar`,
      DEVMEM_TCP_LIBURING: arm.liburingA,
    },
  };
}

// ---- the cache key: everything the .node files are made from -------------------------
/** @param {string} dir */
function filesUnder(dir) {
  /** @type {string[]} */
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}
const SOURCES = ['binding.gyp', 'scripts/find-liburing.cjs', 'node_modules/node-addon-api/package.json'];
/** @param {string} arch */
function key(arch) {
  const h = createHash('sha256');
  for (const f of [...SOURCES.map((s) => join(root, s)), ...filesUnder(join(root, 'native'))]) {
    h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  const p = /** @type {Plan} */ (plan[arch]);
  h.update(readFileSync(p.liburing));
  h.update(execFileSync(p.env.CXX ?? 'g++', ['--version'], { encoding: 'utf8' }));
  h.update(readFileSync(join(/** @type {string} */ (env.npm_config_nodedir), 'include/node/node_version.h')));
  h.update(`${arch} ${TARGET} strip napi`);
  return h.digest('hex').slice(0, 16);
}

// ---- build ------------------------------------------------------------------------
const scratch = mkdtempSync(join(tmpdir(), 'devmem-prebuild-'));
try {
  for (const arch of arches) {
    const p = /** @type {Plan} */ (plan[arch]);
    const cached = join(cacheRoot, 'prebuilds', key(arch), `linux-${arch}`, 'devmem-tcp.node');
    const t0 = Date.now();
    const fromCache = !fresh && existsSync(cached);
    if (!fromCache) {
      const src = join(scratch, arch);
      mkdirSync(join(src, 'scripts'), { recursive: true });
      for (const f of ['binding.gyp', 'package.json', 'scripts/find-liburing.cjs']) cpSync(join(root, f), join(src, f));
      cpSync(join(root, 'native'), join(src, 'native'), { recursive: true });
      symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'));
      /** @type {Record<string, string>} */
      const extra = {};
      if (p.include) {
        // liburing's headers alone from the arm64 root (its glibc headers are
        // trixie's, newer than the cross sysroot's libraries).
        const inc = join(src, 'deps/include');
        mkdirSync(inc, { recursive: true });
        cpSync(join(p.include, 'liburing.h'), join(inc, 'liburing.h'));
        cpSync(join(p.include, 'liburing'), join(inc, 'liburing'), { recursive: true });
        extra.CPPFLAGS = `-isystem ${inc}`;
        extra.DEVMEM_TCP_LIBURING_INCLUDE = inc;
      }
      log(`linux-${arch}: building in ${src} (liburing ${p.liburing})`);
      execFileSync(
        join(root, 'node_modules/.bin/prebuildify'),
        ['--napi', '--strip', '--target', TARGET, '--arch', arch, ...(arch === 'arm64' ? ['--strip-bin', 'aarch64-linux-gnu-strip'] : [])],
        { cwd: src, stdio: ['ignore', 2, 2], env: { ...env, JOBS: env.JOBS ?? '2', ...p.env, ...extra } },
      );
      const built = join(src, 'prebuilds', `linux-${arch}`, 'devmem-tcp.node');
      mkdirSync(dirname(cached), { recursive: true });
      cpSync(built, `${cached}.tmp`);
      renameSync(`${cached}.tmp`, cached);
    }
    const needs = elfNeeds(cached);
    if (needs.machine !== MACHINE[/** @type {'x64' | 'arm64'} */ (arch)]) refuse(`linux-${arch}: the addon is for ${needs.machine}`);
    const floor = /** @type {string} */ (GLIBC_FLOOR[arch]);
    if (compareVersions(needs.glibc, floor) > 0) {
      refuse(`linux-${arch}: the addon needs glibc ${needs.glibc}, above the stated floor ${floor} (scripts/prebuild/glibc.mjs, README)`);
    }
    const out = join(root, 'prebuilds', `linux-${arch}`);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    cpSync(cached, join(out, 'devmem-tcp.node'));
    log(
      `linux-${arch}: prebuilds/linux-${arch}/devmem-tcp.node (${needs.machine}; glibc ${needs.glibc}, GLIBCXX ${needs.glibcxx ?? 'none'}; ` +
        `${fromCache ? 'from the cache' : 'built'} in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// @ts-check
// The arm64 root: Debian trixie for arm64, unpacked on this (x86-64) host and
// cached beside the guest lab's kernels (<cache root>/arm64-root-trixie/). It
// serves two things:
//   - the arm64 liburing.a and headers the cross-compiled prebuild links
//     (trixie's liburing-dev 2.9, the release find-liburing.cjs requires);
//   - an arm64 Node (trixie's nodejs 20.19, N-API 9; bookworm's 18.20 is older
//     than the package's engines) that runs the packed tarball under
//     qemu-user, with no VM. The root carries its own qemu-aarch64, trixie's
//     static 10.0 (bookworm's 7.2 cannot even list /proc/self/fd for its guest).
// debootstrap --foreign downloads and unpacks the base system; the packages
// asked for (nodejs, liburing-dev and their dependencies) are then unpacked
// with dpkg-deb. No maintainer script runs: the second stage needs binfmt_misc,
// which is the host kernel's to configure, and running node needs none of them.
// ldconfig, run once under qemu, writes the loader's cache. In a container
// debootstrap links the root's /proc to the host's; a plain directory replaces
// the link, so that a proc mounted there is the guest's own.
//
// Like a kernel directory, the root only ever appears complete: it is made
// under a temporary name and renamed into place.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { allowInstall, debianMirror, download, ensureExtraSources, ensurePackages } from '../vm/lib/apt.mjs';
import { HarnessError } from '../vm/lib/errors.mjs';
import { run } from '../vm/lib/proc.mjs';

// Bump when what the root holds or how it is made changes: older roots are rebuilt.
export const ARM64_ROOT_FORMAT = 2; // 2: trixie's qemu-aarch64, a real /proc
export const ARM64_SUITE = 'trixie';
const PACKAGES = ['nodejs', 'liburing-dev'];
/** Where the root keeps its qemu-aarch64: `chroot <root> QEMU /usr/bin/node ...` runs arm64 Node. */
export const QEMU = '/usr/bin/qemu-aarch64';
/** Host packages the root and the cross build need. */
export const ARM64_HOST_PACKAGES = ['debootstrap', 'g++-aarch64-linux-gnu'];

/**
 * @typedef {object} Arm64Root
 * @property {string} dir
 * @property {string} nodeVersion
 * @property {string} liburingA the arm64 liburing.a
 * @property {string} liburingInclude the directory holding liburing.h
 * @property {boolean} built whether this call made it (false: from the cache)
 * @property {number} seconds how long making it took (0 from the cache)
 */

/** @param {string} cacheRoot */
export function arm64RootDir(cacheRoot) {
  return join(cacheRoot, `arm64-root-${ARM64_SUITE}`);
}

/**
 * @param {string} dir
 * @returns {{ format: number, nodeVersion: string } | undefined}
 */
function readStamp(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'stamp.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * @param {string} dir
 * @param {string} nodeVersion
 * @param {boolean} built
 * @param {number} seconds
 * @returns {Arm64Root}
 */
function describe(dir, nodeVersion, built, seconds) {
  return {
    dir,
    nodeVersion,
    liburingA: join(dir, 'root/usr/lib/aarch64-linux-gnu/liburing.a'),
    liburingInclude: join(dir, 'root/usr/include'),
    built,
    seconds,
  };
}

/**
 * The cached root, made first if it is missing or stale. With install, the host
 * packages it needs are apt-installed; without, their absence is an error naming them.
 * @param {{ cacheRoot: string, install: boolean, log?: (line: string) => void }} opts
 * @returns {Promise<Arm64Root>}
 */
export async function ensureArm64Root({ cacheRoot, install, log = console.log }) {
  const dir = arm64RootDir(cacheRoot);
  const stamp = readStamp(dir);
  if (stamp?.format === ARM64_ROOT_FORMAT && existsSync(join(dir, 'root', QEMU))) return describe(dir, stamp.nodeVersion, false, 0);

  allowInstall(install);
  ensureExtraSources();
  await ensurePackages(ARM64_HOST_PACKAGES);
  if (process.getuid?.() !== 0) throw new HarnessError(`making the arm64 root (${dir}) needs root: debootstrap and chroot`);
  const t0 = Date.now();
  const tmp = mkdtempSync(`${dir}.tmp-`);
  try {
    const root = join(tmp, 'root');
    log(`arm64 root: debootstrap --foreign ${ARM64_SUITE} arm64 into ${tmp}`);
    await run(
      'debootstrap',
      ['--foreign', '--arch=arm64', '--variant=minbase', `--include=${PACKAGES.join(',')}`, ARM64_SUITE, root, debianMirror()],
      { capture: true },
    );
    // The first stage unpacked the required packages; the rest it only downloaded.
    const archives = join(root, 'var/cache/apt/archives');
    const debs = readdirSync(archives).filter((f) => f.endsWith('.deb'));
    const base = readFileSync(join(root, 'debootstrap/base'), 'utf8').split(/\s+/).filter(Boolean);
    for (const pkg of base) {
      const deb = debs.find((f) => f.startsWith(`${pkg}_`));
      if (!deb) throw new HarnessError(`arm64 root: debootstrap downloaded no ${pkg}`);
      await run('dpkg-deb', ['-x', join(archives, deb), root], { capture: true });
    }
    for (const deb of debs) rmSync(join(archives, deb));
    for (const d of ['proc', 'sys', 'dev']) {
      if (lstatSync(join(root, d)).isSymbolicLink()) {
        rmSync(join(root, d));
        mkdirSync(join(root, d));
      }
    }
    // qemu-user's static binaries, not installed on the host: only qemu-aarch64 is kept.
    await download([`qemu-user/${ARM64_SUITE}`], tmp);
    const qemuDeb = readdirSync(tmp).find((f) => f.startsWith('qemu-user_') && f.endsWith('.deb'));
    if (!qemuDeb) throw new HarnessError(`arm64 root: apt-get download qemu-user/${ARM64_SUITE} fetched nothing`);
    await run('dpkg-deb', ['-x', join(tmp, qemuDeb), join(tmp, 'qemu')], { capture: true });
    copyFileSync(join(tmp, 'qemu/usr/bin/qemu-aarch64'), join(root, QEMU));
    chmodSync(join(root, QEMU), 0o755);
    rmSync(join(tmp, 'qemu'), { recursive: true });
    rmSync(join(tmp, qemuDeb));
    await run('chroot', [root, QEMU, '/sbin/ldconfig'], { capture: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    const nodeVersion = (
      await run('chroot', [root, QEMU, '/usr/bin/node', '-p', 'process.version'], {
        capture: true,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      })
    ).stdout.trim();
    if (!existsSync(join(root, 'usr/lib/aarch64-linux-gnu/liburing.a')))
      throw new HarnessError('arm64 root: no liburing.a after unpacking');
    const seconds = (Date.now() - t0) / 1000;
    writeFileSync(
      join(tmp, 'stamp.json'),
      `${JSON.stringify({ format: ARM64_ROOT_FORMAT, suite: ARM64_SUITE, packages: PACKAGES, nodeVersion, builtAt: new Date().toISOString(), buildSeconds: seconds }, null, 2)}\n`,
    );
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another run finished first: use its root.
      if (!readStamp(dir)) throw err;
    }
    log(`arm64 root: node ${nodeVersion}, made in ${seconds.toFixed(1)} s`);
    return describe(dir, nodeVersion, true, seconds);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// @ts-check
// The artifact cache, outside the clone so that fresh CI clones reuse it:
//
//   <root>/<kernel release>/   e.g. ~/.cache/devmem-tcp/7.3.4+deb13-amd64/
//     stamp.json               what was built from what (patch hash, package version)
//     vmlinuz, config          from Debian's kernel packages
//     modules/*.ko, modules/load-order   9p, veth, dummy, psample (+ deps), decompressed
//     netdevsim/stock/netdevsim.ko, netdevsim/devmem/netdevsim.ko
//     initramfs-<hash>.cpio.gz busybox + init + the modules above
//   <root>/work/               build scratch space (chroot, .debs); deleted after a build
//
// A kernel directory only ever appears complete: it is built under a temporary name and
// renamed into place, so an interrupted build leaves nothing that looks usable.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareCandidatesNewestFirst } from './debian-kernels.mjs';

// Bump when the layout or the way artifacts are built changes: older caches are rebuilt.
export const CACHE_FORMAT = 3; // 2: sch_ingress and cls_bpf among the guest modules; 3: vgem
const RELEASE_DIR_RE = /^\d+\.\d+\.\d+\+deb\d+-amd64$/;

/**
 * What stamp.json says a kernel directory was built from.
 * @typedef {object} Stamp
 * @property {number} format CACHE_FORMAT
 * @property {string} release
 * @property {string} version
 * @property {string} sourcePackage
 * @property {string} patchSha256
 * @property {string[]} modules the guest modules, in load order
 * @property {string} builtAt ISO date
 * @property {number} buildSeconds
 */
/** @typedef {ReturnType<typeof artifactPaths>} ArtifactPaths */
/** @typedef {Stamp & { paths: ArtifactPaths }} CachedKernel */

/**
 * @param {string} root
 * @param {string} release
 */
export function kernelDir(root, release) {
  return join(root, release);
}

/** @param {string} root */
export function workDir(root) {
  return join(root, 'work');
}

/** @param {string} dir */
export function artifactPaths(dir) {
  return {
    dir,
    stamp: join(dir, 'stamp.json'),
    vmlinuz: join(dir, 'vmlinuz'),
    config: join(dir, 'config'),
    modulesDir: join(dir, 'modules'),
    loadOrder: join(dir, 'modules', 'load-order'),
    netdevsim: { stock: join(dir, 'netdevsim', 'stock', 'netdevsim.ko'), devmem: join(dir, 'netdevsim', 'devmem', 'netdevsim.ko') },
  };
}

/**
 * @param {string} dir
 * @param {Omit<Stamp, 'format'>} stamp
 */
export function writeStamp(dir, stamp) {
  writeFileSync(artifactPaths(dir).stamp, `${JSON.stringify({ format: CACHE_FORMAT, ...stamp }, null, 2)}\n`);
}

/**
 * @param {string} dir
 * @returns {Stamp | undefined}
 */
function readStamp(dir) {
  try {
    return JSON.parse(readFileSync(artifactPaths(dir).stamp, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The cached kernel in dir if it is complete and was built with this patch.
 * @param {string} dir
 * @param {string} patchSha256
 * @returns {CachedKernel | undefined}
 */
export function usableCachedKernel(dir, patchSha256) {
  const stamp = readStamp(dir);
  if (!stamp || stamp.format !== CACHE_FORMAT || stamp.patchSha256 !== patchSha256) return undefined;
  const paths = artifactPaths(dir);
  const needed = [paths.vmlinuz, paths.loadOrder, paths.netdevsim.stock, paths.netdevsim.devmem];
  if (!needed.every((f) => existsSync(f))) return undefined;
  return { ...stamp, paths };
}

/**
 * All usable cached kernels for this patch, newest first.
 * @param {string} root
 * @param {string} patchSha256
 * @returns {CachedKernel[]}
 */
export function usableCachedKernels(root, patchSha256) {
  if (!existsSync(root)) return [];
  return /** @type {CachedKernel[]} */ (
    readdirSync(root)
      .filter((name) => RELEASE_DIR_RE.test(name))
      .map((name) => usableCachedKernel(kernelDir(root, name), patchSha256))
      .filter(Boolean)
  ).sort(compareCandidatesNewestFirst);
}

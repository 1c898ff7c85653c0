// @ts-check
// Which Debian kernels the harness can use, and which packages make one up.
//
// A candidate is a generic amd64 kernel from trixie-backports whose source package
// linux-source-X.Y exists in exactly the same version (the netdevsim source must match
// the kernel it is built for). Since 7.x Debian splits the kernel into linux-binary-*
// (vmlinuz), linux-modules-* and linux-base-* (config); older kernels ship all of it in
// linux-image-*.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { madison, packageNames } from './apt.mjs';
import { compareDebVersions } from './debian-version.mjs';

/**
 * @typedef {object} Candidate
 * @property {string} release e.g. 7.3.4+deb13-amd64
 * @property {string} version the Debian package version
 * @property {string} sourcePackage linux-source-X.Y
 * @property {string[]} packages pkg=version of each package that makes up the kernel
 */

export const KERNEL_SUITE = 'trixie-backports';
const RELEASE_RE = /^(\d+)\.(\d+)\.(\d+)\+deb\d+-amd64$/;

/**
 * @param {string} release
 * @returns {number[]} major, minor, patch
 */
export function releaseParts(release) {
  const m = RELEASE_RE.exec(release);
  if (!m) throw new Error(`not a Debian amd64 kernel release: ${release}`);
  return m.slice(1, 4).map(Number);
}

/**
 * Newest first: by kernel release, then by Debian package version.
 * @param {{ release: string, version: string }} a
 * @param {{ release: string, version: string }} b
 * @returns {number}
 */
export function compareCandidatesNewestFirst(a, b) {
  const [x, y] = [releaseParts(a.release), releaseParts(b.release)];
  return y[0] - x[0] || y[1] - x[1] || y[2] - x[2] || compareDebVersions(b.version, a.version);
}

/** @param {string} release */
function series(release) {
  const [major, minor] = releaseParts(release);
  return `${major}.${minor}`;
}

/**
 * Usable kernels, newest first: [{release, version, sourcePackage, packages: [pkg=ver...]}].
 * With `release` set (DEVMEM_VM_KERNEL) only that kernel is considered, from any suite.
 * @param {{ release?: string | undefined }} [filter]
 * @returns {Promise<Candidate[]>}
 */
export async function listKernelCandidates({ release } = {}) {
  const imageNames = release
    ? [`linux-image-${release}`]
    : (await packageNames('linux-image-')).filter((n) => RELEASE_RE.test(n.slice('linux-image-'.length)));
  const images = (await madison(imageNames)).filter((r) => release || r.suite === KERNEL_SUITE);
  const releases = [...new Set(images.map((r) => r.pkg.slice('linux-image-'.length)))];
  const sourceNames = [...new Set(releases.map((r) => `linux-source-${series(r)}`))];
  const binaryNames = releases.map((r) => `linux-binary-${r}`);
  const [sources, binaries] = await Promise.all([madison(sourceNames), madison(binaryNames)]);

  /** @type {Candidate[]} */
  const candidates = [];
  const seen = new Set();
  for (const image of images) {
    const rel = image.pkg.slice('linux-image-'.length);
    const key = `${rel}=${image.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const sourcePackage = `linux-source-${series(rel)}`;
    if (!sources.some((s) => s.pkg === sourcePackage && s.version === image.version)) continue;
    const split = binaries.some((b) => b.pkg === `linux-binary-${rel}` && b.version === image.version);
    const names = split ? [`linux-binary-${rel}`, `linux-modules-${rel}`, `linux-base-${rel}`] : [`linux-image-${rel}`];
    candidates.push({
      release: rel,
      version: image.version,
      sourcePackage,
      packages: names.map((n) => `${n}=${image.version}`),
    });
  }
  return candidates.sort(compareCandidatesNewestFirst);
}

/**
 * Where an extracted kernel package tree keeps vmlinuz, the module tree and the config.
 * @param {string} root
 * @param {string} release
 */
export function kernelTreePaths(root, release) {
  const modulesDir = [join(root, 'usr/lib/modules', release), join(root, 'lib/modules', release)].find((d) =>
    existsSync(join(d, 'kernel')),
  );
  const vmlinuz = [join(root, 'usr/lib/modules', release, 'vmlinuz'), join(root, 'boot', `vmlinuz-${release}`)].find((f) => existsSync(f));
  const config = [join(root, 'usr/lib/modules', release, 'config'), join(root, 'boot', `config-${release}`)].find((f) => existsSync(f));
  if (!modulesDir || !vmlinuz) throw new Error(`kernel ${release}: no vmlinuz or module tree in the extracted packages`);
  return { modulesDir, vmlinuz, config };
}

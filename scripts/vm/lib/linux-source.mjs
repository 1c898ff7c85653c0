// @ts-check
// Parts of Debian's linux-source-X.Y package of exactly a kernel's version: apt-get
// download, then the named paths streamed out of the ~170 MB source tarball inside it
// (never stored whole), and the .deb deleted right after.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { download } from './apt.mjs';
import { HarnessError } from './errors.mjs';
import { run } from './proc.mjs';

/**
 * Extracts `paths` (relative to the kernel tree's root; shell wildcards allowed) of
 * `sourcePackage`=`version` into `dest`, dropping the first `strip` components of each
 * path below the tree's root. Returns `dest`.
 * @param {{ sourcePackage: string, version: string }} pkg
 * @param {string} work
 * @param {string} dest
 * @param {string[]} paths
 * @param {number} [strip]
 * @returns {Promise<string>}
 */
export async function extractLinuxSource({ sourcePackage, version }, work, dest, paths, strip = 0) {
  const debs = join(work, 'debs');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(debs, { recursive: true });
  mkdirSync(dest, { recursive: true });
  await download([`${sourcePackage}=${version}`], debs);
  const deb = readdirSync(debs).find((f) => f.startsWith(`${sourcePackage}_`) && f.endsWith('.deb'));
  if (!deb) throw new HarnessError(`apt-get download left no ${sourcePackage} .deb in ${debs}`);
  const series = sourcePackage.slice('linux-source-'.length);
  const script =
    'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -xO "./usr/src/linux-source-$2.tar.xz" | xz -dc ' +
    '| tar -x -C "$3" --strip-components="$4" --wildcards "${@:5}"';
  const members = paths.map((p) => `linux-source-${series}/${p}`);
  try {
    await run('bash', ['-c', script, 'bash', join(debs, deb), series, dest, String(1 + strip), ...members], { capture: true });
  } finally {
    rmSync(join(debs, deb), { force: true });
  }
  return dest;
}

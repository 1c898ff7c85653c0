// The pristine netdevsim source of a candidate kernel: drivers/net/netdevsim from the
// Debian linux-source-X.Y package of exactly the kernel's version. Only that one
// directory is taken out of the ~170 MB source tarball (streamed, never stored whole),
// and the .deb is deleted right after.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { download } from './apt.mjs';
import { run } from './proc.mjs';

export async function fetchNetdevsimSource(candidate, work) {
  const debs = join(work, 'debs');
  const dest = join(work, 'src', candidate.release, 'netdevsim');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(debs, { recursive: true });
  mkdirSync(dest, { recursive: true });
  await download([`${candidate.sourcePackage}=${candidate.version}`], debs);
  const deb = readdirSync(debs).find((f) => f.startsWith(`${candidate.sourcePackage}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download left no ${candidate.sourcePackage} .deb in ${debs}`);
  const series = candidate.sourcePackage.slice('linux-source-'.length);
  const script =
    'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -xO "./usr/src/linux-source-$2.tar.xz" | xz -dc ' +
    '| tar -x -C "$3" --strip-components=4 --wildcards "linux-source-$2/drivers/net/netdevsim/*"';
  try {
    await run('bash', ['-c', script, 'bash', join(debs, deb), series, dest], { capture: true });
  } finally {
    rmSync(join(debs, deb), { force: true });
  }
  if (!readdirSync(dest).includes('netdev.c')) throw new Error(`no netdevsim source found in ${deb}`);
  return dest;
}

// @ts-check
// The pristine netdevsim source of a candidate kernel: drivers/net/netdevsim from the
// Debian linux-source-X.Y package of exactly the kernel's version.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { extractLinuxSource } from './linux-source.mjs';
/** @import { Candidate } from './debian-kernels.mjs' */

/**
 * @param {Candidate} candidate
 * @param {string} work
 * @returns {Promise<string>}
 */
export async function fetchNetdevsimSource(candidate, work) {
  const dest = join(work, 'src', candidate.release, 'netdevsim');
  await extractLinuxSource(candidate, work, dest, ['drivers/net/netdevsim/*'], 3);
  if (!readdirSync(dest).includes('netdev.c'))
    throw new Error(`no netdevsim source found in ${candidate.sourcePackage}=${candidate.version}`);
  return dest;
}

// @ts-check
// Guard for deleting build trees: the trixie chroot has /proc mounted while modules
// build. build-netdevsim.sh unmounts it on every exit path; this check makes sure that
// a recursive delete can never run into a live mount if that ever failed.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { HarnessError } from './errors.mjs';

/**
 * @param {string} dir
 * @returns {string[]}
 */
export function mountsBelow(dir) {
  const root = resolve(dir);
  return /** @type {string[]} */ (
    readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((mp) => mp && (mp === root || mp.startsWith(`${root}/`)))
  );
}

/** @param {string} dir */
export function assertNoMountsBelow(dir) {
  const mounts = mountsBelow(dir);
  if (mounts.length) {
    throw new HarnessError(`refusing to delete ${dir}: still mounted: ${mounts.join(', ')} (umount them, then retry)`);
  }
}

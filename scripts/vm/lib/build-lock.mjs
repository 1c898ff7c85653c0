// @ts-check
// One build at a time per cache root: parallel runs (e.g. two CI jobs on one machine)
// would otherwise debootstrap into the same work dir. The lock is a file holding the
// owner's pid; a lock whose owner is gone is taken over. Cached runs never take it.
import { closeSync, openSync, readFileSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './errors.mjs';
import { note } from './log.mjs';

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
}

/**
 * Waits for and takes the build lock; returns the function that releases it.
 * @param {string} cacheRoot
 * @param {number} [timeoutMs]
 * @returns {Promise<() => void>}
 */
export async function acquireBuildLock(cacheRoot, timeoutMs = 30 * 60 * 1000) {
  mkdirSync(cacheRoot, { recursive: true });
  const path = join(cacheRoot, '.build.lock');
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
    }
    let owner;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released between our two calls
    }
    if (!owner || !alive(owner)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new HarnessError(`another build (pid ${owner}) still holds ${path}`);
    if (!told) note(`waiting for another test:vm build (pid ${owner}) to finish`);
    told = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

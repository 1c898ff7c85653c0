// @ts-check
// The guest's initramfs: static busybox, scripts/vm/guest/init as /init and the cached
// kernel modules (both netdevsim builds; init loads the one for the job's mode). It is
// small and quick to make, and named after a hash of everything in it, so editing the
// init script rebuilds it while the kernel cache stays valid.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.mjs';
import { HarnessError } from './errors.mjs';
import { step } from './log.mjs';
import { run } from './proc.mjs';

const BUSYBOX = '/bin/busybox'; // from busybox-static
/** @import { ArtifactPaths, Stamp } from './cache.mjs' */

/**
 * @param {object} args
 * @param {ArtifactPaths} args.paths
 * @param {Pick<Stamp, 'patchSha256' | 'builtAt'>} args.stamp
 * @param {string} args.repoRoot
 * @returns {Promise<string>} the image's path
 */
export async function ensureInitramfs({ paths, stamp, repoRoot }) {
  const init = readFileSync(join(repoRoot, 'scripts/vm/guest/init'));
  if (!existsSync(BUSYBOX)) throw new HarnessError(`${BUSYBOX} missing (package busybox-static)`);
  const hash = createHash('sha256')
    .update(init)
    .update(readFileSync(BUSYBOX))
    .update(`${stamp.patchSha256} ${stamp.builtAt}`)
    .digest('hex')
    .slice(0, 16);
  const target = join(paths.dir, `initramfs-${hash}.cpio.gz`);
  if (existsSync(target)) return target;

  step(`building initramfs ${target}`);
  const root = mkdtempSync(join(tmpdir(), 'devmem-initramfs-'));
  const partial = `${target}.${process.pid}.partial`;
  const unregister = onCleanup(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(partial, { force: true });
  });
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys', 'host', 'lib/modules']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    copyFileSync(join(repoRoot, 'scripts/vm/guest/init'), join(root, 'init'));
    chmodSync(join(root, 'init'), 0o755);
    for (const f of readdirSync(paths.modulesDir)) copyFileSync(join(paths.modulesDir, f), join(root, 'lib/modules', f));
    for (const variant of /** @type {const} */ (['stock', 'devmem'])) {
      copyFileSync(paths.netdevsim[variant], join(root, 'lib/modules', `netdevsim-${variant}.ko`));
    }
    await run('sh', ['-c', 'cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$2"', 'sh', root, partial]);
    // Drop images of earlier init versions, then publish the new one.
    for (const f of readdirSync(paths.dir)) {
      if (/^initramfs-.*\.cpio\.gz$/.test(f) && join(paths.dir, f) !== target) rmSync(join(paths.dir, f), { force: true });
    }
    renameSync(partial, target);
    return target;
  } finally {
    unregister();
    rmSync(root, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
}

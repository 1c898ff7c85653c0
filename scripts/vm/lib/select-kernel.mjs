// @ts-check
// Which kernel to boot.
//
// 1. A cached kernel built with the current patch is used as is, without asking apt
//    (cached runs stay fast and work offline): the newest one, or the one named by
//    DEVMEM_VM_KERNEL. --refresh / DEVMEM_VM_REFRESH=1 skips this step.
// 2. Otherwise apt lists the candidates (trixie-backports kernels with a matching
//    linux-source), newest first, and the first one the patch applies to is built. For
//    each one it does not apply to, the failing hunks are printed and the next older
//    kernel is tried. If the newest fitting kernel is already cached, it is reused.
import { usableCachedKernel, usableCachedKernels, kernelDir } from './cache.mjs';
import { listKernelCandidates, KERNEL_SUITE } from './debian-kernels.mjs';
import { HarnessError } from './errors.mjs';
import { step, note } from './log.mjs';
import { applyPatch } from './netdevsim-patch.mjs';
import { fetchNetdevsimSource } from './netdevsim-source.mjs';
/** @import { CachedKernel } from './cache.mjs' */
/** @import { Candidate } from './debian-kernels.mjs' */
/** @import { Patch } from './netdevsim-patch.mjs' */
/** @import { Options } from './options.mjs' */

/**
 * Returns { cached } (usable artifacts) or { build: candidate, sourceDir } (to build).
 * `prepareApt` is called before the first apt query (adds sources, updates lists).
 * @param {object} args
 * @param {Pick<Options, 'refresh' | 'kernel' | 'cacheRoot'>} args.opts
 * @param {Patch} args.patch
 * @param {string} args.work
 * @param {() => Promise<void>} args.prepareApt
 * @returns {Promise<{ cached: CachedKernel, build?: undefined, sourceDir?: undefined } | { cached?: undefined, build: Candidate, sourceDir: string }>}
 */
export async function selectKernel({ opts, patch, work, prepareApt }) {
  if (!opts.refresh) {
    const cached = opts.kernel
      ? /** @type {CachedKernel[]} */ ([usableCachedKernel(kernelDir(opts.cacheRoot, opts.kernel), patch.sha256)].filter(Boolean))
      : usableCachedKernels(opts.cacheRoot, patch.sha256);
    if (cached.length) {
      step(`kernel ${cached[0].release} (cached, patch ${patch.sha256.slice(0, 12)}; --refresh to look for a newer one)`);
      return { cached: cached[0] };
    }
  }

  await prepareApt();
  const candidates = await listKernelCandidates({ release: opts.kernel });
  if (candidates.length === 0) {
    throw new HarnessError(
      opts.kernel
        ? `DEVMEM_VM_KERNEL=${opts.kernel}: apt knows no linux-image-${opts.kernel} with a linux-source package of the same version`
        : `apt lists no ${KERNEL_SUITE} kernel with a matching linux-source package (are the apt sources reachable?)`,
    );
  }
  step(`kernel candidates (newest first): ${candidates.map((c) => `${c.release} (${c.version})`).join(', ')}`);

  const rejected = [];
  for (const candidate of candidates) {
    const cached = usableCachedKernel(kernelDir(opts.cacheRoot, candidate.release), patch.sha256);
    if (cached && cached.version === candidate.version) {
      step(`kernel ${candidate.release}: newest fitting kernel, already cached`);
      return { cached };
    }
    step(`kernel ${candidate.release}: fetching netdevsim source from ${candidate.sourcePackage}=${candidate.version}`);
    const sourceDir = await fetchNetdevsimSource(candidate, work);
    const check = await applyPatch(patch, sourceDir, { dryRun: true });
    if (check.ok) {
      step(`kernel ${candidate.release}: netdevsim patch applies`);
      return { build: candidate, sourceDir };
    }
    note(`kernel ${candidate.release}: netdevsim patch does not apply, failing hunk(s):\n    ${check.failures.join('\n    ')}`);
    rejected.push(`${candidate.release}: ${check.failures.join('; ')}`);
    if (candidates.indexOf(candidate) < candidates.length - 1) note('trying the next older kernel');
  }
  const which = opts.kernel ? `DEVMEM_VM_KERNEL=${opts.kernel}` : 'any of the candidate kernels';
  throw new HarnessError(
    `netdevsim/devmem-e2e.patch does not apply to ${which}; rebase it (netdevsim/README.md):\n  ${rejected.join('\n  ')}`,
  );
}

// @ts-check
// Builds the cache directory of one kernel: Debian's vmlinuz and the modules the guest
// needs, plus netdevsim.ko built out of tree twice (stock, and with the devmem-e2e
// patch) in a trixie chroot (scripts/vm/build-netdevsim.sh).
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { debianMirror, download } from './apt.mjs';
import { artifactPaths, kernelDir, writeStamp } from './cache.mjs';
import { kernelTreePaths } from './debian-kernels.mjs';
import { HarnessError } from './errors.mjs';
import { collectModules, modinfo } from './kernel-modules.mjs';
import { step, timed } from './log.mjs';
import { applyPatch } from './netdevsim-patch.mjs';
import { run } from './proc.mjs';
import { assertNoMountsBelow } from './mounts.mjs';
import { onCleanup } from './cleanup.mjs';
/** @import { Candidate } from './debian-kernels.mjs' */
/** @import { Patch } from './netdevsim-patch.mjs' */

// Loaded by the guest init in this order (dependencies are added automatically):
// 9p for the host root share, veth and dummy for tests that want them, the clsact
// qdisc and the BPF classifier for the netkit selftests' tc programs.
// vgem (with drm and drm_shmem_helper, pulled in as its dependencies) is the lab's DRM
// PRIME exporter: allocDrm's buffers, bound and received into like a GPU's.
export const GUEST_MODULES = ['netfs', '9pnet', '9pnet_virtio', '9p', 'veth', 'dummy', 'sch_ingress', 'cls_bpf', 'vgem'];

// Kernel options the harness relies on; a kernel without them is not worth booting.
const REQUIRED_CONFIG = [
  'CONFIG_NET_DEVMEM=y',
  'CONFIG_UDMABUF=y',
  'CONFIG_DMABUF_HEAPS_SYSTEM=y',
  'CONFIG_VIRTIO_PCI=y',
  'CONFIG_NETKIT=y',
];

/**
 * @param {string | undefined} configPath
 * @param {string} release
 */
function checkConfig(configPath, release) {
  if (!configPath) return;
  const config = readFileSync(configPath, 'utf8').split('\n');
  const missing = REQUIRED_CONFIG.filter((opt) => !config.includes(opt));
  if (missing.length) throw new HarnessError(`kernel ${release} lacks ${missing.join(', ')}`);
}

/**
 * @param {Candidate} candidate
 * @param {string} work
 */
async function extractKernel(candidate, work) {
  const debs = join(work, 'debs');
  const root = join(work, 'kernel', candidate.release);
  mkdirSync(debs, { recursive: true });
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  await download(candidate.packages, debs);
  for (const spec of candidate.packages) {
    const name = spec.split('=')[0];
    const deb = readdirSync(debs).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
    if (!deb) throw new HarnessError(`apt-get download left no ${name} .deb in ${debs}`);
    await run('dpkg-deb', ['-x', join(debs, deb), root]);
    rmSync(join(debs, deb), { force: true });
  }
  return kernelTreePaths(root, candidate.release);
}

/**
 * @param {Candidate} candidate
 * @param {string} sourceDir
 * @param {Patch} patch
 * @param {string} work
 * @param {string} repoRoot
 */
async function buildNetdevsim(candidate, sourceDir, patch, work, repoRoot) {
  const sources = join(work, 'netdevsim-src', candidate.release);
  const out = join(work, 'netdevsim-out', candidate.release);
  rmSync(sources, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  for (const variant of ['stock', 'devmem']) {
    const dir = join(sources, variant);
    cpSync(sourceDir, dir, { recursive: true });
    if (variant === 'devmem') {
      const applied = await applyPatch(patch, dir);
      if (!applied.ok) throw new HarnessError(`netdevsim patch does not apply: ${applied.failures.join('; ')}`);
    }
  }
  await run(join(repoRoot, 'scripts/vm/build-netdevsim.sh'), [
    join(work, 'trixie-chroot'),
    candidate.release,
    candidate.version,
    debianMirror(),
    out,
    join(sources, 'stock'),
    join(sources, 'devmem'),
  ]);
  return { stock: join(out, 'stock', 'netdevsim.ko'), devmem: join(out, 'devmem', 'netdevsim.ko') };
}

/**
 * The built modules must be for this kernel, and only the patched one may carry the marker.
 * @param {{ stock: Buffer, devmem: Buffer }} kos
 * @param {string} release
 */
function checkNetdevsimBuilds(kos, release) {
  for (const [variant, ko] of Object.entries(kos)) {
    const vermagic = modinfo(ko, 'vermagic') ?? '';
    if (!vermagic.startsWith(`${release} `)) throw new HarnessError(`netdevsim (${variant}) has vermagic "${vermagic}", not ${release}`);
    const marked = modinfo(ko, 'devmem_e2e') !== undefined;
    if (marked !== (variant === 'devmem'))
      throw new HarnessError(`netdevsim (${variant}): devmem_e2e marker ${marked ? 'present' : 'missing'}`);
  }
}

/**
 * Builds everything for `candidate` into <cacheRoot>/<release>/ and returns its paths.
 * `sourceDir` is the pristine netdevsim source the patch was checked against.
 * @param {object} args
 * @param {Candidate} args.candidate
 * @param {string} args.sourceDir
 * @param {Patch} args.patch
 * @param {string} args.cacheRoot
 * @param {string} args.work
 * @param {string} args.repoRoot
 */
export async function buildKernelArtifacts({ candidate, sourceDir, patch, cacheRoot, work, repoRoot }) {
  const t0 = Date.now();
  const final = kernelDir(cacheRoot, candidate.release);
  mkdirSync(cacheRoot, { recursive: true });
  const staging = mkdtempSync(join(cacheRoot, `.${candidate.release}.partial-`));
  const unregister = onCleanup(() => rmSync(staging, { recursive: true, force: true }));
  try {
    const paths = artifactPaths(staging);
    const kernel = await timed(`kernel ${candidate.release}: download and unpack ${candidate.packages.length} package(s)`, () =>
      extractKernel(candidate, work),
    );
    checkConfig(kernel.config, candidate.release);
    cpSync(kernel.vmlinuz, paths.vmlinuz);
    if (kernel.config) cpSync(kernel.config, paths.config);

    const built = await timed('netdevsim: trixie chroot, linux-headers, stock and devmem-e2e builds', () =>
      buildNetdevsim(candidate, sourceDir, patch, work, repoRoot),
    );
    const kos = { stock: readFileSync(built.stock), devmem: readFileSync(built.devmem) };
    checkNetdevsimBuilds(kos, candidate.release);
    for (const variant of /** @type {const} */ (['stock', 'devmem'])) {
      mkdirSync(join(staging, 'netdevsim', variant), { recursive: true });
      writeFileSync(paths.netdevsim[variant], kos[variant]);
    }

    mkdirSync(paths.modulesDir, { recursive: true });
    // netdevsim's own dependencies (psample) come from the Debian tree as well.
    const order = collectModules({
      modulesDir: kernel.modulesDir,
      names: GUEST_MODULES,
      outDir: paths.modulesDir,
      extra: new Map([['netdevsim', kos.devmem]]),
    });
    writeFileSync(paths.loadOrder, `${order.join('\n')}\n`);
    step(`guest modules: ${order.join(' ')} + netdevsim (stock, devmem)`);

    writeStamp(staging, {
      release: candidate.release,
      version: candidate.version,
      sourcePackage: candidate.sourcePackage,
      patchSha256: patch.sha256,
      modules: order,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - t0) / 1000),
    });
    chmodSync(staging, 0o755); // mkdtemp made it private
    rmSync(final, { recursive: true, force: true });
    renameSync(staging, final);
    return artifactPaths(final);
  } finally {
    unregister();
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Removes the build scratch space (chroot, unpacked packages) unless asked to keep it.
 * @param {string} work
 * @param {boolean} keep
 */
export function cleanWork(work, keep) {
  if (!existsSync(work)) return;
  if (keep) {
    step(`keeping build work dir ${work} (DEVMEM_VM_KEEP_WORK)`);
    return;
  }
  assertNoMountsBelow(work);
  rmSync(work, { recursive: true, force: true });
}

// @ts-check
// The kernel's own devmem selftests, for the conformance mode: the Python suites
// (drivers/net/hw/devmem.py, nk_devmem.py, userns_devmem.py), their libraries and the
// YNL specs, taken unmodified from Debian's linux-source-X.Y of exactly the booted
// kernel's version, plus the netkit BPF objects built with the selftest's own Makefile.
//
//   <kernel dir>/selftests/
//     stamp.json                              what was built from what
//     tree/tools/testing/selftests/drivers/net/{hw,lib}
//     tree/tools/testing/selftests/net/lib/py
//     tree/tools/net/ynl/pyynl
//     tree/Documentation/netlink/specs
//
// The layout is the kernel tree's: the selftest libraries find each other and the specs
// by relative paths from their own files. Like the kernel dir, it only ever appears
// complete (built under a temporary name, then renamed).
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup } from './cleanup.mjs';
import { HarnessError } from './errors.mjs';
import { extractLinuxSource } from './linux-source.mjs';
import { step, timed } from './log.mjs';
import { run } from './proc.mjs';
/** @import { CachedKernel } from './cache.mjs' */

/**
 * What the selftest tree's stamp.json says it was built from.
 * @typedef {object} SelftestStamp
 * @property {number} format SELFTESTS_FORMAT
 * @property {string} sourcePackage
 * @property {string} version
 * @property {string[]} files
 * @property {string} builtAt
 * @property {number} buildSeconds
 */
/** @typedef {SelftestStamp & { paths: ReturnType<typeof selftestPaths> }} Selftests */

// Bump when what goes into the tree, or how, changes.
const SELFTESTS_FORMAT = 1;

/** The suites the conformance mode runs, in order, relative to drivers/net/hw. */
export const SELFTEST_FILES = ['devmem.py', 'nk_devmem.py', 'userns_devmem.py'];

// What the suites need at run time, relative to the kernel tree's root.
const RUNTIME_PATHS = [
  'tools/testing/selftests/drivers/net/hw',
  'tools/testing/selftests/drivers/net/lib',
  'tools/testing/selftests/net/lib/py',
  'tools/net/ynl/pyynl',
  'Documentation/netlink/specs',
];
// What building the headers and the BPF objects needs besides those.
const BUILD_PATHS = ['Makefile', 'Kbuild', 'Kconfig', 'arch/Kconfig', 'arch/x86', 'include', 'scripts', 'usr', 'tools'];
const BPF_OBJECTS = ['nk_forward.bpf.o', 'nk_primary_rx_redirect.bpf.o'];

/** Debian packages that building the tree needs (clang and libbpf for the BPF objects). */
export const SELFTEST_BUILD_PACKAGES = ['clang', 'libbpf-dev', 'libelf-dev', 'zlib1g-dev', 'make', 'gcc', 'xz-utils', 'pkg-config'];
/** Debian packages the suites run in the guest (through the host root share). */
export const SELFTEST_RUNTIME_PACKAGES = [
  'python3',
  'python3-yaml',
  'python3-jsonschema',
  'socat',
  'ethtool',
  'iproute2',
  'bpftool',
  'iputils-ping',
  'util-linux',
];

/** @param {string} kernelDir */
export function selftestPaths(kernelDir) {
  const dir = join(kernelDir, 'selftests');
  return { dir, stamp: join(dir, 'stamp.json'), tree: join(dir, 'tree'), hw: join(dir, 'tree/tools/testing/selftests/drivers/net/hw') };
}

/**
 * The cached tree for this kernel if it is complete and of this format.
 * @param {CachedKernel} kernel
 * @returns {Selftests | undefined}
 */
export function usableSelftests(kernel) {
  const paths = selftestPaths(kernel.paths.dir);
  /** @type {SelftestStamp} */
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(paths.stamp, 'utf8'));
  } catch {
    return undefined;
  }
  if (stamp.format !== SELFTESTS_FORMAT || stamp.version !== kernel.version) return undefined;
  const needed = [...SELFTEST_FILES, ...BPF_OBJECTS, 'devmem_lib.py'].map((f) => join(paths.hw, f));
  return needed.every((f) => existsSync(f)) ? { ...stamp, paths } : undefined;
}

/**
 * @param {CachedKernel} kernel
 * @param {string} work
 */
async function extractSource(kernel, work) {
  // tar reports a name as missing when an earlier one already covered it: list each once.
  const covered = (/** @type {string} */ p) => BUILD_PATHS.some((b) => p === b || p.startsWith(`${b}/`));
  const paths = [...BUILD_PATHS, ...RUNTIME_PATHS.filter((p) => !covered(p))];
  return extractLinuxSource(kernel, work, join(work, 'selftest-src', kernel.release), paths);
}

/**
 * Builds the selftest tree for `kernel` (from the kernel cache) if it is not cached yet.
 * @param {object} args
 * @param {CachedKernel} args.kernel
 * @param {string} args.work
 * @param {() => Promise<void>} args.prepareApt
 * @returns {Promise<Selftests>}
 */
export async function ensureSelftests({ kernel, work, prepareApt }) {
  const cached = usableSelftests(kernel);
  if (cached) {
    step(`selftests: ${kernel.sourcePackage}=${kernel.version} (cached)`);
    return cached;
  }
  await prepareApt();
  const t0 = Date.now();
  const paths = selftestPaths(kernel.paths.dir);
  const staging = mkdtempSync(join(kernel.paths.dir, '.selftests.partial-'));
  const unregister = onCleanup(() => rmSync(staging, { recursive: true, force: true }));
  try {
    const src = await timed(`selftests: unpack ${kernel.sourcePackage}=${kernel.version}`, () => extractSource(kernel, work));
    await timed('selftests: make headers', () => run('make', ['-C', src, '-j2', 'headers'], { capture: true }));
    const hw = join(src, 'tools/testing/selftests/drivers/net/hw');
    // The hw Makefile's own rule (clang --target=bpf against the fresh headers and the
    // libbpf it builds from tools/lib/bpf); its targets are named with OUTPUT in front.
    await timed(`selftests: make ${BPF_OBJECTS.join(' ')}`, () =>
      run('make', ['-C', hw, ...BPF_OBJECTS.map((o) => join(hw, o))], { capture: true }),
    );
    const tree = join(staging, 'tree');
    for (const p of RUNTIME_PATHS) cpSync(join(src, p), join(tree, p), { recursive: true });
    // Build leftovers (libbpf's objects under hw/tools) are not needed at run time.
    rmSync(join(tree, 'tools/testing/selftests/drivers/net/hw/tools'), { recursive: true, force: true });
    writeFileSync(
      join(staging, 'stamp.json'),
      `${JSON.stringify(
        {
          format: SELFTESTS_FORMAT,
          sourcePackage: kernel.sourcePackage,
          version: kernel.version,
          files: SELFTEST_FILES,
          builtAt: new Date().toISOString(),
          buildSeconds: Math.round((Date.now() - t0) / 1000),
        },
        null,
        2,
      )}\n`,
    );
    chmodSync(staging, 0o755);
    rmSync(paths.dir, { recursive: true, force: true });
    renameSync(staging, paths.dir);
    rmSync(src, { recursive: true, force: true });
    const built = usableSelftests(kernel);
    if (!built) throw new HarnessError(`selftests: ${paths.dir} is incomplete after the build`);
    step(`selftests: cached in ${paths.dir} (built in ${built.buildSeconds} s)`);
    return built;
  } finally {
    unregister();
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}

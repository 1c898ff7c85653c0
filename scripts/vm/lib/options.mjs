// @ts-check
// Command line and environment of `npm run test:vm` (node scripts/vm/run.mjs).
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HarnessError } from './errors.mjs';

export const MODES = ['devmem', 'stock', 'conformance'];
/** The modes a plain `npm run test:vm` boots; conformance is `npm run test:conformance`. */
export const DEFAULT_MODES = ['devmem', 'stock'];

export const USAGE = `usage: npm run test:vm -- [--mode devmem|stock|conformance] [--grep PATTERN] [--timeout SECONDS] [--refresh] [--install]
       npm run test:vm -- --bench [--bench-args='ARGS'] [--bench-out FILE]

Boots Debian's kernel under QEMU (TCG) with the host root shared read-only and runs the
e2e tests inside it: test/e2e/devmem/** with the devmem-capable netdevsim and
test/e2e/stock/** with the stock one. Both modes run by default. The conformance
mode (npm run test:conformance) runs the kernel's own devmem selftests from Debian's
linux-source, unmodified, against \`devmem nc\` with the devmem-capable netdevsim.

options:
  --mode MODE        run one mode only (devmem, stock or conformance)
  --grep PATTERN     passed to mocha --grep inside the guest (not for conformance)
  --timeout SECONDS  limit for each guest boot (default 600, env DEVMEM_VM_TIMEOUT)
  --refresh          ask apt for a newer kernel even if a cached one is usable
  --install          add the apt sources and install the Debian packages that are missing
                     (npm test passes it); without it a missing one is an error naming it
  --bench            instead of the tests, run the receive benchmark (bench/guest/e2e-rx.ts)
                     in devmem mode; its JSON report is printed and kept
  --bench-args=ARGS  arguments for the benchmark (e.g. --bench-args='--runs 5')
  --bench-out FILE   copy the benchmark's JSON report to FILE
  -h, --help         this text

environment:
  DEVMEM_VM_KERNEL=7.3.4+deb13-amd64  use this kernel instead of the newest that fits
  DEVMEM_VM_REFRESH=1                 same as --refresh
  DEVMEM_VM_TIMEOUT=SECONDS           per-boot limit (default 600)
  DEVMEM_VM_TOTAL_TIMEOUT=SECONDS     limit for the whole run, build included (default 3600)
  DEVMEM_VM_CPUS=N                    guest vCPUs (default 1; more than 1 runs multi-threaded TCG,
                                      which can crash the guest, see docs/guest-lab.md)
  DEVMEM_VM_CACHE=DIR                 cache root (default ~/.cache/devmem-tcp)
  DEVMEM_VM_KEEP_WORK=1               keep the build work dir (trixie chroot) for faster rebuilds
  DEVMEM_VM_SUMMARY=FILE              also write {"passed":N,"failed":N,"modes":{...}} to FILE
  DEVMEM_CONFORMANCE_SUITE_TIMEOUT=S  limit for each kernel selftest file in the conformance mode (default 600)
`;

/**
 * @param {string | number} value
 * @param {string} name
 */
function positiveSeconds(value, name) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new HarnessError(`${name} must be a positive number of seconds, got ${JSON.stringify(value)}`);
  return n;
}

/** @param {string | number} value */
function cpuCount(value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new HarnessError(`DEVMEM_VM_CPUS must be a whole number from 1 to 64, got ${JSON.stringify(value)}`);
  return n;
}

/** @param {string | undefined} value */
function flag(value) {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/**
 * @typedef {ReturnType<typeof parseOptions>} Options
 */

/**
 * @param {string[]} [argv]
 * @param {NodeJS.ProcessEnv} [env]
 */
export function parseOptions(argv = process.argv.slice(2), env = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        mode: { type: 'string' },
        grep: { type: 'string' },
        timeout: { type: 'string' },
        refresh: { type: 'boolean' },
        install: { type: 'boolean' },
        bench: { type: 'boolean' },
        'bench-args': { type: 'string' },
        'bench-out': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new HarnessError(`${/** @type {Error} */ (err).message}\n\n${USAGE}`);
  }
  if (parsed.mode !== undefined && !MODES.includes(parsed.mode)) {
    throw new HarnessError(`--mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(parsed.mode)}`);
  }
  if (parsed.mode === 'conformance' && parsed.grep !== undefined) {
    throw new HarnessError('--grep selects mocha tests; the conformance mode runs the kernel selftests whole');
  }
  if (parsed.bench && (parsed.grep !== undefined || (parsed.mode !== undefined && parsed.mode !== 'devmem'))) {
    throw new HarnessError('--bench runs in devmem mode and takes no --grep');
  }
  if (!parsed.bench && (parsed['bench-args'] !== undefined || parsed['bench-out'] !== undefined)) {
    throw new HarnessError('--bench-args and --bench-out need --bench');
  }
  const kernel = env.DEVMEM_VM_KERNEL?.trim() || undefined;
  if (kernel !== undefined && !/^\d+\.\d+\.\d+\+deb\d+-amd64$/.test(kernel)) {
    throw new HarnessError(`DEVMEM_VM_KERNEL must look like 7.3.4+deb13-amd64 (a Debian kernel release), got ${JSON.stringify(kernel)}`);
  }
  return {
    help: parsed.help ?? false,
    modes: parsed.bench ? ['devmem'] : parsed.mode ? [parsed.mode] : [...DEFAULT_MODES],
    bench: parsed.bench ? { args: parsed['bench-args'] ?? '', out: parsed['bench-out'] } : undefined,
    grep: parsed.grep,
    bootTimeoutMs: 1000 * positiveSeconds(parsed.timeout ?? env.DEVMEM_VM_TIMEOUT ?? 600, '--timeout / DEVMEM_VM_TIMEOUT'),
    totalTimeoutMs: 1000 * positiveSeconds(env.DEVMEM_VM_TOTAL_TIMEOUT ?? 3600, 'DEVMEM_VM_TOTAL_TIMEOUT'),
    cpus: cpuCount(env.DEVMEM_VM_CPUS ?? 1),
    selftestTimeoutSeconds: Math.ceil(positiveSeconds(env.DEVMEM_CONFORMANCE_SUITE_TIMEOUT ?? 600, 'DEVMEM_CONFORMANCE_SUITE_TIMEOUT')),
    refresh: (parsed.refresh ?? false) || flag(env.DEVMEM_VM_REFRESH),
    install: parsed.install ?? false,
    kernel,
    cacheRoot: env.DEVMEM_VM_CACHE || join(homedir(), '.cache', 'devmem-tcp'),
    keepWork: flag(env.DEVMEM_VM_KEEP_WORK),
    summaryFile: env.DEVMEM_VM_SUMMARY || undefined,
    color: Boolean(process.stdout.isTTY) && !('NO_COLOR' in env),
  };
}

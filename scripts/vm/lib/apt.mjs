// @ts-check
// Everything the harness needs comes from the Debian archive through apt.
//
// The harness changes the host's apt sources and installs packages only when asked
// (--install, which `npm test` passes); otherwise a missing package or source is an
// error naming what to install.
//
// Debian's kernels with devmem + udmabuf (7.x) are in trixie-backports and their build
// tools need trixie's glibc, so besides the host's own bookworm suites we need
// bookworm-backports, trixie, trixie-updates and trixie-backports. Any that are not
// configured yet are added in one sources file, pinned at priority 100 so that nothing
// on the host is ever upgraded from them by accident; packages are only taken from them
// when asked for by exact name and version.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture, run } from './proc.mjs';
import { step } from './log.mjs';
import { HarnessError } from './errors.mjs';

export const EXTRA_SUITES = ['bookworm-backports', 'trixie', 'trixie-updates', 'trixie-backports'];
const SOURCES_FILE = '/etc/apt/sources.list.d/devmem-tcp-extra.sources';
const PIN_FILE = '/etc/apt/preferences.d/devmem-tcp-extra';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
// Wait for a concurrent apt/dpkg instead of failing at once; download as root into
// directories the _apt sandbox user cannot write.
const APT_OPTS = ['-o', 'DPkg::Lock::Timeout=300', '-o', 'APT::Sandbox::User=root'];

/** The (uri, suite) pairs of every enabled "deb" source, one-line and deb822 formats. */
function configuredSources() {
  const files = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join(dir, name));
    }
  }
  const sources = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (/** @type {string} */ name) => stanza.match(new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi'))?.[1].trim() ?? '';
        if (!field('Types').split(/\s+/).includes('deb')) continue;
        if (/^(no|false)$/i.test(field('Enabled'))) continue;
        for (const uri of field('URIs').split(/\s+/).filter(Boolean)) {
          for (const suite of field('Suites').split(/\s+/).filter(Boolean)) sources.push({ uri, suite });
        }
      }
    } else {
      for (const raw of text.split('\n')) {
        const line = raw
          .replace(/#.*/, '')
          .replace(/\[[^\]]*\]/, ' ')
          .trim();
        const [type, uri, suite] = line.split(/\s+/);
        if (type === 'deb' && uri && suite) sources.push({ uri, suite });
      }
    }
  }
  return sources;
}

/** The host's Debian mirror (the URI it uses for bookworm), else deb.debian.org. */
export function debianMirror() {
  const sources = configuredSources();
  const main = sources.find((s) => s.suite === 'bookworm' || s.suite === 'stable');
  return (main?.uri ?? DEFAULT_MIRROR).replace(/\/+$/, '');
}

/** @type {Promise<void> | undefined} */
let updated;
let installAllowed = false;

/**
 * Whether ensureExtraSources() and ensurePackages() may change the host (--install).
 * @param {boolean} allowed
 */
export function allowInstall(allowed) {
  installAllowed = allowed;
}

/**
 * Adds the missing extra suites (pinned at 100). Returns the suites it added.
 * @returns {string[]}
 */
export function ensureExtraSources() {
  const have = new Set(configuredSources().map((s) => s.suite));
  const missing = EXTRA_SUITES.filter((s) => !have.has(s));
  if (missing.length === 0) return [];
  if (!installAllowed) {
    throw new HarnessError(
      `apt has no ${missing.join(', ')} suites, which the kernel packages come from; ` +
        `run with --install to add them (pinned at priority 100, in ${SOURCES_FILE}), or add them yourself`,
    );
  }
  step(`adding apt sources ${missing.join(', ')} (pinned at priority 100): ${SOURCES_FILE}`);
  writeFileSync(
    SOURCES_FILE,
    `# Added by devmem-tcp's guest test harness (scripts/vm). Safe to remove.\n` +
      `Types: deb\nURIs: ${debianMirror()}\nSuites: ${missing.join(' ')}\nComponents: main\nSigned-By: ${KEYRING}\n`,
  );
  writeFileSync(
    PIN_FILE,
    `# Added by devmem-tcp's guest test harness (scripts/vm): never upgrade from these.\n` +
      missing.map((s) => `Package: *\nPin: release n=${s}\nPin-Priority: 100\n`).join('\n'),
  );
  updated = undefined; // lists fetched before this lack the new suites
  return missing;
}

/**
 * apt-get update, at most once per run (again after sources were added).
 * @returns {Promise<void>}
 */
export function aptUpdate() {
  updated ??= (async () => {
    step('apt-get update');
    await run('apt-get', ['update', '-q', ...APT_OPTS], { env: APT_ENV, capture: true });
  })();
  return updated;
}

/**
 * Names of the given packages that are not installed.
 * @param {string[]} packages
 * @returns {Promise<string[]>}
 */
export async function missingPackages(packages) {
  const { stdout } = await run('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Abbrev}\\n', ...packages], {
    capture: true,
    allowFail: true,
    env: APT_ENV,
  });
  const installed = new Set(
    stdout
      .split('\n')
      .filter((l) => /^\S+ ii/.test(l))
      .map((l) => l.split(' ')[0].replace(/:.*/, '')),
  );
  return packages.filter((p) => !installed.has(p));
}

/**
 * Installs whichever of the packages are missing (non-interactive, no recommends).
 * @param {string[]} packages
 */
export async function ensurePackages(packages) {
  const missing = await missingPackages(packages);
  if (missing.length === 0) return;
  if (!installAllowed) {
    throw new HarnessError(`missing Debian packages: ${missing.join(' ')}; apt-get install ${missing.join(' ')}, or run with --install`);
  }
  if (process.getuid?.() !== 0) {
    throw new HarnessError(`missing Debian packages: ${missing.join(' ')}; run as root (the harness installs them) or install them first`);
  }
  await aptUpdate();
  step(`apt-get install ${missing.join(' ')}`);
  await run(
    'apt-get',
    [
      'install',
      '-y',
      '-q',
      '--no-install-recommends',
      ...APT_OPTS,
      '-o',
      'Dpkg::Options::=--force-confdef',
      '-o',
      'Dpkg::Options::=--force-confold',
      ...missing,
    ],
    { env: APT_ENV, capture: true },
  );
}

/**
 * apt-cache madison for several packages: [{pkg, version, suite}].
 * @param {string[]} packages
 * @returns {Promise<{ pkg: string, version: string, suite: string | undefined }[]>}
 */
export async function madison(packages) {
  if (packages.length === 0) return [];
  const { stdout } = await run('apt-cache', ['madison', ...packages], { capture: true, allowFail: true, env: APT_ENV });
  const rows = [];
  for (const line of stdout.split('\n')) {
    const [pkg, version, source] = line.split('|').map((f) => f.trim());
    if (!pkg || !version || !source || !/ Packages$/.test(source)) continue;
    const suite = source.split(/\s+/)[1]?.split('/')[0];
    rows.push({ pkg, version, suite });
  }
  return rows;
}

/**
 * Package names known to apt that start with prefix.
 * @param {string} prefix
 * @returns {Promise<string[]>}
 */
export async function packageNames(prefix) {
  return (await capture('apt-cache', ['pkgnames', prefix], { env: APT_ENV })).split('\n').filter(Boolean);
}

/**
 * apt-get download pkg=version ... into dir.
 * @param {string[]} specs
 * @param {string} dir
 */
export async function download(specs, dir) {
  await run('apt-get', ['download', '-q', ...APT_OPTS, ...specs], { cwd: dir, env: APT_ENV, capture: true });
}

// @ts-check
// Picks kernel modules out of an extracted Debian module tree, with their dependencies
// in load order, decompressed (busybox insmod in the guest cannot read .ko.xz).
//
// Debian's packages carry no modules.dep (depmod runs at install time) and the host has
// no kmod, so dependencies are read from each module's own .modinfo "depends=" string.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const SUFFIX_RE = /\.ko(\.xz|\.zst|\.gz)?$/;

const canonical = (/** @type {string} */ name) => name.replace(/-/g, '_');

/**
 * @param {string} dir
 * @param {Map<string, string>} [index]
 * @returns {Map<string, string>} module name -> path
 */
function indexTree(dir, index = new Map()) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) indexTree(path, index);
    else if (SUFFIX_RE.test(entry.name)) index.set(canonical(entry.name.replace(SUFFIX_RE, '')), path);
  }
  return index;
}

/**
 * @param {string} modulesDir
 * @returns {Set<string>}
 */
function builtinModules(modulesDir) {
  const file = join(modulesDir, 'modules.builtin');
  if (!existsSync(file)) return new Set();
  return new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((p) => canonical(basename(p).replace(SUFFIX_RE, ''))),
  );
}

/**
 * @param {string} path
 * @returns {Buffer}
 */
export function decompressModule(path) {
  const big = { maxBuffer: 512 << 20 };
  if (path.endsWith('.xz')) return execFileSync('xz', ['-dc', path], big);
  if (path.endsWith('.zst')) return execFileSync('zstd', ['-dcq', path], big);
  if (path.endsWith('.gz')) return execFileSync('gzip', ['-dc', path], big);
  return readFileSync(path);
}

/**
 * The value of a .modinfo key ("depends", "vermagic", ...) of a decompressed module.
 * @param {Buffer} ko
 * @param {string} key
 * @returns {string | undefined}
 */
export function modinfo(ko, key) {
  const text = ko.toString('latin1');
  const m = new RegExp(`(?:^|\\0)${key}=([^\\0]*)\\0`).exec(text);
  return m ? m[1] : undefined;
}

/**
 * Writes the named modules and everything they depend on into outDir as NAME.ko and
 * returns their names in load order (dependencies first). Built-in dependencies are
 * skipped; `extra` maps names to already decompressed modules built elsewhere
 * (netdevsim), whose dependencies are resolved from the tree too but which are not
 * written or listed.
 * @param {object} args
 * @param {string} args.modulesDir
 * @param {string[]} args.names
 * @param {string} args.outDir
 * @param {Map<string, Buffer>} [args.extra]
 * @returns {string[]}
 */
export function collectModules({ modulesDir, names, outDir, extra = new Map() }) {
  const index = indexTree(join(modulesDir, 'kernel'));
  const builtin = builtinModules(modulesDir);
  /** @type {string[]} */
  const order = [];
  /** @type {Map<string, 'visiting' | 'done'>} */
  const state = new Map();

  /**
   * @param {string} name
   * @param {string} [wantedBy]
   */
  const visit = (name, wantedBy) => {
    name = canonical(name);
    if (state.get(name) === 'done' || builtin.has(name)) return;
    if (state.get(name) === 'visiting') throw new Error(`module dependency cycle at ${name}`);
    state.set(name, 'visiting');
    let ko = extra.get(name);
    const isExtra = ko !== undefined;
    if (!isExtra) {
      const path = index.get(name);
      if (!path)
        throw new Error(`kernel module ${name}${wantedBy ? ` (needed by ${wantedBy})` : ''} is neither in the module tree nor built in`);
      ko = decompressModule(path);
    }
    for (const dep of (modinfo(/** @type {Buffer} */ (ko), 'depends') ?? '').split(',').filter(Boolean)) visit(dep, name);
    if (!isExtra) {
      writeFileSync(join(outDir, `${name}.ko`), /** @type {Buffer} */ (ko));
      order.push(name);
    }
    state.set(name, 'done');
  };
  for (const name of names) visit(name);
  for (const [name] of extra) visit(name);
  return order;
}

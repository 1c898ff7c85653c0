#!/usr/bin/env node
// @ts-check
// Builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer
// (g++, -fno-sanitize-recover: any report aborts) into
// build-asan/devmem_tcp.node (outside build/, which node-gyp and
// prebuildify wipe), next to, not over, the normal build: the
// sources and defines come from binding.gyp, so both builds compile the
// same code. Loaded through DEVMEM_TCP_ADDON (lib/native.ts).
//
// Usage: node scripts/asan/build.mjs   (prints the .node path last)
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const asanAddon = path.join(root, 'build-asan/devmem_tcp.node');
export const sanitizeFlags = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'];

function nodeInclude() {
  const candidates = /** @type {string[]} */ (
    [
      process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include/node'),
      path.resolve(path.dirname(process.execPath), '../include/node'),
      '/usr/include/node',
    ].filter(Boolean)
  );
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h')));
  if (!dir) throw new Error(`no node_api.h in ${candidates.join(', ')}: install Node's headers (Debian: nodejs package)`);
  return dir;
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @returns {Promise<void>}
 */
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: root, stdio: 'inherit' });
    p.on('error', reject);
    p.on('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.at(-1)}: exit ${code ?? sig}`))));
  });
}

/**
 * The parts of a binding.gyp target the sanitizer build reads.
 * @typedef {{ target_name: string, sources: string[], cflags_cc: string[], defines: string[], include_dirs: string[] }} GypTarget
 */

/** @returns {Promise<string>} the built .node file */
export async function buildAsanAddon() {
  /** @type {{ targets: GypTarget[] }} */
  const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
  const target = /** @type {GypTarget} */ (gyp.targets.find((t) => t.target_name === 'devmem_tcp'));
  const cxx = process.env.CXX ?? 'g++';
  const napi = (await import('node-addon-api')).default;
  const common = [
    ...target.cflags_cc.filter((f) => !/^-O/.test(f)),
    '-O1',
    '-g',
    '-fPIC',
    ...sanitizeFlags,
    ...target.defines.map((d) => `-D${d}`),
    '-DNAPI_CPP_EXCEPTIONS',
    '-DBUILDING_NODE_EXTENSION',
    '-DNODE_GYP_MODULE_NAME=devmem_tcp',
    `-I${nodeInclude()}`,
    `-I${path.resolve(root, napi.include_dir)}`,
    ...target.include_dirs.map((d) => `-I${path.join(root, d)}`),
  ];
  // binding.gyp's liburing condition (io_uring zcrx), the same way.
  const liburing = execFileSync(process.execPath, [path.join(root, 'scripts/find-liburing.cjs')], { encoding: 'utf8' }).trim();
  if (liburing) common.push('-DDEVMEM_HAVE_LIBURING=1', '-idirafter', path.join(root, 'native/uapi/compat'));
  const objDir = path.join(root, 'build-asan/obj');
  fs.mkdirSync(objDir, { recursive: true });
  const objs = target.sources.map((s) => path.join(objDir, s.replace(/[/.]/g, '_') + '.o'));
  // Compile in parallel, a job per core.
  const queue = target.sources.map((s, i) => /** @type {[string, string]} */ ([s, objs[i]]));
  const workers = Array.from({ length: Math.max(1, os.availableParallelism()) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await run(cxx, [...common, '-c', path.join(root, job[0]), '-o', job[1]]);
  });
  await Promise.all(workers);
  await run(cxx, ['-shared', ...sanitizeFlags, '-o', asanAddon, ...objs, ...(liburing ? [liburing] : [])]);
  return asanAddon;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildAsanAddon().then(
    (p) => console.log(p),
    (e) => {
      console.error(`asan build: ${e.message}`);
      process.exit(1);
    },
  );
}

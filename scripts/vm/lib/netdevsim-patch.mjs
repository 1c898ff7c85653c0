// @ts-check
// The devmem-e2e netdevsim patch (netdevsim/devmem-e2e.patch, GPL-2.0): its identity
// for the cache, and applying it to a netdevsim source tree. When it does not apply,
// the error names the hunk (file, number, and the function from its @@ line), which is
// what someone rebasing the patch needs to know.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.mjs';

/** @typedef {ReturnType<typeof loadPatch>} Patch */

/** @param {string} repoRoot */
export function loadPatch(repoRoot) {
  const path = join(repoRoot, 'netdevsim', 'devmem-e2e.patch');
  const text = readFileSync(path, 'utf8');
  return { path, text, sha256: createHash('sha256').update(text).digest('hex') };
}

// Hunk headers per file, in order: Map(file -> ['@@ -5,6 +5,9 @@ func...'])
/** @param {string} patchText */
function hunksByFile(patchText) {
  /** @type {Map<string, string[]>} */
  const hunks = new Map();
  /** @type {string | undefined} */
  let file;
  for (const line of patchText.split('\n')) {
    const target = /^\+\+\+ (?:[ab]\/)?(\S+)/.exec(line);
    if (target) {
      file = target[1];
      hunks.set(file, []);
    } else if (file && line.startsWith('@@ ')) {
      /** @type {string[]} */ (hunks.get(file)).push(line);
    }
  }
  return hunks;
}

// Turns patch(1)'s complaints into "netdev.c hunk #2 of 6 (@@ ... @@ static int nsim_rcv(...)" lines.
/**
 * @param {string} patchText
 * @param {string} output
 * @returns {string[]}
 */
function describeFailures(patchText, output) {
  const hunks = hunksByFile(patchText);
  const failures = [];
  /** @type {string | undefined} */
  let file;
  for (const line of output.split('\n')) {
    const checking = /^(?:checking|patching) file (\S+)/.exec(line);
    if (checking) file = checking[1];
    const failed = /^Hunk #(\d+) FAILED/.exec(line);
    if (failed && file) {
      const n = Number(failed[1]);
      const list = hunks.get(file) ?? [];
      failures.push(`${file} hunk #${n} of ${list.length}: ${list[n - 1] ?? '(unknown hunk)'}`);
    }
    const missing = /can't find file to patch|No file to patch/.exec(line);
    if (missing) failures.push(`${file ?? 'a file'}: file to patch not found`);
  }
  return failures.length ? failures : [output.trim().split('\n').slice(-5).join(' | ') || 'patch failed'];
}

/**
 * Applies (or with dryRun only checks) the patch inside dir, strictly (no fuzz).
 * Returns { ok: true } or { ok: false, failures: [...] }.
 * @param {Patch} patch
 * @param {string} dir
 * @param {{ dryRun?: boolean }} [options]
 * @returns {Promise<{ ok: true } | { ok: false, failures: string[] }>}
 */
export async function applyPatch(patch, dir, { dryRun = false } = {}) {
  const args = ['-p1', '--fuzz=0', '--forward', '--batch', '--no-backup-if-mismatch', '-i', patch.path, '-d', dir];
  if (dryRun) args.push('--dry-run');
  const { code, stdout, stderr } = await run('patch', args, { capture: true, allowFail: true });
  if (code === 0) return { ok: true };
  return { ok: false, failures: describeFailures(patch.text, `${stdout}\n${stderr}`) };
}

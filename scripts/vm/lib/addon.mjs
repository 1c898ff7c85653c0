// @ts-check
// The guest loads the addon the host built (build/Release/*.node, same absolute path
// through the read-only root share), so it must exist before the guest boots.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './errors.mjs';
import { note, step } from './log.mjs';
import { run } from './proc.mjs';

/**
 * @param {string} repoRoot
 * @returns {string[]}
 */
function builtAddons(repoRoot) {
  const dir = join(repoRoot, 'build', 'Release');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
}

/** @param {string} repoRoot */
export async function ensureAddon(repoRoot) {
  const found = builtAddons(repoRoot);
  if (found.length) {
    step(`addon: build/Release/${found.join(', build/Release/')}`);
    return;
  }
  if (!existsSync(join(repoRoot, 'binding.gyp'))) {
    note('no binding.gyp in this tree (the addon is not here yet): skipping the addon build; the guest runs without it');
    return;
  }
  step('addon: build/Release/*.node missing, running npm run build:native');
  await run('npm', ['run', 'build:native'], { cwd: repoRoot });
  const built = builtAddons(repoRoot);
  if (!built.length) throw new HarnessError('npm run build:native succeeded but left no build/Release/*.node');
  step(`addon: built build/Release/${built.join(', build/Release/')}`);
}

// @ts-check
// Tests run the CLI (`devmem nc`) as the compiled JavaScript in dist/, because
// loading it through tsx over the guest's 9p root takes seconds per process.
// Compiling here, on the host, keeps dist/ in step with the sources under test.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { note, step } from './log.mjs';
import { run } from './proc.mjs';

/** @param {string} repoRoot */
export async function ensureCompiledCli(repoRoot) {
  if (!existsSync(join(repoRoot, 'tsconfig.build.json'))) {
    note('no tsconfig.build.json in this tree: the guest runs without a compiled CLI');
    return;
  }
  step('cli: tsc -p tsconfig.build.json (dist/ for the CLI tests)');
  await run(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: repoRoot });
}

#!/usr/bin/env node
// @ts-check
// Build dependencies the addon links statically: liburing (2.9 or later, for
// io_uring zcrx; see scripts/find-liburing.cjs). Debian 12 ships 2.3, so
// Debian's 2.9 comes from trixie, pinned like the guest lab's packages.
// With --install (what `npm test` passes) it is installed when missing;
// without, a missing liburing is reported and the addon builds without zcrx.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowInstall, aptUpdate, ensureExtraSources } from './vm/lib/apt.mjs';
import { run } from './vm/lib/proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const found = () => execFileSync(process.execPath, [path.join(root, 'scripts/find-liburing.cjs')], { encoding: 'utf8' }).trim();

if (found()) {
  console.log(`liburing: ${found()}`);
} else if (!process.argv.includes('--install')) {
  console.log('liburing: none (2.9 or later); the addon builds without io_uring zcrx. Install liburing-dev, or run with --install');
} else {
  allowInstall(true);
  ensureExtraSources();
  await aptUpdate();
  console.log('liburing: apt-get install -t trixie liburing-dev');
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', '-t', 'trixie', 'liburing-dev'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    capture: true,
  });
  if (!found()) throw new Error('liburing-dev was installed but no liburing.a of 2.9 or later was found');
  console.log(`liburing: ${found()}`);
}

import { execFileSync } from 'node:child_process';

/** True when running as root; kernel tests that need it skip with a printed reason otherwise. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function requireRoot(ctx: Mocha.Context): void {
  if (!isRoot()) {
    console.log('    (skipped: needs root to create network namespaces and veth pairs)');
    ctx.skip();
  }
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

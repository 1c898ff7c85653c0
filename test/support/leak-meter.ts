/**
 * Resource counting for leak tests: open fds and RSS, after a forced GC.
 * Bounds are generous on purpose; these tests look for growth per cycle
 * (a leak of one fd or a few KiB per cycle shows up over 1000 cycles), not
 * at a number that depends on the allocator.
 */
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
/** A full GC, whether or not node was started with --expose-gc. */
export const gc = vm.runInNewContext('gc') as () => void;

export const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

/**
 * Under AddressSanitizer (npm run test:asan) freed memory sits in ASan's
 * quarantine, so RSS grows with every allocation and says nothing about
 * leaks; the fd checks still hold, and LSan covers native memory there.
 */
export const rssMeaningful = !/libasan/.test(process.env.LD_PRELOAD ?? '');

/** Asserts `rssDelta` stays under `bound`, where RSS means something. */
export function checkRss(rssDelta: number, bound: number): void {
  if (!rssMeaningful) return;
  if (rssDelta >= bound) throw new Error(`RSS grew by ${rssDelta} bytes (bound ${bound})`);
}

export interface Usage {
  fds: number;
  rss: number;
}

/** fds and RSS once the loop has run its close callbacks and GC has run. */
export async function usage(): Promise<Usage> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  return { fds: openFds(), rss: process.memoryUsage().rss };
}

/**
 * Runs `cycle` `n` times after a warm-up of `warm` cycles (first-use
 * allocations: module loading, caches, pools) and returns what grew.
 */
export async function measure(
  n: number,
  cycle: (i: number) => Promise<void> | void,
  warm = 50,
): Promise<{ fdDelta: number; rssDelta: number; before: Usage; after: Usage }> {
  for (let i = 0; i < warm; i++) await cycle(i);
  const before = await usage();
  for (let i = 0; i < n; i++) await cycle(i);
  const after = await usage();
  return { fdDelta: after.fds - before.fds, rssDelta: after.rss - before.rss, before, after };
}

/** Waits up to `ms` for the open-fd count to come back to `expected`. */
export async function fdsSettle(expected: number, ms = 3000): Promise<number> {
  let now = openFds();
  for (let t = 0; now !== expected && t < ms; t += 50) {
    await new Promise((r) => setTimeout(r, 50));
    now = openFds();
  }
  return now;
}

// @ts-check
// The glibc a prebuild needs: the highest GLIBC_ version among the symbol
// versions its .node file references (readelf reads any architecture's ELF).
// The floors below are what README's requirements table states; the prebuild
// refuses an addon that needs more, so a toolchain change cannot raise them
// unnoticed.
import { execFileSync } from 'node:child_process';

/** @type {Record<string, string>} */
export const GLIBC_FLOOR = { x64: '2.34', arm64: '2.34' };

/**
 * @param {string} a
 * @param {string} b
 */
export function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/**
 * What a .node file needs: its machine and the highest GLIBC_ and GLIBCXX_ versions it references.
 * @param {string} file
 * @returns {{ machine: string, glibc: string, glibcxx: string | undefined }}
 */
export function elfNeeds(file) {
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' });
  const machine = /Machine:\s+(.*)/.exec(header)?.[1]?.trim() ?? 'unknown';
  const versions = execFileSync('readelf', ['-V', '-W', file], { encoding: 'utf8' });
  const highest = (/** @type {string} */ prefix) =>
    [...versions.matchAll(new RegExp(`Name: ${prefix}_([0-9.]+)`, 'g'))]
      .map((m) => /** @type {string} */ (m[1]))
      .sort(compareVersions)
      .pop();
  const glibc = highest('GLIBC');
  if (!glibc) throw new Error(`${file} references no GLIBC_ symbol version`);
  return { machine, glibc, glibcxx: highest('GLIBCXX') };
}

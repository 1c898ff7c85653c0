'use strict';
// The guest suite's stream pattern: the byte at stream position i. Its
// i >>> 13 term changes it every 8 KiB, so a page delivered twice, dropped or
// out of order shows as mismatches. Plain JS, so the senders and receivers the
// tests start in the remote namespace (test/e2e/fixtures/*.cjs) load it without
// tsx and start fast under TCG; the tests import it through pattern.d.cts.
function patternByte(i) {
  return (i * 7 + (i >>> 13)) & 0xff;
}

/** `length` bytes of the pattern from stream position `offset`. */
function pattern(offset, length) {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = patternByte(offset + i);
  return b;
}

/**
 * Counts the bytes of `data` that differ from the pattern, `data` starting at
 * stream position `pos`; calls onMismatch(position) for each, when given.
 */
function countMismatches(data, pos, onMismatch) {
  let bad = 0;
  for (let i = 0; i < data.length; i++)
    if (data[i] !== patternByte(pos + i)) {
      bad++;
      if (onMismatch) onMismatch(pos + i);
    }
  return bad;
}

module.exports = { patternByte, pattern, countMismatches };

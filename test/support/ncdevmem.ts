/**
 * ncdevmem's -v pattern, as the tests define it: byte i of the stream is
 * (i+1) mod N, with 0 sent as '\n', so one period of `-v 7` is
 * "\x01\x02\x03\x04\x05\x06\n" (what `yes "$(printf '\1\2\3\4\5\6')"` prints).
 * The CLI has its own implementation (bin/nc/pattern.ts validates it,
 * `devmem peer --pattern` sends it); the tests check the CLI against this
 * one, so the two are written apart on purpose. test/host/nc-cli.test.ts
 * pins the CLI's validator to literal bytes.
 */

/** The byte at stream position `position` of the period-`period` pattern. */
export function ncdevmemByte(position: number, period: number): number {
  return (position + 1) % period || 0x0a;
}

/** `length` bytes of the pattern from stream position `offset`. */
export function ncdevmemPattern(period: number, length: number, offset = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = ncdevmemByte(offset + i, period);
  return out;
}

/** Checks a stream against the pattern chunk by chunk, counting the bytes that differ. */
export class NcdevmemValidator {
  /** Stream position of the next byte. */
  position = 0;
  mismatches = 0;

  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1 || period > 255) throw new RangeError(`the pattern period must be 1..255, got ${period}`);
  }

  /** Checks the next bytes of the stream; returns how many of them differ. */
  check(data: Uint8Array): number {
    let bad = 0;
    // The seed steps through 0..period-1 instead of a division per byte: the soak checks gigabytes.
    let seed = (this.position + 1) % this.period;
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== (seed || 0x0a)) bad++;
      if (++seed === this.period) seed = 0;
    }
    this.position += data.length;
    this.mismatches += bad;
    return bad;
  }
}

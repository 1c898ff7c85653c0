/**
 * ncdevmem's -v pattern: byte i of the stream is (i+1) mod N, with 0 written
 * as '\n'. So `-v 7` expects what `yes $(echo -e \\x01\\x02\\x03\\x04\\x05\\x06)`
 * prints. Unlike ncdevmem (see docs/kernel-notes.md#ncdevmem), any mismatch
 * fails the run; the first few are reported with their stream position.
 */
export interface Mismatch {
  position: number;
  expected: number;
  actual: number;
}

export class PatternValidator {
  readonly period: number;
  /** Stream position of the next byte. */
  position = 0;
  mismatches = 0;
  readonly #report: Mismatch[] = [];
  readonly #reportLimit: number;

  constructor(period: number, reportLimit = 20) {
    if (!Number.isInteger(period) || period < 1 || period > 255) throw new RangeError(`the pattern period must be 1..255, got ${period}`);
    this.period = period;
    this.#reportLimit = reportLimit;
  }

  static expected(position: number, period: number): number {
    const seed = (position + 1) % period;
    return seed === 0 ? 0x0a : seed;
  }

  /** Checks the next bytes of the stream; returns the mismatches found in them that are still within the report limit. */
  check(data: Uint8Array): Mismatch[] {
    const found: Mismatch[] = [];
    let seed = (this.position + 1) % this.period;
    for (let i = 0; i < data.length; i++) {
      const want = seed === 0 ? 0x0a : seed;
      if (data[i] !== want) {
        this.mismatches++;
        if (this.#report.length < this.#reportLimit) {
          const m = { position: this.position + i, expected: want, actual: data[i]! };
          this.#report.push(m);
          found.push(m);
        }
      }
      seed = seed + 1 === this.period ? 0 : seed + 1;
    }
    this.position += data.length;
    return found;
  }
}

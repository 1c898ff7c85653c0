// KTAP output (Documentation/dev-tools/ktap.rst) with kselftest's totals line
// and exit codes: 0 pass, 1 fail, 4 skip.
export const KSFT_PASS = 0;
export const KSFT_FAIL = 1;
export const KSFT_SKIP = 4;

export type CaseResult = { status: 'pass' } | { status: 'fail'; reason: string } | { status: 'skip'; reason: string };

export class Ktap {
  #n = 0;
  readonly counts = { pass: 0, fail: 0, skip: 0 };
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
    this.#write = write;
  }

  plan(count: number): void {
    this.#write('KTAP version 1');
    this.#write(`1..${count}`);
  }

  diag(text: string): void {
    for (const line of text.split('\n')) this.#write(`# ${line}`);
  }

  result(name: string, r: CaseResult): void {
    this.#n++;
    this.counts[r.status]++;
    const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' | ');
    if (r.status === 'pass') this.#write(`ok ${this.#n} ${name}`);
    else if (r.status === 'skip') this.#write(`ok ${this.#n} ${name} # SKIP ${oneLine(r.reason)}`);
    else {
      this.diag(r.reason);
      this.#write(`not ok ${this.#n} ${name}`);
    }
  }

  /** The totals lines and the kselftest exit code: fail beats pass, and all-skipped is skip. */
  finish(): number {
    const { pass, fail, skip } = this.counts;
    this.#write(`# Totals: pass:${pass} fail:${fail} xfail:0 xpass:0 skip:${skip} error:0`);
    this.#write(`# ${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}`);
    if (fail > 0) return KSFT_FAIL;
    if (pass === 0 && skip > 0) return KSFT_SKIP;
    return KSFT_PASS;
  }
}

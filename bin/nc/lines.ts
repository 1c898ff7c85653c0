/**
 * Splits a byte stream into lines that keep their '\n', as getline(3) does
 * for ncdevmem's TX loop; a last line without one is kept as it is.
 */
export async function* lines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer, void, undefined> {
  let pending: Buffer[] = [];
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, from)) {
      pending.push(buf.subarray(from, nl + 1));
      yield Buffer.concat(pending);
      pending = [];
      from = nl + 1;
    }
    if (from < buf.length) pending.push(Buffer.from(buf.subarray(from)));
  }
  if (pending.length > 0) yield Buffer.concat(pending);
}

/**
 * A byte stream whose every byte says where it belongs, and a reader that
 * checks each batch against it: for the loopback tests, which move host
 * bytes through DevmemSocket and must prove nothing was lost or reordered.
 */
import type { DevmemSocket } from '../../../lib/index';

/** `length` bytes of the stream from `offset` on. */
export function pattern(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = ((offset + i) * 7 + ((offset + i) >>> 13)) & 0xff;
  return b;
}

/**
 * Reads `peer` to the end, checking every batch's bytes against the stream;
 * with `slow`, a turn of the event loop after each, so the socket falls
 * behind its sender. `bad` counts the batches that did not match.
 */
export async function receiveChecked(peer: DevmemSocket, slow = false): Promise<{ got: number; bad: number }> {
  let got = 0;
  let bad = 0;
  for await (const b of peer) {
    const out = b.copyOut(undefined);
    const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    if (!bytes.equals(pattern(got, bytes.length))) bad++;
    got += bytes.length;
    if (slow) await new Promise(setImmediate);
  }
  return { got, bad };
}

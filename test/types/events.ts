// Compile-time checks of the public event maps: `npm run check` and `npm test`
// typecheck this file (nothing runs it). A listener with the wrong shape, or
// an event a class does not have, fails the typecheck.
import type { DevmemSocket, RxBinding, TxBinding } from '../../lib/index';

export function listenersTypeCheck(sock: DevmemSocket, rx: RxBinding, tx: TxBinding): void {
  sock.on('starved', (info) => void info.idleMs.toFixed());
  sock.on('releaseError', (err) => void err.advice.length);
  sock.on('shortRelease', (r) => void r.freed.toFixed());
  sock.on('deviceRemoved', (err) => void err.reason);
  sock.on('end', () => undefined);
  rx.on('deviceRemoved', (err) => void err.code);
  tx.once('deviceRemoved', (err) => void err.message);
  // @ts-expect-error: a DevmemSocket has no 'data' event (batches come from read() or iteration)
  sock.on('data', () => undefined);
  // @ts-expect-error: 'starved' reports an object, not a number
  sock.on('starved', (ms: number) => void ms);
  // @ts-expect-error: bindings have only 'deviceRemoved'
  rx.on('close', () => undefined);
}

/**
 * The fragment pipeline's receive source, one definition for every bench
 * that replays: a DevmemSocket over testing.replaySocket(), fed `fragments`
 * fragments of 4 KiB in control areas of `perRecvmsg` (consecutive tokens,
 * one binding), batches of `batch`, and outstanding limits far enough above a
 * batch that reading never stops for them.
 */
import { DevmemSocket } from '../lib/index';
import { native } from '../lib/internal';
import { dmabufControl } from './cmsg';

/** The replayed fragments' size. */
export const REPLAY_FRAGMENT_SIZE = 4096;

export function replaySocket(fragments: number, perRecvmsg: number, batch: number): DevmemSocket {
  const size = REPLAY_FRAGMENT_SIZE;
  const controls = Array.from({ length: Math.ceil(batch / perRecvmsg) }, (_, r) =>
    dmabufControl({ fragments: perRecvmsg, fragmentSize: size, firstToken: 1 + r * perRecvmsg, dmabufId: 1 }),
  );
  const nat = native().testing.replaySocket(
    controls,
    controls.map(() => perRecvmsg * size),
    Math.ceil(fragments / perRecvmsg),
  );
  return new DevmemSocket(nat, {
    binding: { id: 1 },
    batchFragments: batch,
    batchBytes: batch * size,
    maxOutstandingFragments: 8 * batch + perRecvmsg,
    maxOutstandingBytes: (8 * batch + perRecvmsg) * size,
  });
}

/**
 * Writes the fuzzers' seed corpora (fuzz/corpus/<target>/) from the same
 * ABI-exact byte builders the host tests use, framed the way each target
 * reads its input (see the header comment of fuzz/<target>.cc). The output
 * is committed; rerun after changing a builder:
 *   node --import=tsx scripts/fuzz/make-seeds.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { control, MSG_CTRUNC, type Frag } from '../../test/host/helpers/cmsg';
import { attr, genl, nest, NLM_F_MULTI, nldone, nlerr, nlmsg, str, u32, u64, u8 } from '../../test/host/helpers/nlbytes';

const root = path.resolve(__dirname, '../..');
const SEQ = 9;
const FAM = 0x1a;

function le32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function le16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

/** netlink_reply input: [flags][seq] then [len u16][datagram]... */
function reply(dump: boolean, commandIndex: number, datagrams: Buffer[]): Buffer {
  const flags = (dump ? 1 : 0) | (commandIndex << 1);
  return Buffer.concat([Buffer.from([flags]), le32(SEQ), ...datagrams.flatMap((d) => [le16(d.length), d])]);
}

/** rx_recvmsg input: [flags][expected id][nbytes][controllen][limits] control iov */
function recv(frags: Frag[], nbytes: number, opts: { flags?: number; id?: number; limits?: number; ctl?: Buffer } = {}): Buffer {
  const ctl = opts.ctl ?? control(frags);
  const f = opts.flags === MSG_CTRUNC ? 1 : 0;
  return Buffer.concat([
    Buffer.from([f]),
    le32(opts.id ?? 0),
    le32(nbytes),
    le16(ctl.length),
    Buffer.from([opts.limits ?? 0x21]),
    ctl,
    Buffer.alloc(nbytes, 0x5a),
  ]);
}

const queue = (id: number, type: number, dmabuf?: number) =>
  nlmsg(
    FAM,
    NLM_F_MULTI,
    SEQ,
    genl(10, attr(1, u32(id)), attr(2, u32(3)), attr(3, u32(type)), attr(4, u32(0x101)), ...(dmabuf ? [attr(5, u32(dmabuf))] : [])),
  );

/**
 * A multicast datagram as the device watch reads it. The target takes the
 * family id for ParseDeviceEvents from the low 16 bits of the sequence
 * number, so that is FAM here; notifications carry sequence number 0.
 */
function notifications(messages: Buffer[]): Buffer {
  const dgram = Buffer.concat(messages);
  return Buffer.concat([Buffer.from([0]), le32(FAM), le16(dgram.length), dgram]);
}

const seeds: Record<string, Record<string, Buffer>> = {
  netlink_reply: {
    'dev-del-ntf-multicast': notifications([
      nlmsg(FAM, 0, 0, genl(2, attr(1, u32(3)))),
      nlmsg(FAM, 0, 0, genl(3, attr(1, u32(7)))),
      nlmsg(FAM, 0, 0, genl(3, attr(4, u32(0)), attr(1, u32(9)))),
    ]),
    'queue-dump-two-datagrams': reply(true, 0, [Buffer.concat([queue(0, 0, 4), queue(1, 0)]), Buffer.concat([queue(0, 1), nldone(SEQ)])]),
    'dump-error-in-done-with-extack': reply(true, 1, [queue(0, 0), nldone(SEQ, -95, [attr(1, str('not supported')), attr(2, u32(20))])]),
    'bind-rx-reply-and-ack': reply(false, 2, [Buffer.concat([nlmsg(FAM, 0, SEQ, genl(13, attr(4, u32(7)))), nlerr(SEQ, 0)])]),
    'ack-extack-message-offset': reply(false, 2, [
      nlerr(SEQ, -22, [attr(1, str('designated queue already memory provider bound')), attr(2, u32(36))]),
    ]),
    'ack-extack-missing-attr-nest': reply(false, 2, [nlerr(SEQ, -22, [attr(5, u32(3)), attr(6, u32(20))])]),
    'stale-then-current': reply(true, 0, [
      nlmsg(FAM, NLM_F_MULTI, SEQ - 1, genl(10, attr(1, u32(1)))),
      Buffer.concat([queue(2, 0), nldone(SEQ)]),
    ]),
    'page-pool-uint-widths': reply(true, 3, [
      Buffer.concat([
        nlmsg(
          FAM,
          NLM_F_MULTI,
          SEQ,
          genl(5, attr(1, u32(5)), attr(2, u32(3)), attr(3, u64(0x1234n)), attr(4, u64(1n << 40n)), attr(7, u32(2))),
        ),
        nldone(SEQ),
      ]),
    ]),
    'nlctrl-family': reply(false, 4, [
      Buffer.concat([
        nlmsg(
          16,
          0,
          SEQ,
          genl(
            1,
            attr(1, Buffer.from([FAM, 0])),
            attr(2, str('netdev')),
            attr(3, u32(1)),
            attr(5, u32(12)),
            nest(6, nest(1, attr(1, u32(13)), attr(2, u32(0x3)))),
            nest(7, nest(1, attr(1, str('mgmt')), attr(2, u32(4)))),
          ),
        ),
        nlerr(SEQ, 0),
      ]),
    ]),
    'nested-ethtool-header': reply(false, 8, [
      Buffer.concat([
        nlmsg(FAM, 0, SEQ, genl(0x12, nest(1, attr(1, u32(3)), attr(2, str('eth0'))), attr(2, u32(4096)), attr(11, u8(2)))),
        nlerr(SEQ, 0),
      ]),
    ]),
  },
  rx_recvmsg: {
    'dmabuf-only': recv(
      [
        { type: 'dmabuf', offset: 8192, size: 40, token: 7, id: 3 },
        { type: 'dmabuf', offset: 0, size: 100, token: 8, id: 3 },
      ],
      140,
      { id: 3 },
    ),
    'linear-and-dmabuf': recv(
      [
        { type: 'linear', size: 4 },
        { type: 'dmabuf', offset: 4096, size: 64, token: 2, id: 1 },
        { type: 'linear', size: 3 },
      ],
      71,
      { id: 1 },
    ),
    'foreign-id': recv(
      [
        { type: 'dmabuf', size: 10, token: 1, id: 3 },
        { type: 'dmabuf', size: 10, token: 2, id: 9 },
      ],
      20,
      { id: 3 },
    ),
    'host-data': recv([], 64),
    ctrunc: recv([{ type: 'dmabuf', size: 10, token: 5, id: 1 }], 10, { flags: MSG_CTRUNC }),
    'token-runs': recv(
      Array.from({ length: 40 }, (_, i) => ({
        type: 'dmabuf' as const,
        offset: i * 4096,
        size: 16,
        token: i < 20 ? 100 + i : 500 + 2 * i,
        id: 2,
      })),
      40 * 16,
      { id: 2, limits: 0x13 },
    ),
  },
};

for (const [target, files] of Object.entries(seeds)) {
  const dir = path.join(root, 'fuzz/corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  console.log(`${target}: ${Object.keys(files).length} seeds in ${path.relative(root, dir)}`);
}

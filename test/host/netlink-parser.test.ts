import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { attr, genl, nest, NLM_F_MULTI, nldone, nlerr, nlmsg, str, u32, u64, u8 } from './helpers/nlbytes';

const FAMILY = 0x1a; // any dynamic id: the collector does not care which
const SEQ = 77;
const t = () => native().testing;

function queueMsg(id: number, type: number, dmabuf?: number): Buffer {
  const attrs = [attr(1, u32(id)), attr(2, u32(9)), attr(3, u32(type)), attr(4, u32(0x101))];
  if (dmabuf !== undefined) attrs.push(attr(5, u32(dmabuf)));
  return nlmsg(FAMILY, NLM_F_MULTI, SEQ, genl(10, ...attrs));
}

describe('netlink reply parsing (ABI-exact byte buffers)', () => {
  it('decodes a multi-part dump spread over several datagrams', () => {
    const r = t().decodeReplies('netdev', 'queue-get', true, SEQ, [
      Buffer.concat([queueMsg(0, 0, 4), queueMsg(1, 0)]),
      Buffer.concat([queueMsg(0, 1), nldone(SEQ)]),
    ]);
    assert.equal(r.complete, true);
    assert.equal(r.error, 0);
    assert.deepEqual(r.messages, [
      { id: 0, ifindex: 9, type: 'rx', napiId: 0x101, dmabuf: 4 },
      { id: 1, ifindex: 9, type: 'rx', napiId: 0x101 },
      { id: 0, ifindex: 9, type: 'tx', napiId: 0x101 },
    ]);
  });

  it('is incomplete until NLMSG_DONE arrives', () => {
    const r = t().decodeReplies('netdev', 'queue-get', true, SEQ, [queueMsg(0, 0)]);
    assert.equal(r.complete, false);
  });

  it('skips stale replies carrying another sequence number', () => {
    const stale = nlmsg(FAMILY, NLM_F_MULTI, SEQ - 1, genl(10, attr(1, u32(99))));
    const r = t().decodeReplies('netdev', 'queue-get', true, SEQ, [Buffer.concat([stale, queueMsg(3, 0), nldone(SEQ)])]);
    assert.equal(r.skippedStale, 1);
    assert.deepEqual(
      r.messages.map((m) => m.id),
      [3],
    );
  });

  it('accepts uint attributes of 4 and of 8 bytes', () => {
    const pool = (idBytes: Buffer, inflight: Buffer) =>
      nlmsg(FAMILY, NLM_F_MULTI, SEQ, genl(5, attr(1, idBytes), attr(2, u32(3)), attr(4, inflight), attr(7, u32(2))));
    const r = t().decodeReplies('netdev', 'page-pool-get', true, SEQ, [
      Buffer.concat([pool(u32(7), u64(5n)), pool(u64(8n), u64(2n ** 60n)), nldone(SEQ)]),
    ]);
    assert.deepEqual(r.messages, [
      { id: 7, ifindex: 3, inflight: 5, dmabuf: 2 },
      { id: 8, ifindex: 3, inflight: 2n ** 60n, dmabuf: 2 },
    ]);
  });

  it('rejects a uint attribute that is neither 4 nor 8 bytes', () => {
    const bad = nlmsg(FAMILY, NLM_F_MULTI, SEQ, genl(5, attr(1, Buffer.alloc(6))));
    assert.throws(() => t().decodeReplies('netdev', 'page-pool-get', true, SEQ, [bad]), {
      code: 'EPROTO',
      message: /uint attribute "id" is 6 bytes/,
    });
  });

  it('reads the errno and extack TLVs of a capped NLMSG_ERROR', () => {
    const tlvs = [attr(1, str('tcp-data-split is disabled')), attr(2, u32(20))];
    const r = t().decodeReplies('netdev', 'bind-rx', false, SEQ, [nlerr(SEQ, -22, tlvs)]);
    assert.equal(r.complete, true);
    assert.equal(r.error, -22);
    assert.equal(r.extack?.message, 'tcp-data-split is disabled');
    assert.equal(r.extack?.offset, 20);
  });

  it('reads the missing-attribute type', () => {
    const r = t().decodeReplies('netdev', 'bind-rx', false, SEQ, [nlerr(SEQ, -22, [attr(5, u32(3))])]);
    assert.equal(r.extack?.missingType, 3);
  });

  it('takes a do reply followed by its ACK', () => {
    const reply = nlmsg(FAMILY, 0, SEQ, genl(13, attr(4, u32(12))));
    const r = t().decodeReplies('netdev', 'bind-rx', false, SEQ, [Buffer.concat([reply, nlerr(SEQ, 0)])]);
    assert.equal(r.complete, true);
    assert.deepEqual(r.messages, [{ id: 12 }]);
  });

  it('reports an error in NLMSG_DONE with its extack', () => {
    const r = t().decodeReplies('netdev', 'queue-get', true, SEQ, [nldone(SEQ, -19, [attr(1, str('gone'))])]);
    assert.equal(r.error, -19);
    assert.equal(r.extack?.message, 'gone');
  });

  it('decodes nested and repeated attributes', () => {
    const msg = nlmsg(
      FAMILY,
      0,
      SEQ,
      genl(13, attr(1, u32(2)), nest(2, attr(1, u32(0)), attr(3, u32(0))), nest(2, attr(1, u32(5)), attr(3, u32(0)))),
    );
    const r = t().decodeReplies('netdev', 'bind-rx', false, SEQ, [Buffer.concat([msg, nlerr(SEQ, 0)])]);
    assert.deepEqual(r.messages[0], {
      ifindex: 2,
      queues: [
        { id: 0, type: 'rx' },
        { id: 5, type: 'rx' },
      ],
    });
  });

  it('decodes ethtool rings with a header nest', () => {
    const msg = nlmsg(
      FAMILY,
      0,
      SEQ,
      genl(16, nest(1, attr(1, u32(4)), attr(2, str('eth9'))), attr(6, u32(512)), attr(11, u8(2)), attr(17, u32(0))),
    );
    const r = t().decodeReplies('ethtool', 'rings-get', false, SEQ, [Buffer.concat([msg, nlerr(SEQ, 0)])]);
    assert.deepEqual(r.messages[0], { header: { devIndex: 4, devName: 'eth9' }, rx: 512, tcpDataSplit: 'enabled', hdsThresh: 0 });
  });

  describe('enum and flags values are named from the kernel spec', () => {
    const decode = (family: 'netdev' | 'ethtool', command: string, cmd: number, ...attrs: Buffer[]) =>
      t().decodeReplies(family, command, false, SEQ, [Buffer.concat([nlmsg(FAMILY, 0, SEQ, genl(cmd, ...attrs)), nlerr(SEQ, 0)])])
        .messages[0];

    it('names each enum value, and leaves one newer than the table a number', () => {
      assert.deepEqual(decode('ethtool', 'rings-get', 16, attr(11, u8(0))), { tcpDataSplit: 'unknown' });
      assert.deepEqual(decode('ethtool', 'rings-get', 16, attr(11, u8(1))), { tcpDataSplit: 'disabled' });
      assert.deepEqual(decode('ethtool', 'rings-get', 16, attr(11, u8(7))), { tcpDataSplit: 7 });
      assert.deepEqual(decode('netdev', 'napi-get', 11, attr(8, u32(2))), { threaded: 'busy-poll' });
      assert.deepEqual(decode('netdev', 'qstats-get', 12, attr(2, u32(1))), { queueType: 'tx' });
    });

    it('turns a flags mask into the names of its bits, an unnamed bit as bit-N', () => {
      const dev = decode('netdev', 'dev-get', 1, attr(3, u64(0b1000011n)), attr(5, u64(0n)), attr(6, u64((1n << 2n) | (1n << 40n))));
      assert.deepEqual(dev, {
        xdpFeatures: ['basic', 'redirect', 'ndo-xmit-sg'],
        xdpRxMetadataFeatures: [],
        xskFeatures: ['tx-launch-time-fifo', 'bit-40'],
      });
      assert.deepEqual(decode('netdev', 'qstats-get', 12, attr(4, u32(1))), { scope: ['queue'] });
    });

    it('encodes names to the values the kernel defines', () => {
      const value = (command: string, attrs: Record<string, unknown>, path: string, family: 'netdev' | 'ethtool' = 'netdev') => {
        const { bytes, locations } = t().encodeRequest(family, command, attrs, command.endsWith('-get'));
        const at = locations.find((l) => l.path === path)!.offset;
        return bytes.readUInt16LE(at) === 5 ? bytes.readUInt8(at + 4) : bytes.readUInt32LE(at + 4);
      };
      assert.equal(value('queue-get', { type: 'tx' }, 'type'), 1);
      assert.equal(value('queue-get', { type: 'rx' }, 'type'), 0);
      assert.equal(value('qstats-get', { scope: ['queue'] }, 'scope'), 1);
      assert.equal(value('rings-set', { tcpDataSplit: 'enabled' }, 'tcpDataSplit', 'ethtool'), 2);
      assert.equal(value('rings-set', { tcpDataSplit: 'unknown' }, 'tcpDataSplit', 'ethtool'), 0);
      // A raw number still passes, for writing back a value newer than the table.
      assert.equal(value('rings-set', { tcpDataSplit: 1 }, 'tcpDataSplit', 'ethtool'), 1);
    });

    it('rejects a name the spec does not define with a RangeError listing the names', () => {
      assert.throws(() => t().encodeRequest('ethtool', 'rings-set', { tcpDataSplit: 'on' }, false), {
        name: 'RangeError',
        message: /"tcpDataSplit" must be one of 'unknown', 'disabled', 'enabled', got 'on'/,
      });
      assert.throws(() => t().encodeRequest('netdev', 'qstats-get', { scope: ['device'] }, true), {
        name: 'RangeError',
        message: /an array of 'queue'/,
      });
      assert.throws(() => t().encodeRequest('netdev', 'queue-get', { type: true }, false), {
        name: 'TypeError',
        message: /"type" must be one of 'rx', 'tx'/,
      });
    });
  });

  describe('malformed input raises a clear error and never crashes', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['a truncated header', Buffer.alloc(10), /truncated netlink header/],
      [
        'a message length beyond the datagram',
        (() => {
          const m = queueMsg(0, 0);
          m.writeUInt32LE(4096, 0);
          return m;
        })(),
        /does not fit/,
      ],
      [
        'a message length below the header size',
        (() => {
          const m = queueMsg(0, 0);
          m.writeUInt32LE(8, 0);
          return m;
        })(),
        /does not fit/,
      ],
      [
        'an attribute overrunning its message',
        nlmsg(FAMILY, NLM_F_MULTI, SEQ, Buffer.concat([Buffer.from([10, 1, 0, 0]), Buffer.from([200, 0, 1, 0, 0, 0, 0, 0])])),
        /overrun/,
      ],
      [
        'an attribute length below 4',
        nlmsg(FAMILY, NLM_F_MULTI, SEQ, Buffer.concat([Buffer.from([10, 1, 0, 0]), Buffer.from([2, 0, 1, 0])])),
        /overrun/,
      ],
      ['a u32 attribute of 2 bytes', nlmsg(FAMILY, NLM_F_MULTI, SEQ, genl(10, attr(1, Buffer.alloc(2)))), /"id" has 2 bytes, expected 4/],
      [
        'nesting deeper than sent (a nest where a scalar belongs)',
        nlmsg(FAMILY, NLM_F_MULTI, SEQ, genl(10, nest(1, attr(1, u32(1))))),
        /nest where a scalar was expected/,
      ],
      ['an NLMSG_ERROR too short to hold the echoed header', nlmsg(2, 0, SEQ, Buffer.alloc(8)), /NLMSG_ERROR too short/],
      ['a positive error code', nlerr(SEQ, 5), /positive error/],
      ['a genl message shorter than its header', nlmsg(FAMILY, NLM_F_MULTI, SEQ, Buffer.alloc(0)), /shorter than its fixed header/],
    ];
    for (const [name, bytes, why] of cases) {
      it(`rejects ${name}`, () => {
        // A truncated datagram must stay the last thing received to stay truncated.
        const gram = bytes.length < 16 ? bytes : Buffer.concat([bytes, nldone(SEQ)]);
        assert.throws(
          () => t().decodeReplies('netdev', 'queue-get', true, SEQ, [gram]),
          (e: any) => {
            assert.equal(e.code, 'EPROTO');
            assert.match(e.message, why);
            return true;
          },
        );
      });
    }

    it('survives random corruption of a valid dump', () => {
      const good = Buffer.concat([queueMsg(0, 0, 4), queueMsg(1, 0), nldone(SEQ)]);
      let seed = 12345;
      const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
      for (let i = 0; i < 3000; i++) {
        const b = Buffer.from(good);
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        const cut = rand() < 0.3 ? Math.floor(rand() * b.length) : b.length;
        try {
          t().decodeReplies('netdev', 'queue-get', true, SEQ, [b.subarray(0, cut)]);
        } catch (e: any) {
          assert.equal(e.code, 'EPROTO', String(e));
        }
      }
    });
  });

  describe('request encoding', () => {
    it('lays out bind-rx as the kernel expects, with NLA_F_NESTED on each queue nest', () => {
      const { bytes, locations } = t().encodeRequest(
        'netdev',
        'bind-rx',
        {
          ifindex: 3,
          fd: 7,
          queues: [
            { id: 1, type: 'rx' },
            { id: 2, type: 'rx' },
          ],
        },
        false,
      );
      assert.equal(bytes.readUInt32LE(0), bytes.length);
      assert.equal(bytes.readUInt16LE(6), 0x1 | 0x4); // NLM_F_REQUEST | NLM_F_ACK
      assert.deepEqual([...bytes.subarray(16, 20)], [13, 1, 0, 0]);
      assert.deepEqual(
        locations.map((l) => [l.offset, l.path]),
        [
          [20, 'ifindex'],
          [28, 'queues[0]'],
          [32, 'queues[0].id'],
          [40, 'queues[0].type'],
          [48, 'queues[1]'],
          [52, 'queues[1].id'],
          [60, 'queues[1].type'],
          [68, 'fd'],
        ],
      );
      assert.equal(bytes.readUInt16LE(28), 20);
      assert.equal(bytes.readUInt16LE(30), 2 | 0x8000);
      assert.equal(bytes.readUInt32LE(72), 7);
    });

    it('rejects unknown attribute names and out-of-range values before sending', () => {
      assert.throws(() => t().encodeRequest('netdev', 'bind-rx', { ifindx: 3 }, false), {
        name: 'TypeError',
        message: /unknown netlink attribute "ifindx"/,
      });
      assert.throws(() => t().encodeRequest('netdev', 'bind-rx', { ifindex: 2 ** 32 }, false), { name: 'TypeError', message: /"ifindex"/ });
      assert.throws(() => t().encodeRequest('netdev', 'bind-rx', { fd: -1 }, false), TypeError);
      assert.throws(() => t().encodeRequest('netdev', 'bind-rx', { queues: [{ id: 'x' }] }, false), { message: /queues\[0\]\.id/ });
      assert.throws(() => t().encodeRequest('netdev', 'bind-rx', {}, true), /cannot be dumped/);
    });
  });
});

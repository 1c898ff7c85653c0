// n-tuple rule encoding against the documented ethtool_rx_flow_spec layout
// (kernel-uapi reference 4.3), the address helpers, and the ioctls' error
// paths on a real veth, which has neither n-tuple filters nor an RSS table.
import * as assert from 'node:assert/strict';

import * as fs from 'node:fs';
import * as net from 'node:net';

import { createRssContext, DevmemError, ethtool, getRssContext, incomingNapiId, NicConfig } from '../../lib/index';
import { encodeFlowRule, flowTypeFor } from '../../lib/flow-rules';
import { bytesToIp, ipToBytes, unmapIpv4 } from '../../lib/ip';
import { native } from '../../lib/native';
import { equalIndirection, isDefaultIndirection } from '../../lib/rss';
import { contextIndirection } from '../../lib/rss-context';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

// struct ethtool_rx_flow_spec offsets
const FLOW_TYPE = 0;
const H_U = 4;
const M_U = 76;
const M_EXT = 128;
const RING_COOKIE = 152;
const LOCATION = 160;
// struct ethtool_rxnfc offsets: the spec, and rss_context (a union with rule_cnt)
const NFC_FS = 16;
const NFC_RSS_CONTEXT = 184;
const FLOW_RSS = 0x20000000;

describe('n-tuple flow rules', () => {
  describe('encoding (ABI layout)', () => {
    it('a tcp4 5-tuple puts addresses and ports in network order with all-ones masks', () => {
      const fs = native().testing.encodeFlowRule(
        encodeFlowRule({ flowType: 'tcp4', srcIp: '10.0.0.2', dstIp: '10.0.0.1', srcPort: 0x1234, dstPort: 5201, queue: 7 }),
      );
      assert.equal(fs.length, 168);
      assert.equal(fs.readUInt32LE(FLOW_TYPE), 1); // TCP_V4_FLOW
      assert.deepEqual([...fs.subarray(H_U, H_U + 4)], [10, 0, 0, 2]); // ip4src
      assert.deepEqual([...fs.subarray(H_U + 4, H_U + 8)], [10, 0, 0, 1]); // ip4dst
      assert.equal(fs.readUInt16BE(H_U + 8), 0x1234); // psrc
      assert.equal(fs.readUInt16BE(H_U + 10), 5201); // pdst
      assert.equal(fs.readUInt32LE(M_U), 0xffffffff);
      assert.equal(fs.readUInt32LE(M_U + 4), 0xffffffff);
      assert.equal(fs.readUInt16LE(M_U + 8), 0xffff);
      assert.equal(fs.readUInt16LE(M_U + 10), 0xffff);
      assert.equal(fs[M_U + 12], 0, 'tos is not matched');
      assert.ok(
        fs.subarray(M_EXT, M_EXT + 20).every((b) => b === 0),
        'no FLOW_EXT fields',
      );
      assert.equal(fs.readBigUInt64LE(RING_COOKIE), 7n);
      assert.equal(fs.readUInt32LE(LOCATION), 0xffffffff, 'RX_CLS_LOC_ANY: the driver places it');
    });

    it('a tcp6 3-tuple leaves the source unmatched (zero mask)', () => {
      const fs = native().testing.encodeFlowRule(encodeFlowRule({ flowType: 'tcp6', dstIp: 'fd77::1', dstPort: 80, queue: 3 }));
      assert.equal(fs.readUInt32LE(FLOW_TYPE), 5); // TCP_V6_FLOW
      assert.ok(
        fs.subarray(M_U, M_U + 16).every((b) => b === 0),
        'ip6src mask',
      );
      assert.ok(
        fs.subarray(M_U + 16, M_U + 32).every((b) => b === 0xff),
        'ip6dst mask',
      );
      assert.deepEqual([...fs.subarray(H_U + 16, H_U + 32)], [0xfd, 0x77, ...new Array(13).fill(0), 1]);
      assert.equal(fs.readUInt16BE(H_U + 34), 80);
      assert.equal(fs.readUInt16LE(M_U + 32), 0, 'psrc unmatched');
    });

    it('decodes what it encodes, and refuses to model partial masks', () => {
      const fs = native().testing.encodeFlowRule(
        encodeFlowRule({ flowType: 'tcp6', srcIp: '2001:db8::9', dstIp: 'fd77::1', srcPort: 1, dstPort: 2, queue: 1 }),
      );
      fs.writeUInt32LE(42, LOCATION);
      const r = native().testing.decodeFlowRule(fs);
      assert.equal(r.location, 42);
      assert.equal(r.queue, 1);
      assert.equal(bytesToIp(r.tcp!.src!), '2001:db8::9');
      assert.equal(r.tcp!.srcPort, 1);
      assert.deepEqual(r.raw, fs);
      fs[M_U + 3] = 0xf0; // a /28-ish source mask: not a rule this library writes
      assert.equal(native().testing.decodeFlowRule(fs).tcp, undefined);
      fs.writeBigUInt64LE(0xffffffffffffffffn, RING_COOKIE);
      assert.equal(native().testing.decodeFlowRule(fs).queue, -1, 'RX_CLS_FLOW_DISC is a drop rule');
    });

    it('a FLOW_RSS rule sets the flag in flow_type and its context beside the spec (ETHTOOL_SRXCLSRLINS)', () => {
      const rule = encodeFlowRule({ flowType: 'tcp4', dstIp: '10.0.0.1', dstPort: 5201, queue: 0, rssContext: 3 });
      const spec = native().testing.encodeFlowRule(rule);
      assert.equal(spec.readUInt32LE(FLOW_TYPE), FLOW_RSS | 1, 'TCP_V4_FLOW | FLOW_RSS');
      assert.equal(spec.readBigUInt64LE(RING_COOKIE), 0n, 'no offset on top of the context table');
      const nfc = native().testing.encodeFlowRuleInsert(rule);
      assert.equal(nfc.length, 192);
      assert.equal(nfc.readUInt32LE(0), 0x32, 'ETHTOOL_SRXCLSRLINS');
      assert.deepEqual(nfc.subarray(NFC_FS, NFC_FS + 168), spec, 'the same spec at offset 16');
      assert.equal(nfc.readUInt32LE(NFC_RSS_CONTEXT), 3, 'rss_context');
      // An ordinary rule leaves rss_context (rule_cnt) zero and the flag clear.
      const plain = native().testing.encodeFlowRuleInsert(encodeFlowRule({ flowType: 'tcp6', dstPort: 1, queue: 2 }));
      assert.equal(plain.readUInt32LE(NFC_FS + FLOW_TYPE), 5);
      assert.equal(plain.readUInt32LE(NFC_RSS_CONTEXT), 0);
      // Context 0 is the main table: still a FLOW_RSS rule.
      const main = native().testing.encodeFlowRuleInsert(encodeFlowRule({ flowType: 'tcp6', dstPort: 1, queue: 0, rssContext: 0 }));
      assert.equal(main.readUInt32LE(NFC_FS + FLOW_TYPE), FLOW_RSS | 5);
    });

    it('decodes a FLOW_RSS rule with the context GRXCLSRULE reported', () => {
      const spec = native().testing.encodeFlowRule(
        encodeFlowRule({ flowType: 'tcp6', dstIp: 'fd77::1', dstPort: 80, queue: 0, rssContext: 2 }),
      );
      const r = native().testing.decodeFlowRule(spec, 2);
      assert.equal(r.flowType, FLOW_RSS | 5);
      assert.equal(r.rssContext, 2);
      assert.equal(r.tcp?.rss, true);
      assert.equal(r.tcp?.dstPort, 80);
      const plain = native().testing.decodeFlowRule(
        native().testing.encodeFlowRule(encodeFlowRule({ flowType: 'tcp4', dstPort: 80, queue: 1 })),
        9,
      );
      assert.equal(plain.rssContext, undefined, 'rss_context means nothing without FLOW_RSS');
      assert.equal(plain.tcp?.rss, undefined);
    });

    it('refuses bad RSS contexts in a rule before any syscall', () => {
      for (const c of [-1, 1.5, 0xffffffff])
        assert.throws(() => encodeFlowRule({ flowType: 'tcp4', queue: 0, rssContext: c }), /rssContext/);
      assert.throws(() => encodeFlowRule({ flowType: 'tcp4', queue: 0, rssContext: '1' } as never), TypeError);
    });

    it('ETHTOOL_SRSSH creates a context with ETH_RXFH_CONTEXT_ALLOC and deletes one with indir_size 0', () => {
      const create = native().testing.encodeRssContextCreate(Uint32Array.from([4, 5, 6, 4]));
      assert.equal(create.length, 24 + 16, 'struct ethtool_rxfh (24 bytes) and the table');
      assert.equal(create.readUInt32LE(0), 0x47, 'ETHTOOL_SRSSH');
      assert.equal(create.readUInt32LE(4), 0xffffffff, 'rss_context ETH_RXFH_CONTEXT_ALLOC');
      assert.equal(create.readUInt32LE(8), 4, 'indir_size');
      assert.equal(create.readUInt32LE(12), 0, 'key_size 0: no key');
      assert.ok(
        create.subarray(16, 24).every((b) => b === 0),
        'hfunc ETH_RSS_HASH_NO_CHANGE, input_xfrm and the reserved fields 0',
      );
      assert.deepEqual(
        [4, 5, 6, 4],
        [0, 1, 2, 3].map((i) => create.readUInt32LE(24 + 4 * i)),
      );
      const del = native().testing.encodeRssContextDelete(7);
      assert.equal(del.length, 24);
      assert.deepEqual(
        [0x47, 7, 0, 0, 0, 0],
        [0, 1, 2, 3, 4, 5].map((i) => del.readUInt32LE(4 * i)),
      );
    });

    it('refuses bad rules before any syscall', () => {
      const bad: [unknown, RegExp][] = [
        [{ flowType: 'udp4', dstIp: '10.0.0.1', queue: 0 }, /flowType/],
        [{ flowType: 'tcp4', dstIp: 'fd77::1', queue: 0 }, /not an IPv4 address/],
        [{ flowType: 'tcp6', dstIp: '10.0.0.1', queue: 0 }, /not an IPv6 address/],
        [{ flowType: 'tcp4', dstIp: '10.0.0.1', dstPort: 70000, queue: 0 }, /port from 0 to 65535/],
        [{ flowType: 'tcp4', dstIp: '10.0.0.1', queue: -1 }, /non-negative/],
        [{ flowType: 'tcp4', dstIp: 'not-an-ip', queue: 0 }, /not an IPv4 or IPv6 address/],
      ];
      for (const [rule, re] of bad) assert.throws(() => encodeFlowRule(rule as never), re);
      assert.throws(() => encodeFlowRule({ flowType: 'tcp4', queue: '1' } as never), TypeError);
    });

    it('an IPv4-mapped IPv6 address makes a tcp4 rule with the plain IPv4 address', () => {
      assert.equal(flowTypeFor('::ffff:10.1.2.3'), 'tcp4');
      assert.equal(flowTypeFor('fd77::2'), 'tcp6');
      const enc = encodeFlowRule({ flowType: 'tcp4', dstIp: '::ffff:10.1.2.3', queue: 0 });
      assert.deepEqual([...enc.dst!], [10, 1, 2, 3]);
    });
  });

  describe('IP text and bytes', () => {
    it('round-trips IPv4, IPv6 with ::, and embedded dotted quads', () => {
      const cases: [string, string][] = [
        ['10.77.1.1', '10.77.1.1'],
        ['fd77::1', 'fd77::1'],
        ['::', '::'],
        ['::1', '::1'],
        ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
        ['2001:DB8::8:800:200C:417A', '2001:db8::8:800:200c:417a'],
        ['::ffff:192.0.2.1', '::ffff:c000:201'],
        ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
        ['fe80::1%eth0', 'fe80::1'],
      ];
      for (const [text, canonical] of cases) assert.equal(bytesToIp(ipToBytes(text)), canonical, text);
      assert.deepEqual([...unmapIpv4(ipToBytes('::ffff:192.0.2.1'))!], [192, 0, 2, 1]);
      assert.equal(unmapIpv4(ipToBytes('fd77::1')), undefined);
    });
  });

  describe('RSS helpers', () => {
    it('builds equal tables and recognises the kernel default', () => {
      assert.deepEqual([...equalIndirection(8, 3)], [0, 1, 2, 0, 1, 2, 0, 1]);
      assert.ok(isDefaultIndirection(equalIndirection(128, 4), 4));
      assert.ok(!isDefaultIndirection(equalIndirection(128, 3), 4));
    });

    it('spreads a context table over the given queues in turn', () => {
      assert.deepEqual([...contextIndirection(8, [4, 5, 6])], [4, 5, 6, 4, 5, 6, 4, 5]);
      assert.throws(() => contextIndirection(8, []), /at least one queue/);
    });
  });

  describe('SO_INCOMING_NAPI_ID', () => {
    it('is null for a loopback connection (no NAPI instance) and an error for a descriptor that is no socket', async () => {
      const srv = net.createServer((c) => c.end());
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const { port } = srv.address() as net.AddressInfo;
      const c = net.connect(port, '127.0.0.1');
      await new Promise<void>((r) => c.once('connect', r));
      try {
        assert.equal(incomingNapiId((c as unknown as { _handle: { fd: number } })._handle.fd), null);
      } finally {
        c.destroy();
        srv.close();
      }
      const fd = fs.openSync('/dev/null', 'r');
      try {
        assert.throws(
          () => incomingNapiId(fd),
          (e: unknown) => e instanceof DevmemError && e.code === 'ENOTSOCK',
        );
      } finally {
        fs.closeSync(fd);
      }
      assert.throws(() => incomingNapiId(-1), /non-negative integer/);
    });
  });

  describe('on a veth (no n-tuple filters, no RSS table)', () => {
    let veth: VethPair;
    before(function () {
      requireRoot(this);
      veth = new VethPair(4, 4).create();
    });
    after(() => veth?.remove());

    it('adding, deleting and listing rules give NTUPLE_UNSUPPORTED', () => {
      const isUnsupported = (e: unknown) => e instanceof DevmemError && e.reason === 'NTUPLE_UNSUPPORTED' && e.code === 'ENOTSUP';
      assert.throws(() => ethtool.addFlowRule(veth.local, { flowType: 'tcp4', dstIp: '10.0.0.1', dstPort: 1, queue: 0 }), isUnsupported);
      assert.throws(() => ethtool.deleteFlowRule(veth.local, 0), isUnsupported);
      assert.throws(() => ethtool.listFlowRules(veth.local), isUnsupported);
    });

    it('the RSS table gives RSS_UNSUPPORTED', () => {
      assert.throws(
        () => ethtool.getRssIndirection(veth.local),
        (e: unknown) => e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED',
      );
      assert.throws(
        () => ethtool.setRssIndirection(veth.local, null),
        (e: unknown) => e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED',
      );
    });

    it('RSS contexts give RSS_UNSUPPORTED, and reserveQueues() changes nothing', async () => {
      const isUnsupported = (e: unknown) => e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED';
      assert.throws(() => getRssContext(veth.local, 1), isUnsupported);
      await assert.rejects(createRssContext(veth.local, [0]), isUnsupported);
      const nic = await NicConfig.open(veth.local, { restoreOnExit: false });
      try {
        await assert.rejects(nic.reserveQueues(1), isUnsupported);
        assert.equal(nic.pending, false);
      } finally {
        nic.close();
      }
    });

    it('rx-ntuple-filter reads off, and turning it on is refused as NTUPLE_UNSUPPORTED', () => {
      assert.equal(ethtool.getNtupleFilter(veth.local), false);
      assert.throws(
        () => ethtool.setNtupleFilter(veth.local, true),
        (e: unknown) => e instanceof DevmemError && e.reason === 'NTUPLE_UNSUPPORTED',
      );
      assert.equal(ethtool.getNtupleFilter(veth.local), false);
      ethtool.setNtupleFilter(veth.local, false); // already off: no ioctl, no error
    });

    it('take the interface by index as well as by name (InterfaceSpec), with the same answers', () => {
      assert.equal(ethtool.getNtupleFilter(veth.ifindex), ethtool.getNtupleFilter(veth.local));
      assert.throws(
        () => ethtool.listFlowRules(veth.ifindex),
        (e: unknown) => e instanceof DevmemError && e.reason === 'NTUPLE_UNSUPPORTED',
      );
      assert.throws(
        () => ethtool.getRssIndirection(veth.ifindex),
        (e: unknown) => e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED',
      );
      assert.throws(
        () => ethtool.getRssIndirection(0x7ffffff0),
        (e: unknown) => e instanceof DevmemError && e.reason === 'NO_SUCH_DEVICE',
      );
      assert.throws(
        () => ethtool.listFlowRules(''),
        (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT',
      );
    });

    it('an unknown interface is NO_SUCH_DEVICE', () => {
      assert.throws(
        () => ethtool.listFlowRules('dmt-nope0'),
        (e: unknown) => e instanceof DevmemError && e.reason === 'NO_SUCH_DEVICE',
      );
    });
  });
});

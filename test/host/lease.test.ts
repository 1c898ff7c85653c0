// Queue leasing where the host kernel can answer: the queue-create request's
// bytes, argument checks made before any syscall, namespace ids read and
// assigned through rtnetlink, and the kernel-feature check (the host's 6.18
// has no queue-create; the guest lab's 7.3 runs the real thing, see
// test/e2e/devmem/lease.test.ts).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';

import { DevmemError, leaseQueue, netdev } from '../../lib/index';
import { native } from '../../lib/native';
import { requireRoot, ip } from './helpers/root';
import { VethPair } from './helpers/veth';

const t = () => native().testing;

interface NetlinkSpec {
  commands: { name: string; id: number; canDump: boolean; request?: string; reply?: string }[];
  sets: Record<string, { type: number; name: string; kind: string }[]>;
}

describe('queue leasing (host)', function () {
  describe('queue-create encoding', () => {
    it('lays out the request as the kernel spec says: queue attrs, a lease nest, a queue-id nest inside', () => {
      const { bytes, locations } = t().encodeRequest(
        'netdev',
        'queue-create',
        { ifindex: 7, type: 'rx', lease: { ifindex: 3, queue: { id: 2, type: 'rx' }, netnsId: 0 } },
        false,
      );
      assert.equal(bytes.readUInt32LE(0), bytes.length);
      assert.equal(bytes.length, 76);
      assert.equal(bytes.readUInt16LE(6), 0x1 | 0x4); // NLM_F_REQUEST | NLM_F_ACK
      // genlmsghdr: cmd 16 (queue-create), version 1.
      assert.deepEqual([...bytes.subarray(16, 20)], [16, 1, 0, 0]);
      // prettier-ignore
      const expected = [
        8, 0, 2, 0, 7, 0, 0, 0,          // NETDEV_A_QUEUE_IFINDEX 7
        8, 0, 3, 0, 0, 0, 0, 0,          // NETDEV_A_QUEUE_TYPE rx
        40, 0, 8, 0x80,                  // NETDEV_A_QUEUE_LEASE | NLA_F_NESTED
        8, 0, 1, 0, 3, 0, 0, 0,          //   NETDEV_A_LEASE_IFINDEX 3
        20, 0, 2, 0x80,                  //   NETDEV_A_LEASE_QUEUE | NLA_F_NESTED
        8, 0, 1, 0, 2, 0, 0, 0,          //     NETDEV_A_QUEUE_ID 2
        8, 0, 3, 0, 0, 0, 0, 0,          //     NETDEV_A_QUEUE_TYPE rx
        8, 0, 3, 0, 0, 0, 0, 0,          //   NETDEV_A_LEASE_NETNS_ID 0 (s32)
      ];
      assert.deepEqual([...bytes.subarray(20)], expected);
      assert.deepEqual(
        locations.map((l) => [l.offset, l.path]),
        [
          [20, 'ifindex'],
          [28, 'type'],
          [36, 'lease'],
          [40, 'lease.ifindex'],
          [48, 'lease.queue'],
          [52, 'lease.queue.id'],
          [60, 'lease.queue.type'],
          [68, 'lease.netnsId'],
        ],
      );
    });

    it('encodes a negative netns id as the s32 it is', () => {
      const { bytes } = t().encodeRequest(
        'netdev',
        'queue-create',
        { ifindex: 7, type: 'rx', lease: { ifindex: 3, queue: { id: 0, type: 'rx' }, netnsId: -1 } },
        false,
      );
      assert.equal(bytes.readInt32LE(bytes.length - 4), -1);
    });

    it('the codec speaks queue-create with the kernel numbering, the lease set included', () => {
      // netlinkSpec() is the spec check's entry point (scripts/vm/lib/spec-check.mjs), untyped in lib/native.ts.
      const spec = (t() as unknown as { netlinkSpec(f: string): NetlinkSpec }).netlinkSpec('netdev');
      const cmd = spec.commands.find((c) => c.name === 'queue-create');
      assert.deepEqual(cmd, { name: 'queue-create', id: 16, canDump: false, request: 'queue', reply: 'queue' });
      assert.deepEqual(
        spec.sets.lease!.map((a) => [a.type, a.name, a.kind]),
        [
          [1, 'ifindex', 'u32'],
          [2, 'queue', 'nest'],
          [3, 'netnsId', 's32'],
        ],
      );
    });
  });

  describe('argument checks, before any syscall', () => {
    const bad = async (opts: unknown, re: RegExp, reason = 'INVALID_ARGUMENT') => {
      await assert.rejects(leaseQueue(opts as never), (e: unknown) => {
        assert.ok(e instanceof DevmemError, String(e));
        assert.equal(e.reason, reason);
        assert.match(e.message, re);
        return true;
      });
    };

    it('rejects a bad queue, a bad interface and an into without exactly one of name and ifindex', async () => {
      await bad({ physical: 'lo', queue: -1, into: 'lo' }, /non-negative integer, got -1/);
      await bad({ physical: 'lo', queue: 1.5, into: 'lo' }, /non-negative integer, got 1.5/);
      await bad({ physical: 'no such name!', queue: 0, into: 'lo' }, /not a valid interface name/);
      await bad({ physical: 'lo', queue: 0, into: { netns: 'x' } }, /exactly one of name and ifindex/);
      await bad({ physical: 'lo', queue: 0, into: { netns: 'x', name: 'a', ifindex: 2 } }, /exactly one of name and ifindex/);
      await bad({ physical: 'lo', queue: 0, into: { netns: '..', name: 'a' } }, /not a netns name/);
      await bad({ physical: 'lo', queue: 0, into: { netns: 0, name: 'a' } }, /netns pid must be a positive integer/);
      await assert.rejects(leaseQueue(null as never), TypeError);
    });

    it('netdev.createQueue() checks its request the same way', async () => {
      const req = (lease: unknown, type: unknown = 'rx') => netdev.createQueue({ ifindex: 5, type, lease } as never);
      await assert.rejects(req({ ifindex: 3, queue: 0 }, 'tx'), { reason: 'INVALID_ARGUMENT', message: /only RX queues/ });
      await assert.rejects(req({ ifindex: 0, queue: 0 }), { reason: 'INVALID_ARGUMENT', message: /ifindex must be a positive/ });
      await assert.rejects(req({ ifindex: 3, queue: -2 }), { reason: 'INVALID_ARGUMENT', message: /leased queue/ });
      await assert.rejects(req({ ifindex: 3, queue: 0, netnsId: -1 }), { reason: 'INVALID_ARGUMENT', message: /netnsId/ });
      await assert.rejects(req(undefined), TypeError);
    });
  });

  describe('against the running kernel', function () {
    let veth: VethPair;

    before(function () {
      requireRoot(this);
      veth = new VethPair(2, 2).create();
    });
    after(() => veth?.remove());

    it('reads the id a namespace has for ours, assigning one first when it has none', () => {
      // A namespace of its own: the veth pair's already has an id for ours.
      const name = `${veth.netns}-ids`;
      ip('netns', 'add', name);
      const there = fs.openSync(`/run/netns/${name}`, 'r');
      const here = fs.openSync('/proc/self/ns/net', 'r');
      try {
        const before = ip('netns', 'exec', name, 'ip', 'netns', 'list-id');
        assert.equal(before.trim(), '', `a fresh namespace has no ids yet: ${before}`);
        const id = native().netnsPeerId(there, here);
        assert.ok(Number.isInteger(id) && id >= 0, `id ${id}`);
        const after = ip('netns', 'exec', name, 'ip', 'netns', 'list-id');
        assert.match(after, new RegExp(`^nsid ${id}\\b`, 'm'));
        assert.equal(native().netnsPeerId(there, here), id, 'the second call reads the same id');
      } finally {
        fs.closeSync(there);
        fs.closeSync(here);
        ip('netns', 'del', name);
      }
    });

    it('runs a request inside another namespace: the peer end is found there and not here', async () => {
      const fd = fs.openSync(`/run/netns/${veth.netns}`, 'r');
      const links = await native()
        .netlinkRequest('rtnl', 'link-get', {}, true, fd)
        .finally(() => fs.closeSync(fd));
      assert.ok(links.some((l) => l.ifname === veth.peer));
      assert.ok(!links.some((l) => l.ifname === veth.local));
      const kind = links.find((l) => l.ifname === veth.peer)?.linkinfo as { kind?: string } | undefined;
      assert.equal(kind?.kind, 'veth');
    });

    it('names an unknown namespace as NO_SUCH_DEVICE before anything changes', async function () {
      const fam = await netdev.netdevFamily();
      if (!fam.has('queue-create')) this.skip();
      await assert.rejects(leaseQueue({ physical: veth.local, queue: 0, into: { netns: 'dmt-no-such-ns', name: 'x' } }), {
        reason: 'NO_SUCH_DEVICE',
        message: /cannot open network namespace \/run\/netns\/dmt-no-such-ns/,
      });
    });

    it('a kernel without queue-create gives KERNEL_TOO_OLD from leaseQueue() and createQueue()', async function () {
      const fam = await netdev.netdevFamily();
      if (fam.has('queue-create')) this.skip(); // the guest lab covers kernels that have it
      await assert.rejects(leaseQueue({ physical: veth.local, queue: 0, into: { netns: veth.netns, name: veth.peer } }), {
        reason: 'KERNEL_TOO_OLD',
        message: /queue-create .*Linux 7\.1/,
      });
      const local = fs.readFileSync(`/sys/class/net/${veth.local}/ifindex`, 'utf8');
      await assert.rejects(netdev.createQueue({ ifindex: Number(local), type: 'rx', lease: { ifindex: Number(local), queue: 0 } }), {
        reason: 'KERNEL_TOO_OLD',
      });
    });
  });
});

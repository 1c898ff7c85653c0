// Queue leasing into a netkit container (netdev queue-create, Linux 7.1+), the
// way Kubernetes with netkit reaches devmem: a queue of the patched netdevsim
// leased to the guest end of a netkit pair inside its own namespace, `devmem
// nc -n` there receiving and sending through it, and every refusal named
// before anything changes. As in nk_devmem.py, the physical NIC's set-up
// (header split, the flow rule) is done outside the container.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import { allocUdmabuf, bindRx, DevmemError, leaseQueue, netdev, NicConfig, readNicState, type DmaBuf } from '../../../lib/index';
import { journalPath, readJournal } from '../../../lib/nic-journal';
import { undoStep } from '../../../lib/nic-undo';
import { start } from '../../support/process';
import { LOCAL_CLI } from '../../hw/local';
import { e2eEnv } from '../helpers/env';
import { describeRun, startPeer } from '../helpers/nc';
import { NetkitContainer } from '../helpers/netkit';

const env = e2eEnv();
let nextPort = 6801;

const reason = (r: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof DevmemError, String(e));
  assert.equal(e.reason, r, `${e.reason}: ${e.message}`);
  if (message) assert.match(e.message, message);
  return true;
};

describe('queue leasing into a netkit container (queue-create)', function () {
  this.timeout(180_000);
  // The leased queue: the last one, which RSS isolation keeps for steered flows.
  const Q = env.queues - 1;
  let nk: NetkitContainer;

  before(async function () {
    const fam = await netdev.netdevFamily();
    assert.ok(fam.has('queue-create'), `the guest kernel ${env.kernel} has queue-create (7.1+)`);
  });
  beforeEach(async () => {
    nk = await new NetkitContainer().create();
  });
  afterEach(async () => {
    await nk.remove();
    // Deleting the pair ended the lease: nothing is left on the physical queue.
    const q = await netdev.getQueue(env.ifindexLocal, 'rx', Q);
    assert.equal(q.lease, undefined, 'the lease outlived its netkit device');
  });

  it('leaseQueue() returns the new queue on the netkit guest; the physical queue dump shows the lease', async () => {
    const before = nk.idOfLocal();
    const lease = await leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: nk.guest } });
    // A netkit device starts with one real RX queue, so the first leased one is queue 1.
    assert.equal(lease.queue, 1);
    assert.deepEqual(lease.into, { ifindex: nk.guestIfindex, ifname: nk.guest, netns: `/run/netns/${nk.netns}` });
    assert.deepEqual(lease.physical, { ifindex: env.ifindexLocal, ifname: env.ifLocal, queue: Q });
    // The id the container's namespace has for ours: assigned by leaseQueue() if it had none.
    assert.equal(lease.netnsId, nk.idOfLocal());
    if (before !== undefined) assert.equal(lease.netnsId, before);
    const q = await netdev.getQueue(env.ifindexLocal, 'rx', Q);
    assert.deepEqual(q.lease, { ifindex: nk.guestIfindex, queue: { id: 1, type: 'rx' }, netnsId: nk.idHere() });
    // The neighbours are untouched.
    assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', Q - 1)).lease, undefined);
    // A leased queue belongs to the container now: binding it on the NIC itself is refused. The
    // kernel says only "Device doesn't support DMA" (the physical side of a lease has no DMA
    // device for bind-rx); bindRx() reads the queue dump and says which lease holds it.
    const buf = allocUdmabuf(4 << 20);
    try {
      await assert.rejects(bindRx(env.ifLocal, [Q], buf), (e: unknown) => {
        reason(
          'QUEUE_BUSY',
          new RegExp(`queue ${Q} of ${env.ifLocal} is leased to queue 1 of ifindex ${nk.guestIfindex} .*bind it there`),
        )(e);
        assert.match((e as DevmemError).extack?.message ?? '', /Device doesn't support DMA/);
        return true;
      });
    } finally {
      buf.close();
    }
  });

  it('a second lease of the same queue is QUEUE_BUSY, from the queue dump and from the kernel', async () => {
    await leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: nk.guest } });
    await assert.rejects(
      leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: nk.guest } }),
      reason('QUEUE_BUSY', new RegExp(`queue ${Q} of ${env.ifLocal} is already leased \\(to queue 1 of ifindex ${nk.guestIfindex}\\)`)),
    );
    // Past the library's check, the kernel's own refusal maps the same way.
    const netnsId = await leaseIdOfLocal(nk);
    await assert.rejects(
      netdev.createQueue(
        { ifindex: nk.guestIfindex, type: 'rx', lease: { ifindex: env.ifindexLocal, queue: Q, netnsId } },
        { netns: nk.netns },
      ),
      (e: unknown) => reason('QUEUE_BUSY')(e) && /Device queue in use due to queue leasing/.test((e as DevmemError).extack?.message ?? ''),
    );
  });

  it('devmem nc -l -n inside the container receives through the leased queue, -v 7 intact', async () => {
    const lease = await leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: nk.guest } });
    const before = await readNicState(env.ifLocal);
    const port = nextPort++;
    // The host's part, as nk_devmem.py does it: header split, RSS off the
    // leased queue, and the flow steered to the physical queue.
    const nic = await NicConfig.open(env.ifLocal);
    try {
      await nic.enableHeaderSplit();
      await nic.isolateQueues(Q);
      await nic.steerFlow({ serverIp: nk.addr4, port, queue: Q });
      const args = [
        'nc',
        '-l',
        '-f',
        nk.guest,
        '-s',
        nk.addr4,
        '-p',
        String(port),
        '-t',
        String(lease.queue),
        '-q',
        '1',
        '-n',
        '-v',
        '7',
        '--json',
      ];
      const nc = start(nk.argv([...LOCAL_CLI, ...args]), { input: '', timeoutMs: 120_000, label: 'devmem nc (container)' });
      await nc.waitFor('waiting for a connection');
      const bytes = 1 << 20;
      const peer = startPeer([
        'send',
        '--host',
        nk.addr4,
        '--port',
        String(port),
        '--bind',
        env.addr4Remote,
        '--bytes',
        String(bytes),
        '--pattern',
        '7',
      ]);
      const r = await nc.done;
      peer.child.kill();
      await peer.done;
      assert.equal(r.code, 0, describeRun(r));
      const events = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      // Bound on the netkit device's leased queue; every byte landed in the dma-buf, none linear.
      assert.deepEqual(events.find((e) => e.event === 'bound')?.queues, [lease.queue]);
      const received = events.find((e) => e.event === 'received')!;
      assert.equal(received.dmabufBytes, bytes, JSON.stringify(received));
      assert.equal(received.linearBytes, 0);
      // -n: nc changed nothing on a NIC itself.
      assert.doesNotMatch(r.stderr, /did: ethtool/);
    } finally {
      nic.close();
    }
    assert.deepEqual(await readNicState(env.ifLocal), before);
  });

  it('devmem nc -n inside the container sends through the leased device (bind-tx resolves to the NIC)', async () => {
    const lease = await leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: nk.guest } });
    assert.equal(lease.queue, 1);
    const port = nextPort++;
    const peer = startPeer(['listen', '--host', env.addr4Remote, '--port', String(port)]);
    await new Promise<void>((resolve) => peer.child.stderr!.once('data', () => resolve()));
    const args = ['nc', '-f', nk.guest, '-s', env.addr4Remote, '-p', String(port), '-t', '0', '-q', '1', '-n'];
    const r = await start(nk.argv([...LOCAL_CLI, ...args]), { input: 'hello\nworld\n', timeoutMs: 120_000, label: 'devmem nc (container)' })
      .done;
    const got = await peer.done;
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(got.stdout, 'hello\nworld\n');
    assert.match(r.stderr, /tx complete: 6 bytes in 1 sendmsg/);
    assert.match(r.stderr, /tx ok: 2 line\(s\), 12 bytes/);
  });

  describe('refusals, before anything changes', () => {
    it('into a device that is not a netkit guest: NOT_VIRTUAL for the NIC, LEASE_UNSUPPORTED for a veth or the primary end', async () => {
      await assert.rejects(
        leaseQueue({ physical: env.ifLocal, queue: Q, into: env.ifLocal }),
        reason('NOT_VIRTUAL', new RegExp(`^${env.ifLocal} is not a virtual device: a queue can only be leased into a netkit guest`)),
      );
      const veth = `vth${nk.guest.slice(3)}`;
      execIp('-n', nk.netns, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`);
      await assert.rejects(
        leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: veth } }),
        reason(
          'LEASE_UNSUPPORTED',
          new RegExp(`^${veth} in /run/netns/${nk.netns} is a veth device: a queue can only be leased into a netkit guest`),
        ),
      );
      // The primary end is a netkit device too; only the kernel tells it apart.
      await assert.rejects(
        leaseQueue({ physical: env.ifLocal, queue: Q, into: nk.host }),
        (e: unknown) =>
          reason('LEASE_UNSUPPORTED')(e) && /netkit can only lease against the peer device/.test((e as DevmemError).extack?.message ?? ''),
      );
      // And the kernel's own word for a physical device, past the library's check.
      await assert.rejects(
        netdev.createQueue({ ifindex: env.ifindexLocal, type: 'rx', lease: { ifindex: env.ifindexLocal, queue: Q } }),
        (e: unknown) => reason('NOT_VIRTUAL')(e) && (e as DevmemError).extack?.message === 'Device is not a virtual device',
      );
      assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', Q)).lease, undefined);
    });

    it('a queue that is bound (devmem) is QUEUE_BUSY, from the dump and from the kernel', async () => {
      let buf: DmaBuf | undefined;
      const nic = await NicConfig.open(env.ifLocal);
      try {
        await nic.enableHeaderSplit();
        buf = allocUdmabuf(4 << 20);
        const binding = await bindRx(env.ifLocal, [Q], buf);
        try {
          await assert.rejects(
            leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: nk.guest } }),
            reason('QUEUE_BUSY', new RegExp(`queue ${Q} of ${env.ifLocal} is bound to devmem binding ${binding.id}: it cannot be leased`)),
          );
          const netnsId = await leaseIdOfLocal(nk);
          await assert.rejects(
            netdev.createQueue(
              { ifindex: nk.guestIfindex, type: 'rx', lease: { ifindex: env.ifindexLocal, queue: Q, netnsId } },
              { netns: nk.netns },
            ),
            (e: unknown) =>
              reason('QUEUE_BUSY')(e) && /Device queue in use by memory provider/.test((e as DevmemError).extack?.message ?? ''),
          );
        } finally {
          binding.close();
        }
      } finally {
        nic.close();
        buf?.close();
      }
      assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', Q)).lease, undefined);
    });

    it('unknown devices and namespaces are NO_SUCH_DEVICE; a queue past the last is QUEUE_OUT_OF_RANGE', async () => {
      const into = { netns: nk.netns, name: nk.guest };
      await assert.rejects(leaseQueue({ physical: 'dmtnosuch0', queue: Q, into }), reason('NO_SUCH_DEVICE'));
      await assert.rejects(
        leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: nk.netns, name: 'dmtnosuch0' } }),
        reason('NO_SUCH_DEVICE', new RegExp(`"dmtnosuch0" in /run/netns/${nk.netns}`)),
      );
      await assert.rejects(
        leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: 'dmt-no-such-ns', name: nk.guest } }),
        reason('NO_SUCH_DEVICE', /cannot open network namespace \/run\/netns\/dmt-no-such-ns/),
      );
      await assert.rejects(
        leaseQueue({ physical: env.ifLocal, queue: env.queues, into }),
        reason('QUEUE_OUT_OF_RANGE', new RegExp(`${env.ifLocal} has RX queues 0\\.\\.${env.queues - 1}; there is no queue ${env.queues}`)),
      );
      // The kernel's ERANGE on the lease's queue id names it the same way.
      const local = await leaseIdOfLocal(nk);
      await assert.rejects(
        netdev.createQueue(
          { ifindex: nk.guestIfindex, type: 'rx', lease: { ifindex: env.ifindexLocal, queue: env.queues, netnsId: local } },
          { netns: nk.netns },
        ),
        (e: unknown) => reason('QUEUE_OUT_OF_RANGE')(e) && (e as DevmemError).extack?.attribute === 'lease.queue.id',
      );
      // A netns id that names no namespace.
      await assert.rejects(
        netdev.createQueue(
          { ifindex: nk.guestIfindex, type: 'rx', lease: { ifindex: env.ifindexLocal, queue: Q, netnsId: 4242 } },
          { netns: nk.netns },
        ),
        reason('NO_SUCH_DEVICE'),
      );
      assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', Q)).lease, undefined);
    });
  });

  describe('NicConfig', () => {
    it('a dry run plans the lease and changes nothing', async () => {
      const nic = await NicConfig.open(env.ifLocal, { dryRun: true });
      const lease = await nic.leaseQueue({ queue: Q, into: { netns: nk.netns, name: nk.guest } });
      assert.equal(lease, null);
      assert.deepEqual(
        nic.steps.map((s) => [s.kind, s.state]),
        [['lease', 'planned']],
      );
      assert.match(
        nic.steps[0]!.description,
        new RegExp(
          `^queue-create ${nk.guest} in /run/netns/${nk.netns} rx leasing ${env.ifLocal} queue ${Q}; it lasts until ${nk.guest} is deleted`,
        ),
      );
      assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', Q)).lease, undefined);
      nic.close();
    });

    it('leaseQueue() leases; restore() keeps it (Linux has no way to end it), deleting the netkit device ends it', async () => {
      const before = await readNicState(env.ifLocal);
      const nic = await NicConfig.open(env.ifLocal);
      const lease = await nic.leaseQueue({ queue: Q, into: { netns: nk.netns, name: nk.guest } });
      assert.equal(lease?.queue, 1);
      assert.deepEqual(
        nic.steps.map((s) => [s.kind, s.state]),
        [['lease', 'done']],
      );
      assert.match(nic.steps[0]!.description, /\(queue 1 there\); it lasts until/);
      // Journalled like any change, so a crash would leave it reported.
      assert.equal(nic.pending, true, 'the lease is on the undo stack');
      const journalled = readJournal(journalPath(env.ifLocal))?.steps.map((s) => s.undo);
      assert.deepEqual(journalled, [{ kind: 'lease', queue: Q }]);
      // What `devmem restore` would do with it after a crash: report it kept.
      const target = { ifname: env.ifLocal, ifindex: env.ifindexLocal };
      assert.equal(undoStep(target, journalled[0]!, true), 'kept');
      nic.close();
      assert.deepEqual(
        nic.steps.map((s) => [s.kind, s.state]),
        [['lease', 'kept']],
        'restore keeps the lease, and says so',
      );
      assert.equal(readJournal(journalPath(env.ifLocal)), null, 'a clean close leaves no journal');
      // Still leased after close(): the kernel has no op to end it.
      assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', Q)).lease?.queue.id, 1);
      assert.deepEqual(await readNicState(env.ifLocal), before, 'nothing else on the NIC changed');
      execIp('link', 'del', nk.host);
      assert.equal((await netdev.getQueue(env.ifindexLocal, 'rx', Q)).lease, undefined, 'deleting the netkit pair ended the lease');
      assert.equal(undoStep(target, journalled[0]!, true), 'already gone');
      // The queue is free again: a new container can lease it.
      const again = await new NetkitContainer().create();
      try {
        const l = await leaseQueue({ physical: env.ifLocal, queue: Q, into: { netns: again.netns, name: again.guest } });
        assert.equal(l.queue, 1);
      } finally {
        await again.remove();
      }
    });
  });
});

function execIp(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** The id the container has for the local namespace, assigned with `ip netns set` if it has none. */
async function leaseIdOfLocal(nk: NetkitContainer): Promise<number> {
  let id = nk.idOfLocal();
  if (id === undefined) {
    execIp('-n', nk.netns, 'netns', 'set', env.netnsLocal, 'auto');
    id = nk.idOfLocal();
  }
  assert.ok(id !== undefined, 'the container has an id for the local namespace');
  return id;
}

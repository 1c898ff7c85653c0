// `devmem nc -l --zcrx` and NicConfig.openZcrx() on the patched netdevsim:
// the RX server through io_uring zcrx with nc's own NIC set-up, -v, payload
// to stdout, --json, -L as "no copy fallback", and the undo of the zcrx step
// (which must wait for the kernel to let go of the queue before header split
// goes back). After every test the NIC state reads back as it was.
import * as assert from 'node:assert/strict';

import { netdev, NicConfig, probe, readNicState, resolveInterface } from '../../../lib/index';
import { ncdevmemPattern } from '../../support/ncdevmem';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, ncReceive, startNc, startPeer } from '../helpers/nc';

const env = e2eEnv();
const MiB = 1024 * 1024;
let nextPort = 7701;

function events(stdout: string): Record<string, any>[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, any>);
}

function undone(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('undid: '))
    .map((l) => l.split(' ')[1]!);
}

describe('devmem nc --zcrx on the patched netdevsim', function () {
  this.timeout(180_000);
  checkNicStateKept(env.ifLocal);
  const last = env.queues - 1;

  it('-v 7 -L --json: 1 MiB through zcrx on the last queue, all zero-copy, the queue closed before the NIC is put back', async () => {
    const port = nextPort++;
    const r = await ncReceive(['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7', '-L', '--zcrx', '--json'], {
      host: env.addr4Local,
      port,
      from: env.addr4Remote,
      bytes: MiB,
      period: 7,
    });
    assert.equal(r.code, 0, describeRun(r));
    const ev = events(r.stdout);
    const bound = ev.find((e) => e.event === 'bound')!;
    assert.equal(bound.backend, 'zcrx');
    assert.equal(bound.queue, last);
    assert.equal(bound.fragmentId, bound.zcrxId + 1);
    assert.equal(bound.area, 'host');
    assert.deepEqual(bound.memory, { kind: 'host' });
    assert.equal(bound.copyStats, true);
    const received = ev.find((e) => e.event === 'received')!;
    assert.equal(received.backend, 'zcrx');
    assert.equal(received.bytes, MiB);
    assert.equal(received.dmabufBytes, MiB);
    assert.equal(received.copiedBytes, 0);
    assert.equal(received.linearBytes, 0);
    assert.equal(received.zcrx.kernelCopyBytes, 0);
    assert.equal(received.zcrx.returnedBuffers, received.fragments, 'every buffer went back to the refill ring');
    assert.equal(ev.at(-1)!.result, 'ok');
    assert.match(
      r.stderr,
      new RegExp(`did: ethtool -N \\S+ flow-type tcp4 src-ip \\S+ dst-ip \\S+ src-port ${port} dst-port ${port} action ${last}`),
    );
    assert.match(r.stderr, new RegExp(`did: zcrx \\S+ queue ${last}: \\d+-byte area of host memory`));
    assert.deepEqual(undone(r.stderr), ['zcrx', 'ethtool', 'ethtool', 'ethtool']);
  });

  it('--memory udmabuf without -v: a dma-buf area, and the payload on stdout byte for byte', async () => {
    const port = nextPort++;
    const r = await ncReceive(['-f', env.ifLocal, '--zcrx', '--memory', 'udmabuf'], {
      host: env.addr4Local,
      port,
      from: env.addr4Remote,
      bytes: 100_000,
      period: 7,
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout, ncdevmemPattern(7, 100_000).toString());
    assert.match(r.stderr, /got zcrx queue \d+: zcrx id \d+ \(fragment id \d+\), \d+-byte udmabuf dma-buf area/);
  });

  describe('a flow that misses the zcrx queue (-n, steered to queue 0): the copy fallback', () => {
    let nic: NicConfig;
    let port: number;
    beforeEach(async () => {
      port = nextPort++;
      nic = await NicConfig.open(env.ifLocal);
      await nic.enableHeaderSplit();
      await nic.steerFlow({ serverIp: env.addr4Local, port, queue: 0 });
    });
    afterEach(() => nic.close());

    const args = () => ['-f', env.ifLocal, '-n', '-t', String(last), '-q', '1', '-v', '7', '--zcrx', '--json'];

    it('is accepted without -L, every byte intact and counted as copied', async () => {
      const r = await ncReceive(args(), { host: env.addr4Local, port, from: env.addr4Remote, bytes: MiB, period: 7 });
      assert.equal(r.code, 0, describeRun(r));
      const received = events(r.stdout).find((e) => e.event === 'received')!;
      assert.equal(received.bytes, MiB);
      assert.equal(received.copiedBytes, MiB);
      assert.equal(received.dmabufBytes, 0);
      assert.equal(received.zcrx.kernelCopyBytes, MiB);
      assert.match(r.stderr, /warning: the kernel copies into the zcrx area \(copy fallback\)/);
    });

    it('fails with -L: COPY_FALLBACK, exit 1', async () => {
      const r = await ncReceive([...args(), '-L'], { host: env.addr4Local, port, from: env.addr4Remote, bytes: MiB, period: 7 });
      assert.equal(r.code, 1, describeRun(r));
      const summary = events(r.stdout).at(-1)!;
      assert.equal(summary.event, 'summary');
      assert.equal(summary.reason, 'COPY_FALLBACK', JSON.stringify(summary));
    });
  });

  it('--dry-run plans the zcrx step after the NIC set-up and changes nothing', async () => {
    const before = await readNicState(env.ifLocal);
    const r = await startNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', '7000', '--zcrx', '--dry-run']).done;
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /plan: ethtool -G \S+ tcp-data-split on/);
    assert.match(r.stderr, new RegExp(`plan: zcrx \\S+ queue ${last}: \\d+-byte area of host memory`));
    assert.doesNotMatch(r.stderr, /bind-rx|^did: /m);
    assert.deepEqual(await readNicState(env.ifLocal), before);
  });

  it('restores the NIC after SIGTERM in the middle of a zcrx transfer, the queue released first', async () => {
    const port = nextPort++;
    const nc = startNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(port), '-c', env.addr4Remote, '-v', '7', '--zcrx']);
    await nc.waitFor('waiting for a connection');
    const peer = startPeer(['stream', '--host', env.addr4Local, '--port', String(port), '--bind', env.addr4Remote, '--pattern', '7']);
    await nc.waitFor('got connection');
    await new Promise((r) => setTimeout(r, 500));
    const { ifindex } = await resolveInterface(env.ifLocal);
    const owners = (await netdev.listQueues(ifindex)).filter((q) => q.type === 'rx' && q.ioUring !== undefined).map((q) => q.id);
    assert.deepEqual(owners, [env.queues - 1], 'the queue nc uses has an io_uring owner while it receives');
    nc.child.kill('SIGTERM');
    const r = await nc.done;
    peer.child.kill();
    await peer.done;
    assert.equal(r.signal, 'SIGTERM', describeRun(r));
    assert.deepEqual(undone(r.stderr), ['zcrx', 'ethtool', 'ethtool', 'ethtool']);
  });
});

describe('NicConfig.openZcrx on the patched netdevsim', function () {
  this.timeout(120_000);
  checkNicStateKept(env.ifLocal);

  it('undoes the zcrx queue first, waiting until the kernel lets go of it, so header split can go back', async () => {
    const nic = await NicConfig.open(env.ifLocal, { restoreOnExit: false });
    await nic.enableHeaderSplit();
    const queue = await nic.openZcrx(1, { area: { size: 4 * MiB } });
    assert.deepEqual(
      nic.steps.map((s) => [s.kind, s.state]),
      [
        ['header-split', 'done'],
        ['zcrx', 'done'],
      ],
    );
    assert.match(
      nic.steps[1]!.description,
      new RegExp(`^zcrx \\S+ queue 1: ${4 * MiB}-byte area of host memory, 4096-byte buffers, 1024 refill entries \\(zcrx id \\d+\\)$`),
    );
    const report = await probe({ iface: env.ifLocal });
    assert.deepEqual(
      report.interfaces[0]!.zcrxQueues.map((z) => z.queue),
      [1],
    );
    assert.deepEqual(report.interfaces[0]!.boundQueues, []);
    // Not closed first: the undo closes it and must wait for the kernel, or
    // the rings' restore is refused while the area still holds the queue.
    nic.close();
    assert.equal(queue.closed, true);
    assert.equal((await netdev.getQueue(nic.ifindex, 'rx', 1)).ioUring, undefined);
    assert.deepEqual(
      nic.steps.map((s) => [s.kind, s.state]),
      [
        ['header-split', 'undone'],
        ['zcrx', 'undone'],
      ],
    );
  });
});

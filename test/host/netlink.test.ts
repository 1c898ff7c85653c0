import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { bindRx, bindTx, DevmemError, netdev, resolveInterface } from '../../lib/index';
import { native } from '../../lib/native';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

const E = os.constants.errno;

describe('netdev netlink against the running kernel', function () {
  let veth: VethPair;

  before(function () {
    requireRoot(this);
    veth = new VethPair(5, 3).create();
  });
  after(() => veth?.remove());

  it('resolves the netdev family dynamically and lists its ops', async () => {
    const fam = await netdev.netdevFamily();
    assert.ok(fam.id >= 16, `family id ${fam.id}`);
    assert.ok(fam.has('dev-get') && fam.has('queue-get'));
    const bind = fam.ops.find((o) => o.name === 'bind-rx');
    assert.ok(bind, 'kernel 6.12+ has bind-rx');
    assert.ok(bind.admin || bind.userNamespaceAdmin, 'bind-rx is privileged');
    // Every op is named from the native spec table, napi-set (which the codec does not speak) too.
    assert.ok(fam.has('napi-set'), 'napi-set (6.13) is named');
    assert.deepEqual(
      fam.ops.filter((o) => o.name.startsWith('op-')),
      [],
    );
    const queueGet = fam.ops.find((o) => o.name === 'queue-get')!;
    assert.equal(queueGet.cmd, 10);
    assert.ok(queueGet.do && queueGet.dump && !queueGet.admin);
  });

  it('dev-get names the XDP features veth advertises', async () => {
    const dev = await netdev.getDevice(veth.ifindex);
    assert.ok(Array.isArray(dev.xdpFeatures), JSON.stringify(dev));
    for (const f of ['basic', 'redirect', 'rx-sg']) assert.ok(dev.xdpFeatures.includes(f as never), `${f} in ${dev.xdpFeatures.join(',')}`);
  });

  it('dev-get finds the veth, by do and by dump', async () => {
    const dev = await netdev.getDevice(veth.ifindex);
    assert.equal(dev.ifindex, veth.ifindex);
    const all = await netdev.listDevices();
    assert.ok(all.some((d) => d.ifindex === veth.ifindex));
  });

  it('queue-get dump returns exactly the rx and tx queue counts the veth was created with', async () => {
    const queues = await netdev.listQueues(veth.ifindex);
    assert.equal(queues.filter((q) => q.type === 'rx').length, 5);
    assert.equal(queues.filter((q) => q.type === 'tx').length, 3);
    assert.deepEqual(
      queues
        .filter((q) => q.type === 'rx')
        .map((q) => q.id)
        .sort(),
      [0, 1, 2, 3, 4],
    );
    const one = await netdev.getQueue(veth.ifindex, 'rx', 4);
    assert.equal(one.id, 4);
    assert.equal(one.dmabuf, undefined);
  });

  it('resolves interfaces by name and by index', async () => {
    assert.deepEqual(await resolveInterface(veth.local), { ifindex: veth.ifindex, ifname: veth.local });
    assert.deepEqual(await resolveInterface(veth.ifindex), { ifindex: veth.ifindex, ifname: veth.local });
  });

  it('bind-rx on a veth fails with DEVICE_UNSUPPORTED, EOPNOTSUPP and extack naming ifindex', async () => {
    await assert.rejects(bindRx(veth.local, [0], 0), (e: unknown) => {
      assert.ok(e instanceof DevmemError);
      assert.equal(e.reason, 'DEVICE_UNSUPPORTED');
      assert.equal(e.errno, -E.EOPNOTSUPP);
      assert.equal(e.code, 'ENOTSUP');
      assert.equal(e.extack?.attribute, 'ifindex');
      assert.match(e.advice, /devmem/);
      return true;
    });
  });

  it('bind-rx on an ifindex that does not exist gives NO_SUCH_DEVICE', async () => {
    await assert.rejects(bindRx(999_999, [0], 0), (e: unknown) => {
      assert.ok(e instanceof DevmemError);
      assert.equal(e.reason, 'NO_SUCH_DEVICE');
      assert.equal(e.errno, -E.ENODEV);
      return true;
    });
    // The same straight to the kernel, without the name lookup in front.
    await assert.rejects(native().bind('bind-rx', { ifindex: 999_999, fd: 0, queues: [{ id: 0, type: 0 }] }), {
      errno: -E.ENODEV,
    });
  });

  it('a request without the fd attribute gives EINVAL with missingAttribute "fd"', async () => {
    await assert.rejects(native().bind('bind-rx', { ifindex: veth.ifindex, queues: [{ id: 0, type: 0 }] }), (e: any) => {
      assert.equal(e.errno, -E.EINVAL);
      assert.equal(e.extack.missingAttribute, 'fd');
      assert.equal(e.extack.missingType, 3);
      return true;
    });
  });

  it('bind-rx from a child without CAP_NET_ADMIN gives NOT_PERMITTED', function () {
    this.timeout(60_000);
    const root = path.resolve(__dirname, '../..');
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures/unprivileged-bind.ts'), String(veth.ifindex)],
      { uid: 65534, gid: 65534, cwd: root, encoding: 'utf8', env: { ...process.env, HOME: os.tmpdir() } },
    );
    const res = JSON.parse(out.trim().split('\n').pop()!);
    assert.deepEqual(res, { ok: false, name: 'DevmemError', reason: 'NOT_PERMITTED', code: 'EPERM', errno: -E.EPERM });
  });

  it('bind-tx on a veth carries the kernel message "Driver does not support netmem TX"', async () => {
    // The driver check comes before the kernel looks at the fd.
    await assert.rejects(bindTx(veth.local, { fd: 0, size: 4096 }), (e: unknown) => {
      assert.ok(e instanceof DevmemError);
      assert.equal(e.extack?.message, 'Driver does not support netmem TX');
      assert.equal(e.reason, 'DEVICE_UNSUPPORTED');
      assert.equal(e.errno, -E.EOPNOTSUPP);
      return true;
    });
  });

  it('napi, page-pool and qstats dumps answer with well-formed records', async () => {
    for (const n of await netdev.listNapis()) assert.ok(n.id > 0 && n.ifindex > 0);
    for (const p of await netdev.listPagePools()) assert.ok(typeof p.id === 'number' || typeof p.id === 'bigint');
    const stats = await netdev.listQstats();
    for (const s of stats) assert.ok(s.ifindex > 0);
  });

  it('leaves no netlink socket behind after requests', async () => {
    // Count this process's fds that are netlink sockets (inodes listed in
    // /proc/self/net/netlink), so unrelated fds (tsx, the thread pool) do not count.
    const netlinkFds = () => {
      const inodes = new Set(
        fs
          .readFileSync('/proc/self/net/netlink', 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.trim().split(/\s+/).pop()),
      );
      return fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
          return m !== null && inodes.has(m[1]);
        } catch {
          return false;
        }
      }).length;
    };
    const before = netlinkFds();
    for (let i = 0; i < 50; i++) await netdev.listQueues(veth.ifindex);
    await assert.rejects(bindRx(veth.local, [0], 0));
    assert.equal(netlinkFds(), before);
  });
});

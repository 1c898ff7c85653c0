import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { deviceWatchOpen, watchDevice, watchedDevices } from '../../lib/device-watch';
import { native } from '../../lib/native';
import { netdevFamily } from '../../lib/netdev';
import { attr, genl, nlmsg, u32 } from './helpers/nlbytes';
import { ip, requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

const DEV_GET = 1;
const DEV_ADD_NTF = 2;
const DEV_DEL_NTF = 3;
const DEV_CHANGE_NTF = 4;
const IFINDEX = 1;
const FAMILY = 0x1f; // any id: the parser is told which one is netdev

const parse = (bytes: Buffer, family = FAMILY) => native().testing.parseDeviceEvents(bytes, family);
const ntf = (cmd: number, ...attrs: Buffer[]) => nlmsg(FAMILY, 0, 0, genl(cmd, ...attrs));

/** Resolves with the ifindexes reported removed, in order, once `count` arrived. */
function collector(count: number) {
  const seen: number[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  return {
    seen,
    all,
    on(ifindex: number) {
      return () => {
        seen.push(ifindex);
        if (seen.length === count) done();
      };
    },
  };
}

describe('device removal notifications: the dev-del-ntf parser (ABI-exact datagrams)', () => {
  it('reports the ifindex of a dev-del-ntf', () => {
    assert.deepEqual(parse(ntf(DEV_DEL_NTF, attr(IFINDEX, u32(7)))), { removed: [7], malformed: 0 });
  });

  it('reads every message of a datagram, in order, and ignores dev-add, dev-change and other commands', () => {
    const dgram = Buffer.concat([
      ntf(DEV_ADD_NTF, attr(IFINDEX, u32(3))),
      ntf(DEV_DEL_NTF, attr(4, u32(0xff)), attr(IFINDEX, u32(9))),
      ntf(DEV_CHANGE_NTF, attr(IFINDEX, u32(5))),
      ntf(DEV_GET, attr(IFINDEX, u32(6))),
      ntf(DEV_DEL_NTF, attr(IFINDEX, u32(11))),
    ]);
    assert.deepEqual(parse(dgram), { removed: [9, 11], malformed: 0 });
  });

  it('ignores messages of other families, even with the same command number', () => {
    assert.deepEqual(parse(ntf(DEV_DEL_NTF, attr(IFINDEX, u32(7))), FAMILY + 1), { removed: [], malformed: 0 });
  });

  it('counts and skips what is malformed, without trusting any length', () => {
    const good = ntf(DEV_DEL_NTF, attr(IFINDEX, u32(7)));
    // a message cut short: nlmsg_len says more than the datagram holds
    assert.deepEqual(parse(good.subarray(0, good.length - 4)), { removed: [], malformed: 1 });
    // an ifindex of the wrong size, and one missing altogether
    const wrongSize = ntf(DEV_DEL_NTF, attr(IFINDEX, Buffer.from([7, 0])));
    assert.deepEqual(parse(wrongSize), { removed: [], malformed: 1 });
    assert.deepEqual(parse(ntf(DEV_DEL_NTF)), { removed: [], malformed: 1 });
    // an attribute whose length runs past the message
    const bad = Buffer.from(good);
    bad.writeUInt16LE(200, 20);
    assert.deepEqual(parse(bad), { removed: [], malformed: 1 });
    // no room for the genl header
    assert.deepEqual(parse(nlmsg(FAMILY, 0, 0, Buffer.alloc(2))), { removed: [], malformed: 1 });
    // trailing bytes shorter than a header, and an nlmsg_len below the header size
    assert.deepEqual(parse(Buffer.concat([good, Buffer.alloc(6)])), { removed: [7], malformed: 1 });
    const tiny = Buffer.from(good);
    tiny.writeUInt32LE(8, 0);
    assert.deepEqual(parse(tiny), { removed: [], malformed: 1 });
    assert.deepEqual(parse(Buffer.alloc(0)), { removed: [], malformed: 0 });
  });
});

describe('device removal notifications from the kernel (host, veth)', function () {
  before(function () {
    requireRoot(this);
  });
  afterEach(() => {
    assert.deepEqual(watchedDevices(), [], 'a test left a device watched');
  });

  it('the kernel offers the netdev "mgmt" multicast group this relies on', async () => {
    const f = await netdevFamily();
    assert.ok(
      f.mcastGroups.some((g) => g.name === 'mgmt'),
      JSON.stringify(f.mcastGroups),
    );
  });

  it('reports a deleted device, only the watched one, and closes its socket once nobody watches', async () => {
    const watched = new VethPair(1, 1).create();
    const other = new VethPair(1, 1).create();
    try {
      const c = collector(2);
      const ifindex = watched.ifindex;
      const stop = await watchDevice(ifindex, c.on(ifindex));
      const stopOther = await watchDevice(other.ifindex + 100000, c.on(-1)); // never existed: fires at once
      assert.deepEqual(c.seen, [-1]);
      assert.equal(deviceWatchOpen(), true);
      ip('link', 'del', other.local);
      ip('link', 'del', watched.local);
      await c.all;
      assert.deepEqual(c.seen, [-1, ifindex]);
      stop();
      stopOther();
      assert.equal(deviceWatchOpen(), false, 'the multicast socket closes when nothing is watched');
    } finally {
      watched.remove();
      other.remove();
    }
  });

  it('reports a device that does not exist (deleted before the watch joined the group) at once', async () => {
    const veth = new VethPair(1, 1).create();
    const gone = veth.ifindex;
    veth.remove();
    let fired = 0;
    const stop = await watchDevice(gone, () => fired++);
    assert.equal(fired, 1);
    stop();
    assert.deepEqual(watchedDevices(), []);
  });

  it('treats a move to another network namespace as a removal', async () => {
    const veth = new VethPair(1, 1).create();
    try {
      const c = collector(1);
      const ifindex = veth.ifindex;
      const stop = await watchDevice(ifindex, c.on(ifindex));
      ip('link', 'set', veth.local, 'netns', veth.netns);
      await c.all;
      assert.deepEqual(c.seen, [ifindex]);
      stop();
    } finally {
      veth.remove();
    }
  });

  it('fires once per watcher, and a watcher that stopped is not called', async () => {
    const veth = new VethPair(1, 1).create();
    try {
      let a = 0;
      let b = 0;
      const c = collector(1);
      const ifindex = veth.ifindex;
      const stopA = await watchDevice(ifindex, () => a++);
      const stopB = await watchDevice(ifindex, () => b++);
      const stopC = await watchDevice(ifindex, c.on(ifindex));
      stopB();
      ip('link', 'del', veth.local);
      await c.all;
      assert.deepEqual([a, b], [1, 0]);
      stopA();
      stopC();
    } finally {
      veth.remove();
    }
  });

  it('an open watch does not keep the process alive', () => {
    const veth = new VethPair(1, 1).create();
    try {
      const script = `
        const { watchDevice, deviceWatchOpen } = require(${JSON.stringify(path.resolve(__dirname, '../../lib/device-watch.ts'))});
        watchDevice(${veth.ifindex}, () => {}).then(() => { if (!deviceWatchOpen()) process.exit(3); });`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 60_000, encoding: 'utf8' });
      assert.equal(r.signal, null, 'the process had to be killed: the watch kept it alive');
      assert.equal(r.status, 0, r.stderr);
    } finally {
      veth.remove();
    }
  });

  it('leaves no fd behind after 200 watch and stop cycles', async () => {
    const veth = new VethPair(1, 1).create();
    try {
      const before = fs.readdirSync('/proc/self/fd').length;
      for (let i = 0; i < 200; i++) (await watchDevice(veth.ifindex, () => {}))();
      assert.equal(fs.readdirSync('/proc/self/fd').length, before);
    } finally {
      veth.remove();
    }
  });
});

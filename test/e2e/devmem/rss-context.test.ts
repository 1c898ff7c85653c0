// RSS-context steering on the patched netdevsim (kperf's set-up): the main RSS
// table narrowed to the unbound queues, an RSS context over the reserved ones,
// and one FLOW_RSS rule for the port, so that many connections to one
// listening port spread over the bound queues while everything else stays off
// them. Which queue each connection landed on is what the socket says
// (SO_INCOMING_NAPI_ID) mapped through the netdev queue dump.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import {
  allocUdmabuf,
  bindRx,
  createRssContext,
  createServer,
  deleteRssContext,
  DevmemError,
  ethtool,
  getRssContext,
  incomingQueue,
  NicConfig,
  readNicState,
  recoverNic,
  type DevmemSocket,
} from '../../../lib/index';
import { undoStep } from '../../../lib/nic-undo';
import { contextIndirection, createRssContextSync, deleteRssContextSync, listRssContexts, rssContextApi } from '../../../lib/rss-context';
import { countMismatches } from '../../support/pattern.cjs';
import { start } from '../../support/process';
import { e2eEnv } from '../helpers/env';
import { createExtraPair, type ExtraPair } from '../helpers/netdevsim-pair';
import { sendFromRemote } from '../helpers/traffic';

const env = e2eEnv();
let nextPort = 6701;
// On the harness's pair (4 queues): as many as leaves one for RSS.
const COUNT = Math.min(4, env.queues - 1);

interface Landed {
  queue: number | null;
  bytes: number;
  mismatches: number;
}

/** Reads one devmem connection to its end through `dmabuf`; notes the queue of `ifname` once data came. */
async function drain(sock: DevmemSocket, dmabuf: ReturnType<typeof allocUdmabuf>, ifname: string): Promise<Landed> {
  const r: Landed = { queue: null, bytes: 0, mismatches: 0 };
  for await (const batch of sock) {
    const data = batch.copyOut(dmabuf);
    r.mismatches += countMismatches(data, r.bytes);
    r.bytes += data.length;
    if (r.queue === null) r.queue = await incomingQueue(sock, ifname);
  }
  sock.close(); // the sender waits for this before it exits
  return r;
}

/** `flows` ordinary connections to a plain server on addr:port; the RX queue of `ifname` each one's data came through. */
async function plainQueues(ifname: string, addr: string, port: number, flows: number, bytes: number): Promise<(number | null)[]> {
  const srv = net.createServer();
  const queues: (number | null)[] = [];
  const done = new Promise<void>((resolve, reject) => {
    srv.on('connection', (c) => {
      let got = 0;
      let queue: Promise<number | null> | undefined;
      c.on('data', (d: Buffer) => {
        got += d.length;
        // Node keeps the descriptor on the handle; the kernel has marked the socket by now.
        queue ??= incomingQueue((c as unknown as { _handle: { fd: number } })._handle.fd, ifname);
      });
      c.once('error', reject);
      c.once('end', () => {
        void (queue ?? Promise.resolve(null)).then((q) => {
          assert.equal(got, bytes, 'an ordinary flow arrived whole');
          queues.push(q);
          c.destroy();
          if (queues.length === flows) resolve();
        }, reject);
      });
    });
  });
  await new Promise<void>((r) => srv.listen(port, addr, r));
  try {
    await Promise.all([done, sendFromRemote(addr, port, bytes, { connections: flows })]);
  } finally {
    srv.close();
  }
  return queues;
}

async function rejectsWith(p: Promise<unknown>, reason: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DevmemError, `a DevmemError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    assert.match(e.message, message);
    return true;
  });
}

describe('RSS-context steering on the patched netdevsim', function () {
  this.timeout(300_000);

  it('after a SIGKILL, recovery from the crash journal deletes the rules, then the context, and puts the table back', async () => {
    const before = await readNicState(env.ifLocal);
    const root = path.resolve(__dirname, '../../..');
    const fixture = path.join(__dirname, '../fixtures/reserve-and-hold.ts');
    const child = start([process.execPath, '--import', 'tsx', fixture, env.ifLocal, String(COUNT), '6795'], { cwd: root });
    await child.waitFor('\n', 'stdout');
    const held = JSON.parse(child.stdout.split('\n')[0]!) as { context?: number; error?: string };
    assert.equal(held.error, undefined, held.error);
    child.kill('SIGKILL');
    await child.done;
    const left = await readNicState(env.ifLocal);
    assert.equal(left.rssContexts?.length, 1, 'the dead process left its context');
    assert.equal(left.flowRules?.length, 2, 'and its two rules (tcp4, tcp6)');
    assert.notDeepEqual(left.rssIndirection, before.rssIndirection, 'and the narrowed table');

    const report = await recoverNic(env.ifLocal);
    assert.deepEqual(
      report?.steps.map((s) => [s.kind, s.outcome]),
      [
        ['flow-rule', 'undone'],
        ['flow-rule', 'undone'],
        ['rss-context', 'undone'],
        ['rss', 'undone'],
      ],
    );
    assert.deepEqual(await readNicState(env.ifLocal), before);
    assert.equal(await recoverNic(env.ifLocal), null, 'nothing left to recover');
  });

  describe('on a pair whose driver has no RSS contexts', () => {
    const PARAM = '/sys/module/netdevsim/parameters/rss_contexts';
    let pair: ExtraPair | undefined;
    before(async () => {
      // The patched netdevsim reads this when a port is created.
      fs.writeFileSync(PARAM, '0');
      try {
        pair = await createExtraPair(21, 4, '10.78.2');
      } finally {
        fs.writeFileSync(PARAM, '1');
      }
    });
    after(() => pair?.remove());

    it('reserveQueues() falls back to one steered queue and says so, in a plan and for real', async () => {
      const p = pair!;
      const before = await readNicState(p.ifLocal);
      assert.ok(before.rssContexts === null || before.rssContexts.length === 0, 'the device has no contexts');
      const plan = await NicConfig.open(p.ifLocal, { dryRun: true });
      const planned = await plan.reserveQueues(2);
      assert.deepEqual([planned.queues, planned.context], [[2], null]);
      assert.match(planned.fallback ?? '', /has no RSS contexts .*every connection goes to queue 2 alone/);
      assert.match(plan.steps[0]!.description, /^skipped: /);
      plan.close();

      const nic = await NicConfig.open(p.ifLocal);
      try {
        const r = await nic.reserveQueues(2);
        assert.deepEqual([r.queues, r.context], [[2], null]);
        assert.match(r.fallback ?? '', /has no RSS contexts/);
        const steered = await nic.steerPort({ port: 6799, serverIp: p.addr4Local, context: null });
        assert.equal(steered.context, null);
        assert.deepEqual(
          steered.rules.map((f) => f.rule.queue),
          [2],
        );
        assert.deepEqual(
          nic.steps.map((s) => [s.kind, s.state, s.description.startsWith('skipped: ')]),
          [['rss-context', 'done', true], ['rss', 'done', false], ...nic.steps.slice(2).map((s) => [s.kind, s.state, false])],
        );
        assert.deepEqual((await readNicState(p.ifLocal)).rssIndirection?.slice(0, 4), [0, 1, 0, 1], 'the table spreads over queues 0..1');
      } finally {
        nic.close();
      }
      assert.deepEqual(await readNicState(p.ifLocal), before);
    });
  });

  describe('on a second pair with 8 queues, 5 of them in use', () => {
    let pair: ExtraPair;
    before(async () => {
      pair = await createExtraPair(11, 8, '10.78.1');
      await ethtool.setChannels(pair.ifLocal, { combinedCount: 5 });
    });
    after(() => pair?.remove());

    it('16 connections to one port spread over the 4 reserved queues, other flows stay off them, and channels shrink back last', async () => {
      const iface = pair.ifLocal;
      const before = await readNicState(iface);
      assert.equal(before.rxChannels, 5);
      assert.deepEqual(before.rssContexts, [], 'no RSS context to begin with');
      const dmabuf = allocUdmabuf(16 * 1024 * 1024);
      const nic = await NicConfig.open(iface);
      const port = nextPort++;
      const bytes = 128 * 1024;
      try {
        await nic.enableHeaderSplit();
        // Room for 4 reserved queues beside the 4 RSS keeps: the kernel then
        // refuses to shrink channels until the rule, the context and the table
        // are gone, which restore() has to get right.
        await nic.setChannels({ combinedCount: 8 });
        const reserved = await nic.reserveQueues(4);
        assert.deepEqual(reserved.queues, [4, 5, 6, 7]);
        assert.equal(typeof reserved.context, 'number');
        assert.equal(reserved.fallback, undefined);
        const ctx = getRssContext(iface, reserved.context!);
        assert.deepEqual(new Set(ctx?.indirection), new Set(reserved.queues), "the context's table covers exactly the reserved queues");
        assert.ok(
          ethtool.getRssIndirection(iface).every((q) => q < 4),
          'the main table keeps off the reserved queues',
        );

        const binding = await nic.bindRx(reserved.queues, dmabuf);
        const steered = await nic.steerPort({ port, serverIp: pair.addr4Local, context: reserved.context });
        assert.equal(steered.rules.length, 1);
        const listed = ethtool.listFlowRules(iface).rules.find((r) => r.location === steered.rules[0]!.location);
        assert.equal(listed?.rule?.rssContext, reserved.context, 'the driver reports the FLOW_RSS rule with its context');
        assert.equal((await readNicState(iface)).rssContexts?.length, 1);

        const server = createServer({ host: pair.addr4Local, port, binding, dmabuf });
        await server.listen();
        const sending = sendFromRemote(pair.addr4Local, port, bytes, { connections: 16 });
        const reads: Promise<Landed>[] = [];
        for (let i = 0; i < 16; i++) reads.push(drain(await server.accept(), dmabuf, iface));
        const landed = await Promise.all(reads);
        server.close();
        await sending;

        for (const [i, l] of landed.entries()) {
          assert.equal(l.bytes, bytes, `connection ${i}: every byte arrived`);
          assert.equal(l.mismatches, 0, `connection ${i}: the payload is intact`);
          assert.ok(l.queue !== null && reserved.queues.includes(l.queue), `connection ${i} landed on queue ${l.queue}, a bound one`);
        }
        const used = [...new Set(landed.map((l) => l.queue))].sort();
        console.log(`      16 connections landed on queues ${used.join(',')} of ${reserved.queues.join(',')}`);
        assert.ok(used.length >= 2, `the connections spread over ${used.length} queue(s), not at least 2`);

        // Ordinary flows to another port go by the narrowed main table.
        const plain = await plainQueues(iface, pair.addr4Local, nextPort++, 8, 64 * 1024);
        console.log(`      8 ordinary flows landed on queues ${plain.join(',')}`);
        for (const q of plain) assert.ok(q !== null && q < 4, `an ordinary flow landed on queue ${q}, which is bound`);
      } finally {
        nic.close();
        dmabuf.close();
      }
      assert.deepEqual(await readNicState(iface), before, 'restore put the NIC back: table, rules, contexts, channels, rings');
    });
  });

  it('a dry run plans the context, the narrowed table and the rule with the values read from the device', async () => {
    const before = await readNicState(env.ifLocal);
    const nic = await NicConfig.open(env.ifLocal, { dryRun: true });
    const reserved = await nic.reserveQueues(COUNT);
    await nic.steerPort({ port: 6799, serverIp: env.addr4Local, context: reserved.context });
    const first = env.queues - COUNT;
    const size = ethtool.getRssIndirection(env.ifLocal).length;
    assert.deepEqual(
      nic.steps.map((s) => [s.kind, s.state]),
      [
        ['rss-context', 'planned'],
        ['rss', 'planned'],
        ['flow-rule', 'planned'],
      ],
    );
    assert.match(nic.steps[0]!.description, new RegExp(`context new start ${first} equal ${COUNT}`));
    assert.match(nic.steps[1]!.description, new RegExp(`equal ${first} \\(was the default, ${size} entries\\)`));
    assert.match(nic.steps[2]!.description, /dst-port 6799 context \(the new one\)/);
    nic.close();
    assert.deepEqual(await readNicState(env.ifLocal), before);
  });

  it('refuses bad counts, unknown contexts and a port already steered, leaving the NIC as it was', async () => {
    const before = await readNicState(env.ifLocal);
    const nic = await NicConfig.open(env.ifLocal);
    try {
      await rejectsWith(nic.reserveQueues(env.queues), 'TOO_FEW_QUEUES', /would leave none for RSS/);
      await rejectsWith(nic.reserveQueues(env.queues + 3), 'TOO_FEW_QUEUES', /Reserve at most/);
      await rejectsWith(nic.reserveQueues(0), 'INVALID_ARGUMENT', /1 or more/);
      await rejectsWith(nic.reserveQueues(1.5), 'INVALID_ARGUMENT', /whole number/);
      await rejectsWith(nic.steerPort({ port: 6798, serverIp: env.addr4Local, context: 7 }), 'INVALID_ARGUMENT', /no RSS context 7/);
      assert.equal(nic.pending, false, 'nothing to undo: nothing was changed');
      assert.deepEqual(await readNicState(env.ifLocal), before);

      // A context in use: a rule names it, so the kernel refuses to delete it,
      // and steerPort() refuses a second rule on the same port.
      const ctx = await createRssContext(env.ifLocal, [env.queues - 1]);
      const location = ethtool.addFlowRule(env.ifLocal, { flowType: 'tcp4', dstPort: 6797, queue: 0, rssContext: ctx });
      try {
        await assert.rejects(deleteRssContext(env.ifLocal, ctx), (e: unknown) => e instanceof DevmemError && e.code === 'EBUSY');
        await rejectsWith(nic.steerPort({ port: 6797, context: ctx }), 'INVALID_ARGUMENT', /already steered by rule/);
        assert.equal(nic.pending, false);
      } finally {
        ethtool.deleteFlowRule(env.ifLocal, location);
        await deleteRssContext(env.ifLocal, ctx);
      }
      assert.equal(getRssContext(env.ifLocal, ctx), null, 'the context is gone');

      // Queues someone else uses are refused before anything changes: another
      // context over one of them, or a binding on one.
      const last = env.queues - 1;
      const other = await createRssContext(env.ifLocal, [last]);
      try {
        await rejectsWith(
          nic.reserveQueues(COUNT),
          'QUEUE_BUSY',
          new RegExp(`RSS context ${other} of \\S+ already spreads flows over queue\\(s\\) ${last}`),
        );
      } finally {
        await deleteRssContext(env.ifLocal, other);
      }
      await nic.enableHeaderSplit();
      const dmabuf = allocUdmabuf(4 << 20);
      try {
        const binding = await bindRx(env.ifLocal, [last], dmabuf);
        try {
          await rejectsWith(
            nic.reserveQueues(COUNT),
            'QUEUE_BUSY',
            new RegExp(`queue ${last} of \\S+ is bound to devmem binding ${binding.id}`),
          );
        } finally {
          binding.close();
        }
      } finally {
        dmabuf.close();
      }
      assert.deepEqual(
        nic.steps.filter((s) => s.kind === 'rss-context' || s.kind === 'rss'),
        [],
        'no RSS change was made',
      );
    } finally {
      nic.close();
    }
    assert.deepEqual(await readNicState(env.ifLocal), before);
  });

  it('contexts made through ethtool netlink and through the ioctl read back alike, and either API deletes either', async () => {
    assert.equal(await rssContextApi(), 'netlink', 'a 7.3 kernel has RSS_CREATE_ACT and RSS_DELETE_ACT');
    const size = ethtool.getRssIndirection(env.ifLocal).length;
    const last = env.queues - 1;
    const table = Uint32Array.from({ length: size }, (_, i) => last - (i % 2));
    const viaIoctl = createRssContextSync(env.ifindexLocal, env.ifLocal, table, 'ioctl');
    const viaNetlink = createRssContextSync(env.ifindexLocal, env.ifLocal, table, 'netlink');
    try {
      assert.notEqual(viaIoctl, viaNetlink);
      for (const id of [viaIoctl, viaNetlink]) assert.deepEqual(getRssContext(env.ifLocal, id)?.indirection, Array.from(table));
      const listed = await listRssContexts(env.ifLocal);
      assert.deepEqual(
        listed?.map((c) => c.id),
        [viaIoctl, viaNetlink].sort((a, b) => a - b),
      );
      assert.deepEqual(listed?.[0]?.indirection, Array.from(table), 'the netlink dump carries the table');
    } finally {
      deleteRssContextSync(env.ifindexLocal, env.ifLocal, viaIoctl, 'netlink');
      deleteRssContextSync(env.ifindexLocal, env.ifLocal, viaNetlink, 'ioctl');
    }
    assert.deepEqual(await listRssContexts(env.ifLocal), []);
    assert.throws(
      () => deleteRssContextSync(env.ifindexLocal, env.ifLocal, viaIoctl, 'ioctl'),
      (e: unknown) => e instanceof DevmemError && e.code === 'ENOENT',
    );
  });

  it('recovery of a create that a crash cut off before the journal had its ID deletes that context, and no other', async () => {
    const size = ethtool.getRssIndirection(env.ifLocal).length;
    const queues = Array.from({ length: COUNT }, (_, i) => env.queues - COUNT + i);
    const target = { ifname: env.ifLocal, ifindex: env.ifindexLocal };
    // Someone else's context first, so ours is not simply ID 1.
    const other = createRssContextSync(env.ifindexLocal, env.ifLocal, contextIndirection(size, [0]), 'netlink');
    try {
      const before = (await listRssContexts(env.ifLocal))!.map((c) => c.id);
      const ours = createRssContextSync(env.ifindexLocal, env.ifLocal, contextIndirection(size, queues), 'netlink');
      // The journal's intent: no ID, the contexts before and the queues.
      const intent = { kind: 'rss-context', api: 'netlink', before, queues } as const;
      assert.equal(undoStep(target, intent, true), 'undone');
      assert.deepEqual(
        (await listRssContexts(env.ifLocal))!.map((c) => c.id),
        [other],
        `context ${ours} is deleted and ${other} kept`,
      );
      // A crash before the create reached the kernel: nothing of ours to find.
      assert.equal(undoStep(target, intent, true), 'already gone');
      // A context at the next ID that spreads over other queues is not taken for ours.
      const foreign = createRssContextSync(env.ifindexLocal, env.ifLocal, contextIndirection(size, [0, 1]), 'netlink');
      try {
        assert.equal(undoStep(target, intent, true), 'already gone');
        assert.ok(getRssContext(env.ifLocal, foreign), 'a context that is not ours is left alone');
      } finally {
        deleteRssContextSync(env.ifindexLocal, env.ifLocal, foreign, 'netlink');
      }
    } finally {
      deleteRssContextSync(env.ifindexLocal, env.ifLocal, other, 'netlink');
    }
  });

  it('steerPort() without an address steers the port for tcp4 and tcp6, and restore deletes both rules before the context', async () => {
    const before = await readNicState(env.ifLocal);
    const undone: string[] = [];
    const nic = await NicConfig.open(env.ifLocal, { onStep: (s) => s.state === 'undone' && undone.push(s.kind) });
    try {
      const reserved = await nic.reserveQueues(COUNT);
      const steered = await nic.steerPort({ port: 6796, context: reserved.context });
      assert.deepEqual(
        steered.rules.map((r) => [r.rule.flowType, r.rule.dstPort, r.rule.rssContext, r.tuple]),
        [
          ['tcp4', 6796, reserved.context, 1],
          ['tcp6', 6796, reserved.context, 1],
        ],
      );
    } finally {
      nic.close();
    }
    assert.deepEqual(undone, ['flow-rule', 'flow-rule', 'rss-context', 'rss'], 'the kernel order: rules, then the context, then the table');
    assert.deepEqual(await readNicState(env.ifLocal), before);
  });
});

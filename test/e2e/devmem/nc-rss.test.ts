// `devmem nc -l --rss-context --connections K` against the patched netdevsim:
// one binding over the reserved queues, many clients at once, each validated,
// each reported with the RX queue it arrived on; and the NIC read back exactly
// as it was after every run.
import * as assert from 'node:assert/strict';

import { ethtool } from '../../../lib/index';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, runNc, startNc, startPeer, type NcResult } from '../helpers/nc';

const env = e2eEnv();
let nextPort = 6601;

interface Event extends Record<string, unknown> {
  event: string;
}

interface ConnectionReport {
  connection: number;
  bytes: number;
  verdict: string;
  rxQueue?: number;
  message?: string;
}

function events(r: NcResult): Event[] {
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);
}

/** `devmem nc -l ARGS --json` fed by `devmem peer send --connections K` from the remote netns. */
async function receiveMany(args: string[], connections: number, bytes: number, period: number): Promise<NcResult> {
  const port = nextPort++;
  const nc = startNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(port), '--json', ...args]);
  await nc.waitFor('waiting for');
  const peer = startPeer([
    'send',
    '--host',
    env.addr4Local,
    '--port',
    String(port),
    '--bind',
    env.addr4Remote,
    '--connections',
    String(connections),
    '--bytes',
    String(bytes),
    '--pattern',
    String(period),
  ]);
  const r = await nc.done;
  peer.child.kill();
  await peer.done;
  return r;
}

describe('devmem nc --rss-context --connections on the patched netdevsim', function () {
  this.timeout(300_000);
  checkNicStateKept(env.ifLocal);
  let rxQueues = 0;
  // Reserve up to four queues, always leaving queue 0 and up for RSS.
  let reserve = 0;

  before(async () => {
    rxQueues = ethtool.rxChannelCount(await ethtool.getChannels(env.ifLocal));
    reserve = Math.min(4, rxQueues - 1);
    assert.ok(reserve >= 2, `the netdevsim port needs at least 3 RX queues for this suite, it has ${rxQueues}`);
  });

  it('16 clients on one port spread over the reserved queues, each validated and reported with its RX queue', async () => {
    const first = rxQueues - reserve;
    const reserved = Array.from({ length: reserve }, (_, i) => first + i);
    const r = await receiveMany(['-q', String(reserve), '--rss-context', '--connections', '16', '-v', '7'], 16, 64 * 1024, 7);
    assert.equal(r.code, 0, describeRun(r));
    const all = events(r);
    const bound = all.find((e) => e.event === 'bound')!;
    assert.deepEqual(bound.queues, reserved);
    const summary = all.at(-1)!;
    assert.equal(summary.event, 'summary');
    assert.equal(summary.result, 'ok');
    const reports = summary.connections as ConnectionReport[];
    assert.equal(reports.length, 16);
    for (const c of reports) {
      assert.equal(c.bytes, 64 * 1024, `connection ${c.connection}`);
      assert.equal(c.verdict, 'valid', `connection ${c.connection}: ${c.message ?? ''}`);
      assert.ok(c.rxQueue !== undefined && reserved.includes(c.rxQueue), `connection ${c.connection} came through queue ${c.rxQueue}`);
    }
    const used = new Set(reports.map((c) => c.rxQueue));
    assert.ok(used.size >= 2, `16 flows should spread over the ${reserve} reserved queues, all came through ${[...used].join(',')}`);
    // Undone in the kernel's order: the binding, the rule, the context, the table, the rings.
    const undone = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('undid: '))
      .map((l) => l.replace(/^undid: /, ''));
    assert.equal(undone.length, 5, r.stderr);
    assert.match(undone[0]!, /^bind-rx /);
    assert.match(undone[1]!, /^ethtool -N .* context \d+/);
    assert.match(undone[2]!, /context/);
    assert.match(undone[3]!, /^ethtool -X .* equal/);
    assert.match(undone[4]!, /^ethtool -G /);
  });

  it('without --rss-context, --connections 3 receives every client through the one steered queue', async () => {
    const r = await receiveMany(['--connections', '3', '-v', '7'], 3, 32 * 1024, 7);
    assert.equal(r.code, 0, describeRun(r));
    const reports = events(r).at(-1)!.connections as ConnectionReport[];
    assert.deepEqual(
      reports.map((c) => [c.bytes, c.verdict, c.rxQueue]),
      Array.from({ length: 3 }, () => [32 * 1024, 'valid', rxQueues - 1]),
    );
    assert.doesNotMatch(r.stderr, /context/);
  });

  it('one broken stream among several fails the run and names the connection', async () => {
    // Period 6 against -v 7: every connection's pattern is wrong, and each says so.
    const r = await receiveMany(['-q', String(reserve), '--rss-context', '--connections', '2', '-v', '7'], 2, 4096, 6);
    assert.equal(r.code, 1, describeRun(r));
    const summary = events(r).at(-1)!;
    assert.match(String(summary.message), /2 of 2 connections failed; connection \d: /);
    assert.deepEqual((summary.connections as ConnectionReport[]).map((c) => c.verdict).sort(), ['failed', 'failed']);
  });

  it('refuses what cannot work before touching the NIC', async () => {
    const base = ['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(nextPort++)];
    const cases: [string[], RegExp][] = [
      [['--rss-context'], /--rss-context needs -q/],
      [['--rss-context', '-q', String(rxQueues)], /leaves no queue for other traffic/],
      [['--rss-context', '-q', '2', '-t', '0'], new RegExp(`give -t ${rxQueues - 2} or leave -t out`)],
      [['--rss-context', '-q', '2', '-c', env.addr4Remote], /leave -c out/],
      [['--rss-context', '-q', '2', '-n'], /-n forbids that/],
      [['--connections', '2'], /needs -v or --json/],
      [['--connections', '0', '-v', '7'], /--connections needs an integer from 1/],
    ];
    for (const [args, message] of cases) {
      const r = await runNc([...base, ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${describeRun(r)}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /^did: /m, `${args.join(' ')} changed the NIC`);
    }
  });
});

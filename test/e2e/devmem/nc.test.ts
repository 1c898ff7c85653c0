// `devmem nc` against the patched netdevsim: the cases of the kernel's
// drivers/net/hw/devmem.py, with `devmem peer` standing in for socat, and
// after every run the NIC state read back exactly as it was. devmem.py's
// check_rx_hds sweep runs once, in the hardware suite (hw-suite.test.ts).
import * as assert from 'node:assert/strict';

import { ethtool, readNicState } from '../../../lib/index';
import { ncdevmemPattern } from '../../support/ncdevmem';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, ncReceive, runNc, startNc, startPeer } from '../helpers/nc';

const env = e2eEnv();
let nextPort = 6201;

describe('devmem nc (ncdevmem-compatible) on the patched netdevsim', function () {
  this.timeout(180_000);
  const nicState = checkNicStateKept(env.ifLocal);

  for (const family of ['IPv4', 'IPv6'] as const) {
    const local = family === 'IPv4' ? env.addr4Local : env.addr6Local;
    const remote = family === 'IPv4' ? env.addr4Remote : env.addr6Remote;

    it(`check_rx (${family}): -l -s -c -p -v 7 validates the pattern from a 5-tuple-steered peer and exits 0`, async () => {
      const port = nextPort++;
      const r = await ncReceive(['-f', env.ifLocal, '-c', remote, '-v', '7'], { host: local, port, from: remote, bytes: 1024, period: 7 });
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stderr, /did: ethtool -N \S+ flow-type tcp[46] src-ip \S+ dst-ip \S+ src-port \d+ dst-port \d+ action 3 \(rule \d+\)/);
      assert.match(r.stderr, /client exited: 1024 bytes/);
      // The kernel's order: unbind, then the rule, RSS, and the rings last.
      const undone = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('undid: '))
        .map((l) => l.split(' ')[1]);
      assert.deepEqual(undone, ['bind-rx', 'ethtool', 'ethtool', 'ethtool']);
      assert.match(r.stderr, /undid: bind-rx[^\n]*\nundid: ethtool -N[^\n]*\nundid: ethtool -X[^\n]*\nundid: ethtool -G/);
    });
  }

  it('check_rx: a 1 MiB stream with the pattern broken in one byte fails with exit 1', async () => {
    // The validator must be able to fail: send the pattern for period 6 to a -v 7 receiver.
    const port = nextPort++;
    const r = await ncReceive(['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7'], {
      host: env.addr4Local,
      port,
      from: env.addr4Remote,
      bytes: 1 << 20,
      period: 6,
    });
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stderr, /pattern mismatch at byte 5: expected 0x6, got 0xa/);
  });

  it('RX without -v writes the payload to stdout, byte for byte', async () => {
    const port = nextPort++;
    const r = await ncReceive(['-f', env.ifLocal], { host: env.addr4Local, port, from: env.addr4Remote, bytes: 100_000, period: 7 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout, ncdevmemPattern(7, 100_000).toString());
    // No -c: the 3-tuple rule.
    assert.match(r.stderr, /did: ethtool -N \S+ flow-type tcp4 dst-ip \S+ dst-port \d+ action 3/);
  });

  it('check_rx with --memory dmaheap: -v 7 validates the pattern received into a system-heap buffer', async () => {
    const send = { host: env.addr4Local, port: nextPort++, from: env.addr4Remote, bytes: 1 << 20, period: 7 };
    const r = await ncReceive(['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7', '--memory', 'dmaheap:system', '--json'], send);
    assert.equal(r.code, 0, describeRun(r));
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(events.find((e) => e.event === 'bound')!.memory, { kind: 'dma-heap', exporter: 'system' });
    assert.equal(events.find((e) => e.event === 'received')!.dmabufBytes, 1 << 20);
  });

  it('RX with --json prints NDJSON events ending in a summary, and no payload', async () => {
    const port = nextPort++;
    const r = await ncReceive(['-f', env.ifLocal, '-v', '7', '--json'], {
      host: env.addr4Local,
      port,
      from: env.addr4Remote,
      bytes: 4096,
      period: 7,
    });
    assert.equal(r.code, 0, describeRun(r));
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const kinds = events.map((e) => e.event);
    for (const k of ['nic-step', 'bound', 'listening', 'connection', 'received', 'summary'])
      assert.ok(kinds.includes(k), `no ${k} event in ${kinds.join(',')}`);
    // The events form a timeline: t (ms since the process started) never goes back.
    const times = events.map((e) => e.t as number);
    assert.deepEqual(
      [...times].sort((a, b) => a - b),
      times,
    );
    assert.equal(events.find((e) => e.event === 'listening')!.port, port);
    const summary = events.at(-1)!;
    assert.equal(summary.event, 'summary');
    assert.equal(summary.result, 'ok');
    assert.equal(summary.exitCode, 0);
    const received = events.find((e) => e.event === 'received')!;
    assert.equal(received.bytes, 4096);
    assert.equal(received.linearBytes, 0);
  });

  for (const chunks of [undefined, 3]) {
    it(`check_tx${chunks ? '_chunks (-z 3)' : ''}: the peer receives exactly "hello\\nworld\\n"`, async () => {
      const port = nextPort++;
      const peer = startPeer(['listen', '--host', env.addr4Remote, '--port', String(port)]);
      await new Promise<void>((resolve) => peer.child.stderr!.once('data', () => resolve()));
      const args = ['-f', env.ifLocal, '-s', env.addr4Remote, '-p', String(port)];
      if (chunks) args.push('-z', String(chunks));
      const r = await runNc(args, { input: 'hello\nworld\n' });
      const got = await peer.done;
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(got.stdout, 'hello\nworld\n');
      assert.match(r.stderr, /tx complete: 6 bytes in 1 sendmsg/);
      assert.match(r.stderr, /tx ok: 2 line\(s\), 12 bytes/);
    });
  }

  // check_rx_hds (payloads of 1 to 8192 bytes with -L) runs in the hardware
  // suite, which this lab runs too (hw-suite.test.ts), so it is not repeated here.

  it('self-test mode (no -s, no -c) passes every check and exits 0', async () => {
    const r = await runNc(['-f', env.ifLocal]);
    assert.equal(r.code, 0, describeRun(r));
    for (const check of [
      'ok: bind-rx with no valid queues fails',
      'ok: bind-rx with header split off fails (HEADER_SPLIT_DISABLED',
      'ok: bind-rx with header split on succeeds',
      'ok: shrinking the channels under a bound queue fails (INVALID_ARGUMENT',
    ])
      assert.ok(r.stderr.includes(check), `missing "${check}" in\n${r.stderr}`);
    assert.match(r.stderr, /using queues|queues 2\.\.3/);
  });

  it('restores rings, RSS, n-tuple rules and the ntuple feature after SIGTERM in the middle of a transfer', async () => {
    // Start from a state that differs from the defaults in every field nc touches.
    ethtool.setNtupleFilter(env.ifLocal, false);
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'disabled', hdsThresh: 128 });
    const custom = Uint32Array.from({ length: ethtool.getRssIndirection(env.ifLocal).length }, (_, i) => (i * 3) % env.queues);
    ethtool.setRssIndirection(env.ifLocal, custom);
    const start = await readNicState(env.ifLocal);
    try {
      assert.equal(start.ntupleFilter, false);
      assert.equal(start.tcpDataSplit, 'disabled');
      const port = nextPort++;
      const nc = startNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(port), '-c', env.addr4Remote, '-v', '7']);
      await nc.waitFor('waiting for a connection');
      const peer = startPeer(['stream', '--host', env.addr4Local, '--port', String(port), '--bind', env.addr4Remote, '--pattern', '7']);
      await nc.waitFor('got connection');
      // Let data flow, then stop it mid-stream.
      await new Promise((r) => setTimeout(r, 500));
      const during = await readNicState(env.ifLocal);
      assert.equal(during.tcpDataSplit, 'enabled');
      assert.equal(during.ntupleFilter, true);
      assert.equal(during.flowRules?.length, 1);
      nc.child.kill('SIGTERM');
      const r = await nc.done;
      peer.child.kill();
      await peer.done;
      assert.equal(r.signal, 'SIGTERM', describeRun(r));
      assert.match(r.stderr, /undid: bind-rx/);
      assert.deepEqual(await readNicState(env.ifLocal), start);
    } finally {
      ethtool.setRssIndirection(env.ifLocal, null);
      await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'unknown', hdsThresh: nicState.state().hdsThresh ?? 0 });
      ethtool.setNtupleFilter(env.ifLocal, true);
    }
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    for (const args of [
      ['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', '7000', '-c', env.addr4Remote, '--dry-run'],
      ['-f', env.ifLocal, '--dry-run'],
    ]) {
      const r = await runNc(args);
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stderr, /plan: ethtool -G \S+ tcp-data-split on hds-thresh 0/);
      assert.match(r.stderr, /plan: ethtool -X \S+ equal \d/);
      assert.match(r.stderr, /plan: bind-rx \S+ queues/);
      assert.doesNotMatch(r.stderr, /^did: /m);
      assert.deepEqual(await readNicState(env.ifLocal), nicState.state());
    }
  });

  it('refuses to mix up usage: a missing -p or a lone -t exits 1 and touches nothing', async () => {
    const a = await runNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local]);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /Missing -p argument/);
    const b = await runNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', '7001', '-t', '1']);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /Missing -q argument/);
  });
});

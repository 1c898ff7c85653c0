// The hardware suite's own machinery: net.config parsing, KTAP and kselftest
// exit codes, --backend, and a real run on this host, where the missing
// udmabuf must skip every case with that exact reason.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ConfigError, loadConfig, parseConfigFile } from '../hw/config';
import { Ktap } from '../hw/ktap';
import { HW_CASES } from '../support/hw-cases';
import { run } from '../support/process';
import { isRoot, ip } from './helpers/root';
import { VethPair } from './helpers/veth';

const SUITE = path.join(__dirname, '../hw/run.ts');
const DEVMEM_RX = ['check_rx', 'check_rx_hds', 'check_rx_multi_queue', 'check_rx_soak'];

describe('hardware suite (npm run test:hw)', () => {
  describe('configuration', () => {
    it('reads net.config lines, with comments, export and quotes', () => {
      assert.deepEqual(parseConfigFile('# comment\nNETIF=eth1\nexport LOCAL_V6="fd00::1"\nREMOTE_ARGS=\'root@peer -p 2222\'\n\n'), {
        NETIF: 'eth1',
        LOCAL_V6: 'fd00::1',
        REMOTE_ARGS: 'root@peer -p 2222',
      });
      assert.throws(() => parseConfigFile('what is this'), ConfigError);
    });

    it('lets the environment win over the file and checks every field', () => {
      const c = loadConfig({ NETIF: 'eth9', LOCAL_V4: '10.0.0.1', REMOTE_V4: '10.0.0.2', REMOTE_TYPE: 'netns', REMOTE_ARGS: 'peer' });
      assert.equal(c.netif, 'eth9');
      assert.equal(c.remotePeer, 'auto');
      assert.throws(
        () => loadConfig({ NETIF: 'eth9', LOCAL_V4: 'fd00::1', REMOTE_TYPE: 'telnet' }),
        (e: unknown) =>
          e instanceof ConfigError &&
          /LOCAL_V4=fd00::1 is not an IPv4 address/.test(e.message) &&
          /REMOTE_TYPE must be ssh or netns/.test(e.message) &&
          /REMOTE_ARGS is not set/.test(e.message),
      );
    });
  });

  describe('KTAP', () => {
    function collect(results: ('pass' | 'fail' | 'skip')[]): { lines: string[]; code: number } {
      const lines: string[] = [];
      const k = new Ktap((l) => lines.push(l));
      k.plan(results.length);
      results.forEach((s, i) => k.result(`case_${i}`, s === 'pass' ? { status: 'pass' } : { status: s, reason: `why ${i}\nmore` }));
      return { lines, code: k.finish() };
    }

    it('prints the plan, results, SKIP directives, totals and "N passed, N failed"', () => {
      const { lines, code } = collect(['pass', 'skip', 'fail']);
      assert.deepEqual(lines, [
        'KTAP version 1',
        '1..3',
        'ok 1 case_0',
        'ok 2 case_1 # SKIP why 1 | more',
        '# why 2',
        '# more',
        'not ok 3 case_2',
        '# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0',
        '# 1 passed, 1 failed, 1 skipped',
      ]);
      assert.equal(code, 1);
    });

    it('exits 0 when nothing failed, and 4 when everything skipped', () => {
      assert.equal(collect(['pass', 'skip']).code, 0);
      assert.equal(collect(['skip', 'skip']).code, 4);
    });
  });

  describe('--backend', () => {
    it('refuses a backend other than devmem, zcrx or both, before reading the configuration', async () => {
      const r = await run([process.execPath, '--import', 'tsx', SUITE, '--backend', 'rdma'], { env: { ...process.env, NETIF: '' } });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stdout, /^# --backend must be devmem, zcrx or both, got rdma$/m);
    });

    it('is documented in the usage text', async () => {
      const r = await run([process.execPath, '--import', 'tsx', SUITE, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /--backend devmem\|zcrx\|both/);
    });
  });

  describe('on this host', function () {
    this.timeout(60_000);
    let veth: VethPair;
    before(function () {
      if (!isRoot()) this.skip();
      veth = new VethPair(4, 4).create();
      ip('addr', 'add', '10.231.0.1/24', 'dev', veth.local);
      ip('-n', veth.netns, 'addr', 'add', '10.231.0.2/24', 'dev', veth.peer);
    });
    after(() => veth?.remove());

    const suite = (args: string[] = []) =>
      run([process.execPath, '--import', 'tsx', SUITE, ...args], {
        env: {
          ...process.env,
          NETIF: veth.local,
          LOCAL_V4: '10.231.0.1',
          REMOTE_V4: '10.231.0.2',
          REMOTE_TYPE: 'netns',
          REMOTE_ARGS: veth.netns,
        },
      });
    const names = (stdout: string) => [...stdout.matchAll(/^(?:not )?ok \d+ (\S+)/gm)].map((m) => m[1]);

    it('skips every case with the reason when udmabuf is missing, and exits 4', async function () {
      if (fs.existsSync('/dev/udmabuf')) this.skip();
      const r = await suite();
      assert.notEqual(r.code, 0, 'the suite must not pass on a host without udmabuf');
      assert.equal(r.code, 4, r.stdout);
      const results = r.stdout.split('\n').filter((l) => /^(not )?ok \d+/.test(l));
      assert.equal(results.length, HW_CASES.length);
      assert.deepEqual(names(r.stdout), HW_CASES, 'every RX case on both backends, in order');
      for (const l of results) assert.match(l, /^ok \d+ \S+ # SKIP no udmabuf: \/dev\/udmabuf is missing/);
      assert.match(r.stdout, new RegExp(`^# 0 passed, 0 failed, ${HW_CASES.length} skipped$`, 'm'));
      assert.match(r.stdout, /^# RX backends: devmem, zcrx$/m);
    });

    for (const backend of ['devmem', 'zcrx'] as const) {
      it(`--backend ${backend} runs that backend's RX cases and the rest`, async function () {
        if (fs.existsSync('/dev/udmabuf')) this.skip();
        const r = await suite(['--backend', backend]);
        assert.equal(r.code, 4, r.stdout);
        const dropped = backend === 'devmem' ? HW_CASES.filter((n) => n.endsWith('_zcrx')) : DEVMEM_RX;
        assert.deepEqual(
          names(r.stdout),
          HW_CASES.filter((n) => !dropped.includes(n)),
        );
        assert.match(r.stdout, new RegExp(`^# RX backends: ${backend}$`, 'm'));
      });
    }
  });
});

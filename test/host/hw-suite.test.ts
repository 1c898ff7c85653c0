// The hardware suite's own machinery: net.config parsing, KTAP and kselftest
// exit codes, and a real run on this host, where the missing udmabuf must
// skip every case with that exact reason.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';

import { ConfigError, loadConfig, parseConfigFile } from '../hw/config';
import { Ktap } from '../hw/ktap';
import { run } from '../support/process';
import { isRoot, ip } from './helpers/root';
import { VethPair } from './helpers/veth';

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

    it('skips every case with the reason when udmabuf is missing, and exits 4', async () => {
      const env = {
        ...process.env,
        NETIF: veth.local,
        LOCAL_V4: '10.231.0.1',
        REMOTE_V4: '10.231.0.2',
        REMOTE_TYPE: 'netns',
        REMOTE_ARGS: veth.netns,
      };
      const r = await run([process.execPath, '--import', 'tsx', path.join(__dirname, '../hw/run.ts')], { env });
      assert.notEqual(r.code, 0, 'the suite must not pass on a host without udmabuf');
      assert.equal(r.code, 4, r.stdout);
      const results = r.stdout.split('\n').filter((l) => /^(not )?ok \d+/.test(l));
      assert.equal(results.length, 8);
      for (const l of results) assert.match(l, /^ok \d+ \S+ # SKIP no udmabuf: \/dev\/udmabuf is missing/);
      assert.match(r.stdout, /^# 0 passed, 0 failed, 8 skipped$/m);
    });
  });
});

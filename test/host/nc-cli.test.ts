// `devmem nc` pieces that need no device: flag parsing against ncdevmem's
// getopt string, its queue auto-selection rules, --zcrx's rules, the -v
// pattern, stdin line splitting and -z chunking; plus the CLI's exits and
// dry runs on a veth.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';

import { readNicState, zcrxSupport } from '../../lib/index';

import { lines } from '../../bin/nc/lines';
import { NC_HELP, parseNcArgs, queuesGiven, resolveQueues, UsageError } from '../../bin/nc/options';
import { PatternValidator } from '../../bin/nc/pattern';
import { chunkRanges } from '../../bin/nc/tx';
import { run, type Exit } from '../support/process';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

const ROOT = path.resolve(__dirname, '../..');

function nc(args: string[], bin = 'bin/devmem.ts'): Promise<Exit> {
  return run([process.execPath, '--import', 'tsx', path.join(ROOT, bin), ...(bin.endsWith('devmem.ts') ? ['nc'] : []), ...args], {
    cwd: ROOT,
  });
}

describe('devmem nc command line', () => {
  describe('flags (ncdevmem getopt "Lls:c:p:v:q:t:f:z:nb:")', () => {
    it('parses every ncdevmem flag, in short and glued forms', () => {
      const o = parseNcArgs([
        '-l',
        '-f',
        'eth0',
        '-s',
        '10.0.0.1',
        '-c',
        '10.0.0.2',
        '-p5201',
        '-t',
        '2',
        '-q',
        '1',
        '-v',
        '7',
        '-L',
        '-z',
        '3',
        '-n',
        '-b',
        '0x4000',
      ]);
      assert.deepEqual(
        { ...o },
        {
          mode: 'rx',
          iface: 'eth0',
          server: '10.0.0.1',
          client: '10.0.0.2',
          port: 5201,
          startQueue: 2,
          numQueues: 1,
          validate: 7,
          failOnLinear: true,
          maxChunk: 3,
          skipConfig: true,
          rxPageSize: 16384,
          memory: { kind: 'udmabuf' },
          zcrx: false,
          rssContext: false,
          connections: 1,
          json: false,
          dryRun: false,
          help: false,
        },
      );
      assert.equal(parseNcArgs(['-f', 'eth0', '-b', '16384']).rxPageSize, 16384);
      assert.equal(parseNcArgs(['-f', 'eth0', '-b', '040000']).rxPageSize, 16384, '-b is strtoul base 0: octal');
    });

    it('picks the mode as ncdevmem does', () => {
      assert.equal(parseNcArgs(['-f', 'x']).mode, 'selftest');
      assert.equal(parseNcArgs(['-f', 'x', '-s', '::1', '-p', '1']).mode, 'tx');
      assert.equal(parseNcArgs(['-f', 'x', '-l', '-s', '::1', '-p', '1']).mode, 'rx');
    });

    it('takes --memory KIND[:ARG], udmabuf by default', () => {
      assert.deepEqual(parseNcArgs(['-f', 'x']).memory, { kind: 'udmabuf' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'udmabuf']).memory, { kind: 'udmabuf' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'dmaheap']).memory, { kind: 'dmaheap' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'dmaheap:system']).memory, { kind: 'dmaheap', heap: 'system' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'drm']).memory, { kind: 'drm' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'drm:/dev/dri/card1']).memory, { kind: 'drm', device: '/dev/dri/card1' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'cuda']).memory, { kind: 'cuda' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'cuda:1']).memory, { kind: 'cuda', device: 1 });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'cuda:0000:3b:00.0']).memory, { kind: 'cuda', device: '0000:3b:00.0' });
      assert.deepEqual(parseNcArgs(['-f', 'x', '--memory', 'rocm:1']).memory, { kind: 'rocm', device: 1 });
      assert.match(NC_HELP, /--memory KIND\[:ARG\]/);
    });

    it('refuses what ncdevmem would misread, as a usage error', () => {
      const bad: [string[], RegExp][] = [
        [['-l', '-s', '::1', '-p', '1'], /Missing -f/],
        [['-f', 'x', '-l', '-p', '1'], /Missing -s/],
        [['-f', 'x', '-l', '-s', '::1'], /Missing -p/],
        [['-f', 'x', '-s', '::1', '-p', '0'], /-p needs an integer from 1 to 65535/],
        [['-f', 'x', '-s', '::1', '-p', '80x'], /-p needs an integer/],
        [['-f', 'x', '-v', '0'], /-v needs an integer from 1 to 255/],
        [['-f', 'x', '-b', '12abc'], /-b needs an integer/],
        [['-f', 'x', '-n'], /-n cannot be used without -s or -c/],
        [['-f', 'x', '-X'], /Unknown option '-X'/],
        [['-f', 'x', 'extra'], /positional/],
        [['-f', 'x', '--memory', 'gpu'], /--memory needs udmabuf, dmaheap\[:HEAP\], drm\[:\/dev\/dri\/cardN\], cuda\[:GPU\] or rocm/],
        [['-f', 'x', '--memory', 'drm:'], /nothing after the colon/],
        [['-f', 'x', '--memory', 'drm', '-b', '16384'], /-b needs --memory udmabuf/],
      ];
      for (const [argv, re] of bad)
        assert.throws(
          () => parseNcArgs(argv),
          (e: unknown) => e instanceof UsageError && re.test(e.message),
          argv.join(' '),
        );
    });

    describe('--zcrx', () => {
      const rx = ['-l', '-f', 'x', '-s', '10.0.0.1', '-p', '5201', '--zcrx'];

      it('receives into host memory by default, or into the --memory dma-buf', () => {
        const o = parseNcArgs(rx);
        assert.equal(o.zcrx, true);
        assert.equal(o.mode, 'rx');
        assert.deepEqual(o.memory, { kind: 'host' });
        assert.deepEqual(parseNcArgs([...rx, '--memory', 'host']).memory, { kind: 'host' });
        assert.deepEqual(parseNcArgs([...rx, '--memory', 'udmabuf']).memory, { kind: 'udmabuf' });
        assert.deepEqual(parseNcArgs([...rx, '--memory', 'dmaheap:system']).memory, { kind: 'dmaheap', heap: 'system' });
        assert.deepEqual(parseNcArgs([...rx, '--memory', 'drm']).memory, { kind: 'drm' });
        assert.equal(parseNcArgs(rx.slice(0, -1)).zcrx, false, 'off unless asked');
      });

      it('takes one queue: -q 1 with -t, or neither (the last queue)', () => {
        const o = parseNcArgs([...rx, '-t', '3', '-q', '1']);
        assert.deepEqual(resolveQueues(o, 8), { start: 3, count: 1 });
        assert.deepEqual(resolveQueues(parseNcArgs(rx), 8), { start: 7, count: 1 });
        assert.throws(
          () => parseNcArgs([...rx, '-t', '2', '-q', '2']),
          (e: unknown) => e instanceof UsageError && /--zcrx receives through one RX queue: give -q 1 .*got -q 2/.test(e.message),
        );
        // Without --zcrx, -q 2 binds two queues as before.
        assert.equal(parseNcArgs(rx.slice(0, -1).concat(['-t', '2', '-q', '2'])).numQueues, 2);
      });

      it('-L and -b keep their flags; -b needs a udmabuf area', () => {
        const o = parseNcArgs([...rx, '-L', '--memory', 'udmabuf', '-b', '16384']);
        assert.equal(o.failOnLinear, true);
        assert.equal(o.rxPageSize, 16384);
      });

      it('refuses what --zcrx cannot do, as usage errors', () => {
        const bad: [string[], RegExp][] = [
          [['-f', 'x', '--zcrx'], /--zcrx is for the RX server: give -l/],
          [['-f', 'x', '-s', '10.0.0.1', '-p', '1', '--zcrx'], /--zcrx is for the RX server/],
          [[...rx.slice(0, -1), '--memory', 'host'], /--memory host needs --zcrx/],
          [['-f', 'x', '-s', '10.0.0.1', '-p', '1', '--memory', 'host'], /--memory host needs --zcrx/],
          [[...rx, '-b', '16384'], /-b with --zcrx needs --memory udmabuf/],
          [[...rx, '--memory', 'dmaheap', '-b', '16384'], /-b with --zcrx needs --memory udmabuf/],
          [[...rx, '--memory', 'gpu'], /--memory needs host, udmabuf, dmaheap/],
          [[...rx, '-q', '4'], /give -q 1/],
        ];
        for (const [argv, re] of bad)
          assert.throws(
            () => parseNcArgs(argv),
            (e: unknown) => e instanceof UsageError && re.test(e.message),
            argv.join(' '),
          );
      });

      it('--help documents --zcrx, its one queue and what -L means with it', () => {
        assert.match(NC_HELP, /--zcrx\s+RX: receive through io_uring zero-copy/);
        assert.match(NC_HELP, /with --zcrx it must be 1/);
        assert.match(NC_HELP, /With --zcrx \(which never delivers linear\s+data\): fail if the kernel copied payload/);
        assert.match(NC_HELP, /With --zcrx also host/);
      });
    });

    describe('--rss-context and --connections', () => {
      const rx = ['-l', '-f', 'x', '-s', '10.0.0.1', '-p', '5201'];

      it('reserves the last -q queues, with -t only as their first', () => {
        const o = parseNcArgs([...rx, '--rss-context', '-q', '4', '--connections', '16', '-v', '7']);
        assert.equal(o.rssContext, true);
        assert.equal(o.connections, 16);
        assert.deepEqual(resolveQueues(o, 8), { start: 4, count: 4 });
        assert.deepEqual(resolveQueues({ ...o, startQueue: 4 }, 8), { start: 4, count: 4 });
        assert.throws(() => resolveQueues({ ...o, startQueue: 3 }, 8), /reserves the last -q queues, 4\.\.7 here: give -t 4/);
        assert.throws(() => resolveQueues(o, 4), /leaves no queue for other traffic: the device has 4 RX queues, so -q can be at most 3/);
        // Off unless asked: -q alone binds from -t as ncdevmem does.
        assert.equal(parseNcArgs([...rx, '-t', '1', '-q', '2']).rssContext, false);
        assert.equal(parseNcArgs(rx).connections, 1);
        assert.equal(parseNcArgs([...rx, '--connections', '3', '--json']).connections, 3);
      });

      it('refuses what cannot work, as usage errors', () => {
        const bad: [string[], RegExp][] = [
          [[...rx, '--rss-context'], /--rss-context needs -q/],
          [['-f', 'x', '-s', '10.0.0.1', '-p', '1', '--rss-context', '-q', '2'], /--rss-context is for the RX server/],
          [[...rx, '--rss-context', '-q', '2', '--zcrx'], /cannot be combined/],
          [[...rx, '--rss-context', '-q', '2', '-n'], /-n forbids that/],
          [[...rx, '--rss-context', '-q', '2', '-c', '10.0.0.2'], /leave -c out/],
          [['-f', 'x', '--connections', '2'], /--connections is for the RX server/],
          [[...rx, '--connections', '2'], /--connections 2 needs -v or --json/],
          [[...rx, '--connections', '2', '-v', '7', '-c', '10.0.0.2'], /matches one client flow; leave -c out/],
          [[...rx, '--connections', '0'], /--connections needs an integer from 1 to 1024/],
          [[...rx, '--connections', '1025'], /--connections needs an integer from 1 to 1024/],
        ];
        for (const [argv, re] of bad)
          assert.throws(
            () => parseNcArgs(argv),
            (e: unknown) => e instanceof UsageError && re.test(e.message),
            argv.join(' '),
          );
      });

      it('--help documents both', () => {
        assert.match(NC_HELP, /--rss-context\s+RX: reserve the last -q N queues/);
        assert.match(NC_HELP, /--connections K\s+RX: accept K connections at once/);
      });
    });

    it("chooses queues by ncdevmem's rules", () => {
      assert.deepEqual(resolveQueues({ mode: 'selftest' }, 8), { start: 4, count: 4 });
      assert.deepEqual(resolveQueues({ mode: 'selftest' }, 5), { start: 2, count: 2 });
      assert.throws(() => resolveQueues({ mode: 'selftest' }, 1), /at least 2 RX queues/);
      assert.deepEqual(resolveQueues({ mode: 'rx' }, 8), { start: 7, count: 1 });
      assert.deepEqual(resolveQueues({ mode: 'rx', startQueue: 2, numQueues: 3 }, 8), { start: 2, count: 3 });
      assert.throws(() => resolveQueues({ mode: 'rx', startQueue: 2 }, 8), /Missing -q/);
      assert.throws(() => resolveQueues({ mode: 'rx', numQueues: 2 }, 8), /Missing -t/);
      assert.throws(() => resolveQueues({ mode: 'rx', startQueue: 7, numQueues: 2 }, 8), /do not exist/);
    });

    it('takes -t and -q as given when the channel count was not read (-n on a netkit guest), and needs them then', () => {
      assert.deepEqual(resolveQueues({ mode: 'rx', startQueue: 7, numQueues: 2 }, undefined), { start: 7, count: 2 });
      assert.throws(() => resolveQueues({ mode: 'rx' }, undefined), /give the queues with -t and -q/);
      assert.throws(() => resolveQueues({ mode: 'rx', startQueue: 1 }, undefined), /Missing -q/);
      assert.equal(queuesGiven({ startQueue: 0, numQueues: 1 }), true);
      assert.equal(queuesGiven({ startQueue: 0 }), false);
    });

    it('--help names every flag beside its ncdevmem equivalent, and the exit codes', () => {
      for (const f of ['l', 's', 'c', 'p', 'f', 't', 'q', 'v', 'L', 'z', 'n', 'b'])
        assert.match(NC_HELP, new RegExp(`-${f}, --[a-z-]+.*\\s-${f}\\s`), `flag -${f}`);
      assert.match(NC_HELP, /0 ok, 1 failure, 4 skipped/);
      assert.match(NC_HELP, /--json/);
      assert.match(NC_HELP, /--dry-run/);
    });
  });

  describe('-v pattern', () => {
    it('expects 1..N-1 then a newline, across chunk boundaries', () => {
      const v = new PatternValidator(7);
      const stream = Buffer.from('\x01\x02\x03\x04\x05\x06\n\x01\x02\x03\x04\x05\x06\n\x01');
      assert.deepEqual(v.check(stream.subarray(0, 5)), []);
      assert.deepEqual(v.check(stream.subarray(5)), []);
      assert.equal(v.position, stream.length);
      assert.equal(v.mismatches, 0);
    });

    it('reports mismatches with their stream position, up to the limit, and counts them all', () => {
      const v = new PatternValidator(3, 2);
      const found = v.check(Buffer.from([1, 2, 0x0a, 1, 9, 0x0a, 7, 7]));
      assert.deepEqual(found, [
        { position: 4, expected: 2, actual: 9 },
        { position: 6, expected: 1, actual: 7 },
      ]);
      assert.equal(v.mismatches, 3);
    });
  });

  describe('TX input', () => {
    it('splits stdin into lines that keep their newline, like getline', async () => {
      async function* chunks() {
        yield Buffer.from('hel');
        yield Buffer.from('lo\nwor');
        yield Buffer.from('ld\n\nlast');
      }
      const got: string[] = [];
      for await (const l of lines(chunks())) got.push(l.toString());
      assert.deepEqual(got, ['hello\n', 'world\n', '\n', 'last']);
    });

    it('-z cuts a line into iovec ranges of at most that size', () => {
      assert.deepEqual(chunkRanges(6, 3), [
        { offset: 0, length: 3 },
        { offset: 3, length: 3 },
      ]);
      assert.deepEqual(chunkRanges(7, 3), [
        { offset: 0, length: 3 },
        { offset: 3, length: 3 },
        { offset: 6, length: 1 },
      ]);
      assert.deepEqual(chunkRanges(6, undefined), [{ offset: 0, length: 6 }]);
      assert.deepEqual(chunkRanges(2, 3), [{ offset: 0, length: 2 }]);
    });
  });

  describe('the process', function () {
    this.timeout(30_000);

    it('devmem nc --help and ncdevmem-js --help print the same text', async () => {
      const a = await nc(['--help']);
      const b = await nc(['--help'], 'bin/ncdevmem-js.ts');
      assert.equal(a.code, 0);
      assert.equal(a.stdout, NC_HELP);
      assert.equal(b.stdout, NC_HELP);
    });

    it('a usage error exits 1 with the reason on stderr and nothing on stdout', async () => {
      const r = await nc(['-f', 'lo', '-s', '::1']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /devmem nc: FAIL: Missing -p argument/);
    });

    describe('on a veth', () => {
      let veth: VethPair;
      before(function () {
        requireRoot(this);
        veth = new VethPair(4, 4).create();
      });
      after(() => veth?.remove());

      const zcrx = zcrxSupport();
      const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;

      it('--zcrx --dry-run plans the zcrx queue on the start queue, and changes nothing', async () => {
        const before = await readNicState(veth.local);
        const r = await nc(['-l', '-f', veth.local, '-s', '10.0.0.1', '-p', '9000', '-n', '-t', '2', '-q', '1', '--zcrx', '--dry-run']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /using queue 2 \(io_uring zcrx\)/);
        assert.match(
          r.stderr,
          new RegExp(`plan: zcrx ${veth.local} queue 2: \\d+-byte area of host memory, 4096-byte buffers, \\d+ refill entries`),
        );
        assert.doesNotMatch(r.stderr, /bind-rx/);
        assert.match(r.stderr, /devmem nc: ok: dry run: nothing was changed/);
        assert.deepEqual(await readNicState(veth.local), before);
      });

      it('--zcrx --dry-run --memory dmaheap plans a dma-buf area, and a bad -b fails before the plan', async () => {
        // The zcrx server on queue 1 of the veth, planned only: `extra` on top.
        const zcrxPlan = (...extra: string[]) =>
          nc(['-l', '-f', veth.local, '-s', '10.0.0.1', '-p', '9000', '-n', '-t', '1', '-q', '1', '--zcrx', ...extra, '--dry-run']);
        const r = await zcrxPlan('--memory', 'dmaheap');
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /plan: zcrx \S+ queue 1: \d+-byte area of a dma-heap dma-buf/);
        const bad = await zcrxPlan('--memory', 'udmabuf', '-b', '5000');
        assert.equal(bad.code, 1, bad.stderr);
        assert.match(bad.stderr, /FAIL: -b with --zcrx: rxBufLen must be a power of two/);
        assert.doesNotMatch(bad.stderr, /plan:/);
      });

      it('--zcrx skips (exit 4) where the queue cannot take zcrx, and leaves the NIC as it was', async () => {
        const before = await readNicState(veth.local);
        const r = await nc(['-l', '-f', veth.local, '-s', '10.0.0.1', '-p', '9000', '-n', '-t', '2', '-q', '1', '--zcrx', '--json']);
        assert.equal(r.code, 4, r.stderr);
        const summary = summaryOf(r.stdout);
        assert.equal(summary.result, 'skip');
        // With zcrx here the kernel tries the veth and refuses it; without it nc stops before the NIC.
        if (zcrx.zcrx) assert.equal(summary.reason, 'DEVICE_UNSUPPORTED', r.stderr);
        else assert.ok(['ZCRX_UNSUPPORTED', 'KERNEL_TOO_OLD'].includes(summary.reason as string), r.stderr);
        assert.deepEqual(await readNicState(veth.local), before);
      });

      it('RX mode skips (exit 4) on a device without header split, with a JSON summary', async () => {
        const r = await nc(['-l', '-f', veth.local, '-s', '10.0.0.1', '-p', '9000', '--json']);
        assert.equal(r.code, 4, r.stderr);
        const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
        assert.equal(summary.event, 'summary');
        assert.equal(summary.result, 'skip');
        assert.equal(summary.reason, 'DEVICE_UNSUPPORTED');
        assert.equal(summary.exitCode, 4);
      });
    });
  });
});

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import Ajv from 'ajv';

import { probe, PROBE_SCHEMA_VERSION, zcrxSupport } from '../../lib/index';
import { requireRoot } from './helpers/root';
import { VethPair } from './helpers/veth';

const root = path.resolve(__dirname, '../..');
const schema = JSON.parse(fs.readFileSync(path.join(root, 'docs/probe-schema.json'), 'utf8'));

function runCli(args: string[], opts: { uid?: number } = {}): string {
  return execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'bin/devmem.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, HOME: '/tmp' },
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
  });
}

describe('devmem probe', function () {
  this.timeout(60_000);
  let veth: VethPair;
  const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

  before(function () {
    requireRoot(this);
    veth = new VethPair(4, 4).create();
  });
  after(() => veth?.remove());

  it('--json follows the documented schema', () => {
    const report: any = JSON.parse(runCli(['probe', '--json']));
    assert.ok(validate(report) as boolean, JSON.stringify(validate.errors, null, 2));
    assert.equal(report.kernel.release, fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
  });

  it('reports the kernel ops and a not-ready verdict with reasons for a veth', async () => {
    const report = await probe({ iface: veth.local });
    assert.ok(validate(report) as boolean, JSON.stringify(validate.errors));
    assert.equal(report.netdev.ops.bindRx, true);
    assert.equal(report.kernel.rxSupported, true);
    assert.equal(report.interfaces.length, 1);
    const v = report.interfaces[0]!;
    assert.equal(v.name, veth.local);
    assert.equal(v.driver, 'veth');
    assert.equal(v.ready, false);
    assert.ok(
      v.reasons.some((r) => /driver veth has no devmem support/.test(r)),
      v.reasons.join('; '),
    );
    assert.equal(v.xdpAttached, false);
    assert.deepEqual(v.boundQueues, []);
  });

  it('reports io_uring zcrx as zcrxSupport() finds it, and the queues zcrx holds (none on a veth)', async () => {
    const report = await probe({ iface: veth.local });
    assert.ok(validate(report) as boolean, JSON.stringify(validate.errors));
    assert.equal(report.schemaVersion, 1, 'the zcrx fields are additions within schema version 1');
    assert.equal(PROBE_SCHEMA_VERSION, 1);
    const s = zcrxSupport();
    assert.deepEqual(report.zcrx, {
      built: s.built,
      ring: s.ring,
      disabled: s.disabled,
      zcrx: s.zcrx,
      reason: s.reason ?? null,
      query: s.query,
      rxBufLen: s.rxBufLen,
      events: s.events,
    });
    assert.equal(report.zcrx.reason === null, report.zcrx.zcrx, 'a reason exactly when zcrx is unavailable');
    assert.deepEqual(report.interfaces[0]!.zcrxQueues, []);
  });

  it("the schema requires the zcrx section and each interface's zcrx queues, as the report has them", async () => {
    const report: any = JSON.parse(JSON.stringify(await probe({ iface: veth.local })));
    const withoutZcrx = { ...report };
    delete withoutZcrx.zcrx;
    assert.equal(validate(withoutZcrx), false);
    const i = report.interfaces[0];
    assert.equal(validate({ ...report, interfaces: [{ ...i, zcrxQueues: undefined }] }), false);
    assert.equal(validate({ ...report, interfaces: [{ ...i, zcrxQueues: [{ queue: 1, rxBufLen: 4096 }] }] }), true);
    assert.equal(validate({ ...report, interfaces: [{ ...i, zcrxQueues: [{ queue: 1, rxBufLen: null }] }] }), true);
    assert.equal(validate({ ...report, interfaces: [{ ...i, zcrxQueues: [{ queue: 1 }] }] }), false);
    assert.equal(validate({ ...report, zcrx: { ...report.zcrx, reason: undefined } }), false);
  });

  it('needs no arguments: the default job prints a readable table', () => {
    const out = runCli([]);
    assert.match(out, /^kernel\s+\S+/m);
    assert.match(out, /IFACE\s+DRIVER/);
    assert.match(out, /\sBOUND\s+ZCRX\s+VERDICT/);
    assert.match(out, /^io_uring zcrx\s+kernel config (available|unavailable|unknown); this build (can use it|cannot \(.+\))/m);
    assert.match(out, /^lo\s.*not ready: loopback cannot carry devmem/m);
  });

  it('works unprivileged and says so', () => {
    const report: any = JSON.parse(runCli(['--json'], { uid: 65534 }));
    assert.ok(validate(report) as boolean, JSON.stringify(validate.errors));
    assert.equal(report.privileges.capNetAdmin, false);
    assert.equal(report.privileges.uid, 65534);
    assert.ok(report.interfaces.length >= 1);
  });

  it('reports an unknown interface as unreadable rather than failing', () => {
    const report: any = JSON.parse(runCli(['--json', '--iface', 'nosuchif0']));
    assert.deepEqual(report.interfaces, []);
    assert.ok(report.unreadable.some((u: string) => /nosuchif0: not found/.test(u)));
  });

  it('rejects unknown options with exit code 1', () => {
    assert.throws(
      () =>
        execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'bin/devmem.ts'), 'probe', '--bogus'], {
          cwd: root,
          stdio: 'pipe',
        }),
      (e: any) => {
        assert.equal(e.status, 1);
        assert.match(String(e.stderr), /Unknown option '--bogus'/);
        return true;
      },
    );
  });
});

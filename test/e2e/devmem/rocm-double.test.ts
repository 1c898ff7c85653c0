// ROCm memory end to end against the ROCm TEST DOUBLE
// (test/support/gpu-doubles/libhsa-runtime64.c): a stand-in for AMD's HSA
// runtime whose "VRAM" is a memfd it exports through the guest kernel's real
// udmabuf, with the export covering more than the allocation, as ROCm's may.
// The kernel's devmem code binds it and receives into it; the addon's
// dlopen path, the export offset (baseOffset) honoured wherever offsets
// become device addresses, read-back through hsa_memory_copy and cleanup are
// the real ones. What it cannot show: a GPU, AMD's runtime, where amdgpu
// really places the buffer, PCIe P2P.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';

import { buildDouble, leftAtExit, runWithDouble } from '../../support/gpu-double';
import { enableHeaderSplit } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, ncReceive } from '../helpers/nc';

const env = e2eEnv();
const MiB = 1024 * 1024;
const RECEIVE = path.join(__dirname, '../fixtures/gpu-receive.ts');
const SCENARIO = path.join(__dirname, '../../host/fixtures/rocm-scenario.ts');
let nextPort = 7501;

describe('ROCm memory through the ROCm test double on the patched netdevsim', function () {
  this.timeout(300_000);

  it('allocRocm: the export offset is baseOffset, copies go through it, no CPU view, CLOSED after close', async () => {
    const { result, log } = await runWithDouble('rocm', SCENARIO, ['alloc', String(MiB)], { HSA_DOUBLE_EXPORT_OFFSET: '4' });
    assert.equal(result.kind, 'rocm', JSON.stringify(result));
    assert.equal(result.baseOffset, 4 * 4096);
    assert.equal(result.size, MiB + 4 * 4096, "the dma-buf's size, the leading region included");
    assert.equal(result.readBack, true);
    assert.equal(result.leadReadable, true);
    assert.equal((result.view as { reason: string }).reason, 'NO_CPU_VIEW');
    assert.equal((result.afterClose as { reason: string }).reason, 'CLOSED');
    assert.ok(log.includes('hsa_amd_portable_close_dmabuf'), 'the export is closed through the runtime');
    assert.equal(leftAtExit(log), 'exit allocations=0 exports=0');
  });

  describe('receive', () => {
    let restoreRings: () => Promise<void>;
    before(async () => {
      buildDouble('rocm');
      restoreRings = await enableHeaderSplit();
    });
    after(async () => restoreRings());

    it('binds a ROCm buffer exported at an offset and receives 32 MiB into it, intact, every token returned', async () => {
      const { result, log } = await runWithDouble('rocm', RECEIVE, ['rocm', String(nextPort++)], { HSA_DOUBLE_EXPORT_OFFSET: '16' });
      assert.equal(result.kind, 'rocm', JSON.stringify(result));
      assert.equal(result.baseOffset, 16 * 4096);
      const r = result.receipt as Record<string, number>;
      assert.equal(r.bytes, 32 * MiB);
      assert.equal(r.mismatches, 0, 'every byte read back through hsa_memory_copy matches the pattern');
      assert.equal(r.dmabufBytes, 32 * MiB);
      assert.equal(r.released, r.fragments);
      assert.equal(r.outstanding, 0);
      assert.equal(leftAtExit(log), 'exit allocations=0 exports=0');
    });

    describe('devmem nc --memory rocm', () => {
      checkNicStateKept(env.ifLocal);

      it('check_rx: -v 7 validates the pattern received into ROCm memory', async () => {
        const send = { host: env.addr4Local, port: nextPort++, from: env.addr4Remote, bytes: MiB, period: 7 };
        const withDouble = { ...process.env, LD_LIBRARY_PATH: buildDouble('rocm') };
        const r = await ncReceive(['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7', '--memory', 'rocm', '--json'], send, withDouble);
        assert.equal(r.code, 0, describeRun(r));
        const events = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.deepEqual(events.find((e) => e.event === 'bound')!.memory, { kind: 'rocm', exporter: 'udmabuf', device: 0 });
        assert.equal(events.find((e) => e.event === 'received')!.dmabufBytes, MiB);
      });
    });
  });
});

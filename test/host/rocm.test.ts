// ROCm allocation against the ROCm TEST DOUBLE
// (test/support/gpu-doubles/libhsa-runtime64.c): a stand-in for AMD's HSA
// runtime, loaded through the same dlopen as the real one. It checks the
// addon's loading, agent and pool choice, error mapping and cleanup; nothing
// here says anything about a real GPU or AMD's runtime. This host has no
// udmabuf, so the double's export fails here: the guest suite
// (devmem/rocm-double.test.ts) runs the path that succeeds.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { allocRocm, DevmemError, rocmInfo } from '../../lib/index';
import { leftAtExit, runWithDouble } from '../support/gpu-double';

const SCENARIO = path.join(__dirname, 'fixtures', 'rocm-scenario.ts');
const hasRealRocm = ['/opt/rocm/lib/libhsa-runtime64.so.1', '/usr/lib/x86_64-linux-gnu/libhsa-runtime64.so.1'].some((p) =>
  fs.existsSync(p),
);

type Failure = { reason: string; code: string; errno: number | null; libraryCode: string | null; syscall: string | null; message: string };
const rocm = (args: string[], knobs: Record<string, string> = {}) => runWithDouble('rocm', SCENARIO, args, knobs);

describe('ROCm memory (against the ROCm test double)', function () {
  this.timeout(120_000);

  it('without libhsa-runtime64.so.1: NO_ROCM with advice, no errno, and rocmInfo says why', function () {
    if (hasRealRocm) this.skip();
    assert.throws(
      () => allocRocm(4096),
      (e: unknown) => {
        assert.ok(e instanceof DevmemError);
        assert.equal(e.reason, 'NO_ROCM');
        assert.equal(e.errno, undefined);
        assert.match(e.message, /libhsa-runtime64\.so\.1/);
        assert.match(e.advice, /ROCm/);
        return true;
      },
    );
    assert.equal(rocmInfo().loaded, false);
  });

  it('checks the size and the device before loading anything', () => {
    const reason = (r: string) => (e: unknown) => e instanceof DevmemError && e.reason === r;
    assert.throws(() => allocRocm(100), reason('INVALID_ARGUMENT'));
    assert.throws(() => allocRocm(4096, { device: 'c1:00' }), reason('INVALID_ARGUMENT'));
    assert.throws(() => allocRocm(4096, { device: {} as unknown as number }), TypeError);
  });

  it('lists the GPU agents with their PCI bus ids, leaving out the CPU agent', async () => {
    const { result } = await rocm(['info'], { HSA_DOUBLE_GPUS: '2' });
    const info = result.info as ReturnType<typeof rocmInfo>;
    assert.equal(info.loaded, true);
    assert.deepEqual(
      info.devices.map((d) => [d.ordinal, d.name, d.pciBusId]),
      [
        [0, 'gfx-double-0', '0000:c1:00.0'],
        [1, 'gfx-double-1', '0000:c2:00.0'],
      ],
    );
  });

  it('allocates from the coarse-grained global pool, and exports it', async () => {
    const { result, log } = await rocm(['alloc', '16384']);
    assert.ok(
      log.some((l) => l.startsWith('hsa_amd_memory_pool_allocate pool 1001 coarse size 16384')),
      log.join('\n'),
    );
    // No udmabuf on this host: the double's export fails, mapped, and nothing is left.
    const e = result.error as Failure;
    assert.equal(e.reason, 'ROCM_ERROR');
    assert.equal(e.libraryCode, 'HSA_STATUS_ERROR');
    assert.equal(e.syscall, 'hsa_amd_portable_export_dmabuf');
    assert.ok(log.includes('hsa_amd_memory_pool_free'), log.join('\n'));
    assert.equal(leftAtExit(log), 'exit allocations=0 exports=0');
  });

  for (const [call, status, name] of [
    ['hsa_amd_memory_pool_allocate', '0x1008', 'HSA_STATUS_ERROR_OUT_OF_RESOURCES'],
    ['hsa_amd_portable_export_dmabuf', '0x1001', 'HSA_STATUS_ERROR_INVALID_ARGUMENT'],
    ['hsa_amd_portable_export_dmabuf', '0x2000', 'hsa_status_t 0x2000'],
  ] as const) {
    it(`maps ${call} failing with ${name} to ROCM_ERROR and leaves nothing allocated`, async () => {
      const { result, log } = await rocm(['alloc'], { HSA_DOUBLE_FAIL: `${call}:${status}` });
      const e = result.error as Failure;
      assert.equal(e.reason, 'ROCM_ERROR', JSON.stringify(e));
      assert.equal(e.libraryCode, name);
      assert.equal(e.syscall, call);
      assert.equal(e.errno, null);
      assert.equal(leftAtExit(log), 'exit allocations=0 exports=0');
    });
  }

  it('a runtime that fails to initialise is NO_ROCM, saying so', async () => {
    const { result } = await rocm(['alloc'], { HSA_DOUBLE_FAIL: 'hsa_init:0x1000' });
    const e = result.error as Failure;
    assert.equal(e.reason, 'NO_ROCM');
    assert.match(e.message, /hsa_init failed/);
  });

  it('picks the GPU by PCI bus id, and refuses one that is not there', async () => {
    const two = { HSA_DOUBLE_GPUS: '2' };
    const { log } = await rocm(['alloc', '4096', '0000:C2:00.0'], two);
    assert.ok(
      log.some((l) => l.startsWith('hsa_amd_memory_pool_allocate pool 1011 coarse')),
      log.join('\n'),
    );
    const missing = await rocm(['alloc', '4096', '0000:99:00.0'], two);
    assert.equal((missing.result.error as Failure).libraryCode, 'HSA_STATUS_ERROR_INVALID_AGENT');
    const ordinal = await rocm(['alloc', '4096', '2'], two);
    assert.match((ordinal.result.error as Failure).message, /no ROCm GPU 2 \(2 GPU agents\)/);
  });
});

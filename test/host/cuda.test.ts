// CUDA allocation against the CUDA TEST DOUBLE (test/support/gpu-doubles/libcuda.c):
// a stand-in for NVIDIA's libcuda.so.1, loaded through the same dlopen as
// the real one. It checks the addon's loading, call order, error mapping and
// cleanup; nothing here says anything about a real GPU or NVIDIA's driver.
// This host has no udmabuf, so the double's export fails here: the guest
// suite (devmem/cuda-double.test.ts) runs the path that succeeds.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import Ajv from 'ajv';

import { allocCuda, cudaExportRange, cudaInfo, DevmemError } from '../../lib/index';
import { buildCudaDouble, leftAtExit, runWithCudaDouble } from '../support/gpu-double';
import { run } from '../support/process';

const SCENARIO = path.join(__dirname, 'fixtures', 'cuda-scenario.ts');
const hasRealCuda = ['/usr/lib/x86_64-linux-gnu/libcuda.so.1', '/usr/lib64/libcuda.so.1', '/usr/lib/aarch64-linux-gnu/libcuda.so.1'].some(
  (p) => fs.existsSync(p),
);

type Failure = { reason: string; code: string; errno: number | null; libraryCode: string | null; syscall: string | null; message: string };

describe('CUDA memory (against the CUDA test double)', function () {
  this.timeout(120_000);

  it('without libcuda.so.1: NO_CUDA with advice, no errno, and cudaInfo says why', function () {
    if (hasRealCuda) this.skip(); // a GPU host: the GPU check (npm run test:gpu) covers it
    assert.throws(
      () => allocCuda(4096),
      (e: unknown) => {
        assert.ok(e instanceof DevmemError);
        assert.equal(e.reason, 'NO_CUDA');
        assert.equal(e.code, 'ERR_DEVMEM_NO_CUDA');
        assert.equal(e.errno, undefined);
        assert.match(e.message, /libcuda\.so\.1/);
        assert.match(e.advice, /LD_LIBRARY_PATH/);
        return true;
      },
    );
    const info = cudaInfo();
    assert.equal(info.loaded, false);
    assert.match(info.error ?? '', /libcuda\.so\.1/);
    assert.deepEqual(info.devices, []);
  });

  it('checks the size, the device and the range before loading anything', () => {
    const reason = (r: string) => (e: unknown) => e instanceof DevmemError && e.reason === r;
    assert.throws(() => allocCuda(100), reason('INVALID_ARGUMENT'));
    assert.throws(() => allocCuda(4096, { device: -1 }), reason('INVALID_ARGUMENT'));
    assert.throws(() => allocCuda(4096, { device: '3b:00' }), reason('INVALID_ARGUMENT'));
    assert.throws(() => allocCuda(4096, { device: true as unknown as number }), TypeError);
    assert.throws(() => cudaExportRange(4097n, 4096), reason('INVALID_ARGUMENT'));
    assert.throws(() => cudaExportRange(0n, 4096), reason('INVALID_ARGUMENT'));
    assert.throws(() => cudaExportRange(4096 as unknown as bigint, 4096), TypeError);
  });

  it('lists the devices with their PCI bus ids and dma-buf support', async () => {
    const { result } = await runWithCudaDouble(SCENARIO, ['info'], { CUDA_DOUBLE_DEVICES: '2', CUDA_DOUBLE_DRIVER_VERSION: '12040' });
    const info = result.info as ReturnType<typeof cudaInfo>;
    assert.equal(info.loaded, true);
    assert.equal(info.driverVersion, 12040);
    assert.deepEqual(
      info.devices.map((d) => [d.ordinal, d.pciBusId, d.dmabufSupported]),
      [
        [0, '0000:1e:00.0', true],
        [1, '0000:1f:00.0', true],
      ],
    );
  });

  it('checks DMA_BUF_SUPPORTED before anything is allocated: CUDA_DMABUF_UNSUPPORTED names the causes', async () => {
    const { result, log } = await runWithCudaDouble(SCENARIO, ['alloc'], { CUDA_DOUBLE_DMABUF: '0' });
    const e = result.error as Failure;
    assert.equal(e.reason, 'CUDA_DMABUF_UNSUPPORTED');
    assert.equal(e.errno, null);
    assert.ok(!log.some((l) => l.startsWith('cuMemAlloc') || l.startsWith('cuDevicePrimaryCtxRetain')), log.join('\n'));
    assert.equal(leftAtExit(log), 'exit allocations=0 contexts=0');
  });

  it('follows the driver sequence and exports with the PCIe flag, then without it', async () => {
    const { result, log } = await runWithCudaDouble(SCENARIO, ['alloc', '16384']);
    const names = log.map((l) => l.split(' ')[0]);
    assert.deepEqual(names.slice(names.lastIndexOf('cuInit')), [
      'cuInit',
      'cuDeviceGetAttribute',
      'cuDevicePrimaryCtxRetain',
      'cuMemAlloc',
      'cuMemGetHandleForAddressRange',
      'cuMemGetHandleForAddressRange',
      'cuMemFree',
      'cuDevicePrimaryCtxRelease',
      'exit',
    ]);
    assert.ok(log.includes('cuMemGetHandleForAddressRange 16384 type 1 flags 1'), log.join('\n'));
    assert.ok(log.includes('cuMemGetHandleForAddressRange 16384 type 1 flags 0'), log.join('\n'));
    // No udmabuf on this host, so the double cannot export: the failure is mapped, and nothing is left.
    const e = result.error as Failure;
    assert.equal(e.reason, 'CUDA_ERROR');
    assert.equal(e.libraryCode, 'CUDA_ERROR_NOT_SUPPORTED');
    assert.equal(e.syscall, 'cuMemGetHandleForAddressRange');
    assert.equal(leftAtExit(log), 'exit allocations=0 contexts=0');
  });

  it('asks for no PCIe mapping flag from a driver older than 12.8', async () => {
    const { log } = await runWithCudaDouble(SCENARIO, ['alloc', '8192'], { CUDA_DOUBLE_DRIVER_VERSION: '12020' });
    const exports = log.filter((l) => l.startsWith('cuMemGetHandleForAddressRange'));
    assert.deepEqual(exports, ['cuMemGetHandleForAddressRange 8192 type 1 flags 0']);
  });

  it('re-allocates a page more when cuMemAlloc returns an address inside a page', async () => {
    const { log } = await runWithCudaDouble(SCENARIO, ['alloc', '8192'], { CUDA_DOUBLE_MISALIGN: '1' });
    assert.deepEqual(
      log.filter((l) => l.startsWith('cuMemAlloc') || l === 'cuMemFree'),
      ['cuMemAlloc 8192 -> misaligned', 'cuMemFree', 'cuMemAlloc 12288 -> misaligned', 'cuMemFree'],
    );
    assert.equal(leftAtExit(log), 'exit allocations=0 contexts=0');
  });

  for (const [call, code, name] of [
    ['cuInit', '100', 'CUDA_ERROR_NO_DEVICE'],
    ['cuDeviceGet', '101', 'CUDA_ERROR_INVALID_DEVICE'],
    ['cuDevicePrimaryCtxRetain', '201', 'CUDA_ERROR_INVALID_CONTEXT'],
    ['cuMemAlloc', '2', 'CUDA_ERROR_OUT_OF_MEMORY'],
    ['cuMemGetHandleForAddressRange', '999', 'CUresult 999'],
  ] as const) {
    it(`maps ${call} failing with ${name} to CUDA_ERROR and leaves nothing allocated`, async () => {
      const { result, log } = await runWithCudaDouble(SCENARIO, ['alloc'], { CUDA_DOUBLE_FAIL: `${call}:${code}` });
      const e = result.error as Failure;
      assert.equal(e.reason, 'CUDA_ERROR', JSON.stringify(e));
      assert.equal(e.libraryCode, name);
      assert.equal(e.syscall, call);
      assert.equal(e.code, 'ERR_DEVMEM_CUDA_ERROR');
      assert.equal(e.errno, null);
      assert.match(e.message, new RegExp(`${name} \\(${code}\\)`));
      assert.equal(leftAtExit(log), 'exit allocations=0 contexts=0');
    });
  }

  it('devmem probe reports the GPUs, the driver version and the IOMMU', async () => {
    const cli = path.join(__dirname, '../../dist/bin/devmem.js');
    const r = await run([process.execPath, cli, 'probe', '--json'], {
      env: { ...process.env, LD_LIBRARY_PATH: buildCudaDouble(), CUDA_DOUBLE_DEVICES: '2', CUDA_DOUBLE_DMABUF: '0' },
      timeoutMs: 60_000,
    });
    const report = JSON.parse(r.stdout) as { gpu: { cuda: ReturnType<typeof cudaInfo> & { kernelModule: unknown }; iommu: string } };
    assert.equal(report.gpu.cuda.loaded, true);
    assert.equal(report.gpu.cuda.driverVersion, 12080);
    assert.deepEqual(
      report.gpu.cuda.devices.map((d) => [d.pciBusId, d.dmabufSupported]),
      [
        ['0000:1e:00.0', false],
        ['0000:1f:00.0', false],
      ],
    );
    assert.ok(['off', 'passthrough', 'translated', 'unknown'].includes(report.gpu.iommu));
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../docs/probe-schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
    assert.ok(validate(report), JSON.stringify(validate.errors));
  });

  it('picks the GPU by PCI bus id, and refuses one that is not there', async () => {
    const two = { CUDA_DOUBLE_DEVICES: '2' };
    const { log } = await runWithCudaDouble(SCENARIO, ['alloc', '4096', '0000:1f:00.0'], two);
    assert.ok(log.includes('cuDeviceGetByPCIBusId 0000:1f:00.0 -> 1'), log.join('\n'));
    assert.ok(log.includes('cuDevicePrimaryCtxRetain 1'), log.join('\n'));
    const missing = await runWithCudaDouble(SCENARIO, ['alloc', '4096', '0000:99:00.0'], two);
    assert.equal((missing.result.error as Failure).libraryCode, 'CUDA_ERROR_INVALID_DEVICE');
    const ordinal = await runWithCudaDouble(SCENARIO, ['alloc', '4096', '5'], two);
    assert.equal((ordinal.result.error as Failure).libraryCode, 'CUDA_ERROR_INVALID_DEVICE');
  });
});

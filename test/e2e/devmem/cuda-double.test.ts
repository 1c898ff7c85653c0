// CUDA memory end to end against the CUDA TEST DOUBLE (test/support/gpu-doubles/libcuda.c):
// a stand-in for NVIDIA's libcuda.so.1 whose "device memory" is a memfd it
// exports through the guest kernel's real udmabuf. The kernel's devmem code
// binds it and receives into it like any dma-buf; the addon's dlopen path,
// its export, fragment read-back through cuMemcpy (no CPU view) and cleanup
// are the real ones. What it cannot show: a GPU, NVIDIA's driver, PCIe P2P.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';

import { buildCudaDouble, leftAtExit, runWithCudaDouble } from '../../support/gpu-double';
import { enableHeaderSplit } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';
import { checkNicStateKept, describeRun, ncReceive, runNc, startPeer } from '../helpers/nc';

const env = e2eEnv();
const MiB = 1024 * 1024;
const RECEIVE = path.join(__dirname, '../fixtures/gpu-receive.ts');
const SCENARIO = path.join(__dirname, '../../host/fixtures/cuda-scenario.ts');
let nextPort = 7401;

describe('CUDA memory through the CUDA test double on the patched netdevsim', function () {
  this.timeout(300_000);

  it('allocCuda: a page-aligned export, read back with cuMemcpy, no CPU view, CLOSED after close', async () => {
    const { result, log } = await runWithCudaDouble(SCENARIO, ['export-range', String(4 * MiB)]);
    assert.equal(result.kind, 'cuda', JSON.stringify(result));
    assert.equal(result.size, 4 * MiB);
    assert.equal(result.device, 0);
    assert.equal(result.pageAligned, true);
    assert.equal(result.readBack, true);
    assert.equal((result.view as { reason: string }).reason, 'NO_CPU_VIEW');
    assert.equal((result.afterClose as { reason: string }).reason, 'CLOSED');
    // cudaExportRange: a sub-range of memory allocated elsewhere, left allocated when its DmaBuf closes.
    assert.deepEqual(result.range, { kind: 'cuda', size: 8192, devicePtrOffset: 4096, readBack: true });
    assert.equal(result.afterRangeClose, true);
    assert.equal((result.pastEnd as { reason: string }).reason, 'CUDA_ERROR');
    assert.equal(log.filter((l) => l === 'cuMemFree').length, 1, 'only the owned allocation is freed');
    assert.equal(leftAtExit(log), 'exit allocations=0 contexts=0');
  });

  describe('receive', () => {
    let restoreRings: () => Promise<void>;
    before(async () => {
      buildCudaDouble();
      restoreRings = await enableHeaderSplit();
    });
    after(async () => restoreRings());

    it('binds a 16 MiB CUDA buffer and receives 32 MiB into it, intact, every token returned', async () => {
      const { result, log } = await runWithCudaDouble(RECEIVE, ['cuda', String(nextPort++)]);
      assert.equal(result.kind, 'cuda', JSON.stringify(result));
      assert.equal(result.exporter, 'udmabuf', "the double's memory is a udmabuf");
      assert.deepEqual(result.range, { kind: 'cuda', size: 4 * MiB, offset: 64 * 1024 });
      const r = result.receipt as Record<string, number>;
      assert.equal(r.bytes, 32 * MiB);
      assert.equal(r.mismatches, 0, 'every byte read back through cuMemcpy matches the pattern');
      assert.equal(r.dmabufBytes, 32 * MiB);
      assert.equal(r.released, r.fragments);
      assert.equal(r.outstanding, 0);
      assert.equal(leftAtExit(log), 'exit allocations=0 contexts=0');
    });

    describe('devmem nc --memory cuda', () => {
      checkNicStateKept(env.ifLocal);
      const withDouble = () => ({ ...process.env, LD_LIBRARY_PATH: buildCudaDouble() });

      it('check_rx: -v 7 validates the pattern received into CUDA memory', async () => {
        const send = { host: env.addr4Local, port: nextPort++, from: env.addr4Remote, bytes: MiB, period: 7 };
        const r = await ncReceive(
          ['-f', env.ifLocal, '-c', env.addr4Remote, '-v', '7', '--memory', 'cuda:0', '--json'],
          send,
          withDouble(),
        );
        assert.equal(r.code, 0, describeRun(r));
        const events = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.deepEqual(events.find((e) => e.event === 'bound')!.memory, { kind: 'cuda', exporter: 'udmabuf', device: 0 });
        assert.equal(events.find((e) => e.event === 'received')!.dmabufBytes, MiB);
      });

      it('check_tx: the peer receives exactly "hello\\nworld\\n" sent from CUDA memory', async () => {
        const port = nextPort++;
        const peer = startPeer(['listen', '--host', env.addr4Remote, '--port', String(port)]);
        await new Promise<void>((resolve) => peer.child.stderr!.once('data', () => resolve()));
        const args = ['-f', env.ifLocal, '-s', env.addr4Remote, '-p', String(port), '--memory', 'cuda'];
        const r = await runNc(args, { input: 'hello\nworld\n', env: withDouble() });
        const got = await peer.done;
        assert.equal(r.code, 0, describeRun(r));
        assert.equal(got.stdout, 'hello\nworld\n');
      });

      it('without libcuda.so.1 nc fails with NO_CUDA and changes nothing', async () => {
        const r = await runNc(['-l', '-f', env.ifLocal, '-s', env.addr4Local, '-p', String(nextPort++), '--memory', 'cuda']);
        assert.notEqual(r.code, 0, describeRun(r));
        assert.match(r.stderr, /libcuda\.so\.1/);
      });
    });
  });
});

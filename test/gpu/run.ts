// `npm run test:gpu`: the CUDA check for a host with a real NVIDIA GPU, in one
// short run. It allocates 64 MiB with allocCuda, checks the dma-buf's
// exporter, writes and reads it back through the API, exports a range of that
// cuMemAlloc'd memory again with cudaExportRange, and prints the probe's GPU
// section. Exit 0 when every step passed, 4 when there is no usable GPU here.
import { allocCuda, cudaExportRange, DevmemError, probe } from '../../lib/index';

const MiB = 1024 * 1024;

function step(name: string, ok: boolean, detail: unknown = ''): void {
  process.stdout.write(
    `${ok ? 'ok' : 'not ok'} - ${name}${detail === '' ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}\n`,
  );
  if (!ok) process.exitCode = 1;
}

async function main(): Promise<void> {
  const report = await probe();
  process.stdout.write(`# probe gpu: ${JSON.stringify(report.gpu, null, 2).replace(/\n/g, '\n# ')}\n`);
  const device = report.gpu.cuda.devices.find((d) => d.dmabufSupported);
  if (!report.gpu.cuda.loaded || !device) {
    process.stdout.write(`# SKIP: no CUDA GPU that can export dma-bufs (${report.gpu.cuda.error ?? 'none with DMA_BUF_SUPPORTED'})\n`);
    process.exitCode = 4;
    return;
  }
  const t0 = Date.now();
  const buf = allocCuda(64 * MiB, { device: device.pciBusId });
  try {
    step('allocCuda 64 MiB', buf.size === 64 * MiB && buf.kind === 'cuda', {
      device: buf.device,
      devicePtr: `0x${buf.devicePtr!.toString(16)}`,
      ms: Date.now() - t0,
    });
    step('exporter from fdinfo', buf.exporter.length > 0 && buf.exporter !== 'udmabuf', buf.exporter);
    const data = Buffer.alloc(8 * MiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >>> 13)) & 0xff;
    buf.write(32 * MiB, data);
    step('write and read back 8 MiB through cuMemcpy', buf.read(32 * MiB, data.length).equals(data));
    try {
      buf.map().withView(0, 4096, 'read', () => 0);
      step('withView refuses device memory', false, 'a view was handed out');
    } catch (e) {
      step('withView refuses device memory', e instanceof DevmemError && e.reason === 'NO_CPU_VIEW', (e as Error).message);
    }
    const part = cudaExportRange(buf.devicePtr! + BigInt(32 * MiB), 8 * MiB);
    try {
      step('cudaExportRange of cuMemAlloc memory', part.size === 8 * MiB, { exporter: part.exporter });
      step('the exported range reads the same bytes', part.read(0, 4096).equals(data.subarray(0, 4096)));
    } finally {
      part.close();
    }
  } finally {
    buf.close();
  }
}

main().catch((e: unknown) => {
  step('the GPU check ran to the end', false, e instanceof DevmemError ? `${e.reason}: ${e.message}` : String(e));
});

/**
 * `devmem probe`: what this host can do for devmem TCP. A table on stdout, or
 * with `--json` a document following docs/probe-schema.json.
 */
import { parseArgs } from 'node:util';

import { probe, type ProbeReport } from '../../lib/index';
import { table } from '../../bench/stats';

export const PROBE_HELP = `Usage: devmem [probe] [--json] [--iface NAME]

Report what this host can do for devmem TCP (the default command).

Options:
  --json           Print the report as JSON (schema: docs/probe-schema.json).
  -i, --iface NAME Only report this interface.
  -h, --help       Show this help.
`;

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function renderProbe(r: ProbeReport): string {
  const lines: string[] = [];
  const ops = r.netdev.ops;
  lines.push(`kernel          ${r.kernel.release}`);
  lines.push(
    `netdev family   ${r.netdev.available ? `id ${r.netdev.familyId}` : 'missing'}; bind-rx ${yesNo(ops.bindRx)}` +
      `${r.netdev.bindRxPermission ? ` (${r.netdev.bindRxPermission})` : ''}, bind-tx ${yesNo(ops.bindTx)}, queue-create ${yesNo(ops.queueCreate)}`,
  );
  lines.push(
    `devmem RX/TX    RX ${r.kernel.rxSupported ? 'supported' : 'not supported (needs 6.12+)'}, TX ${r.kernel.txSupported ? 'supported' : 'not supported (needs 6.16+)'}`,
  );
  const z = r.zcrx;
  lines.push(
    `io_uring zcrx   kernel config ${r.ioUringZcrx}; this build ${z.zcrx ? 'can use it' : `cannot (${z.reason ?? '?'})`}` +
      `${z.zcrx ? `: buffers above a page ${yesNo(z.rxBufLen)}, copy events ${yesNo(z.events)}, query ${yesNo(z.query)}` : ''}`,
  );
  lines.push(`privileges      uid ${r.privileges.uid}, CAP_NET_ADMIN ${yesNo(r.privileges.capNetAdmin)}`);
  const u = r.dmabufSources.udmabuf;
  lines.push(
    `dma-buf         udmabuf ${u.present ? `yes (limit ${u.sizeLimitMb ?? '?'} MiB)` : 'no'}; dma heaps: ${r.dmabufSources.dmaHeaps.join(', ') || 'none'}; libcuda: ${r.dmabufSources.libcuda ?? 'no'}`,
  );
  const drm = r.dmabufSources.drmNodes.map((n) => `${n.path.replace('/dev/dri/', '')} (${n.readable ? (n.driver ?? '?') : 'no access'})`);
  lines.push(`DRM nodes       ${drm.join(', ') || 'none'}`);
  const c = r.gpu.cuda;
  const version = c.driverVersion ? `${Math.floor(c.driverVersion / 1000)}.${(c.driverVersion % 1000) / 10}` : '?';
  const gpus = c.devices.map((d) => `${d.ordinal}: ${d.name} (${d.pciBusId}) dma-buf ${yesNo(d.dmabufSupported)}`);
  lines.push(
    `CUDA            ${c.loaded ? `driver ${version}${c.kernelModule ? `, ${c.kernelModule} kernel module` : ''}; ${gpus.join('; ') || 'no GPU'}` : `not loaded (${c.error ?? '?'})`}`,
  );
  const rocm = r.gpu.rocm;
  lines.push(
    `ROCm            ${rocm.loaded ? rocm.devices.map((d) => `${d.ordinal}: ${d.name} (${d.pciBusId})`).join('; ') || 'no GPU' : `not loaded (${rocm.error ?? '?'})`}`,
  );
  lines.push(`IOMMU           ${r.gpu.iommu}`);
  for (const p of r.gpu.paths) lines.push(`NIC to GPU      ${p.interface} - ${p.gpu} (${p.gpuPciAddress}): ${p.link}`);
  for (const w of r.gpu.warnings) lines.push(`warning         ${w}`);
  lines.push('');
  const rows = [['IFACE', 'DRIVER', 'RX', 'COMB', 'HDS', 'THRESH', 'XDP', 'POOLS', 'BOUND', 'ZCRX', 'VERDICT']];
  for (const i of r.interfaces) {
    rows.push([
      i.name,
      i.driver ?? '-',
      i.rxQueues === null ? '-' : String(i.rxQueues),
      i.combinedQueues === null ? '-' : String(i.combinedQueues),
      i.headerSplit === null ? '-' : String(i.headerSplit),
      i.hdsThreshold === null ? '-' : String(i.hdsThreshold),
      yesNo(i.xdpAttached),
      i.pagePools === null ? '-' : String(i.pagePools),
      i.boundQueues.map((b) => `${b.queue}:${b.dmabufId}`).join(',') || '-',
      i.zcrxQueues.map((q) => String(q.queue)).join(',') || '-',
      i.ready ? 'ready' : `not ready: ${i.reasons.join('; ')}`,
    ]);
  }
  lines.push(table(rows));
  if (r.unreadable.length) {
    lines.push('', 'Could not read:');
    for (const u2 of r.unreadable) lines.push(`  ${u2}`);
  }
  return lines.join('\n');
}

export async function runProbe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      iface: { type: 'string', short: 'i' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(PROBE_HELP);
    return 0;
  }
  const report = await probe(values.iface === undefined ? {} : { iface: values.iface });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderProbe(report)}\n`);
  return 0;
}

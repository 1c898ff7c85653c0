/**
 * What this host can do for devmem TCP. Everything is read, nothing is
 * changed: the only definitive capability test would be a bind, which
 * restarts queues, so per-interface verdicts are built from what the kernel
 * reports. Works unprivileged and records what it could not read.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as zlib from 'node:zlib';

import { cudaInfo, type CudaInfo } from './cuda';
import { rocmInfo, type RocmInfo } from './rocm';
import { pcieLink, type PcieLink } from './pcie';
import { drmNodes, type DrmNode } from './dmabuf';
import { DevmemError } from './errors';
import { getChannels, getDriverInfo, getRings, type TcpDataSplit } from './ethtool';
import { listLinks, type LinkInfo } from './interfaces';
import { listPagePools, listQueues, netdevFamily } from './netdev';
import { native } from './native';
import { zcrxSupport } from './zcrx';

/** Version of the JSON document `devmem probe --json` prints; bumped on breaking changes. */
export const PROBE_SCHEMA_VERSION = 1;

/** Drivers upstream Linux lets carry devmem RX (and TX from the noted release). */
export const DEVMEM_DRIVERS: Record<string, string> = {
  gve: 'Google gVNIC (RX 6.12, TX 6.16 on DQO-RDA)',
  mlx5_core: 'NVIDIA ConnectX (6.17)',
  bnxt_en: 'Broadcom NetXtreme (queue-API chips)',
  fbnic: 'Meta fbnic (6.18)',
  netdevsim: 'netdevsim (only the devmem-lab patched build carries data)',
};

/**
 * One interface in a {@link ProbeReport}. A null field could not be read:
 * either the device does not report it, or the failure is listed in the
 * report's `unreadable`.
 */
export interface ProbeInterface {
  /** The interface name. */
  name: string;
  /** The interface index. */
  ifindex: number;
  /** The driver's name from ETHTOOL_GDRVINFO (`gve`, `mlx5_core`, ...); null when it reports none, as virtual devices often do. */
  driver: string | null;
  /** RX-only channels (`ethtool -l` RX). */
  rxQueues: number | null;
  /** Combined channels: devmem counts these as RX queues too. */
  combinedQueues: number | null;
  /**
   * tcp-data-split as the driver reports it (a number for a value newer than
   * this library knows), `'unsupported'` when the driver has no header split,
   * null when the rings could not be read. Devmem needs `'enabled'`.
   */
  headerSplit: TcpDataSplit | number | 'unsupported' | null;
  /** hds-thresh in bytes; null when the driver reports none. Devmem needs 0. */
  hdsThreshold: number | null;
  /** An XDP program is attached, in any mode; devmem and XDP exclude each other. */
  xdpAttached: boolean;
  /** How many page pools the device has (`page-pool-get`). */
  pagePools: number | null;
  /** RX queues that already have a devmem binding; empty when the queues could not be listed. */
  boundQueues: {
    /** The RX queue id. */
    queue: number;
    /** The id of the binding that holds it. */
    dmabufId: number;
  }[];
  /**
   * RX queues that an io_uring zero-copy receive (zcrx) instance holds (the
   * queue dump's `io-uring` attribute); empty when the queues could not be
   * listed. A queue has one memory provider: a devmem binding or zcrx.
   */
  zcrxQueues: {
    /** The RX queue id. */
    queue: number;
    /** The buffer size the kernel reports for it (`rx-buf-len`); null where it reports none. */
    rxBufLen: number | null;
  }[];
  /**
   * No reason below applies, so bind-rx should work here. Only a bind can
   * tell for sure, and probe() never binds: binding restarts the queues.
   */
  ready: boolean;
  /** Why the interface is not ready, for people (`hds-thresh is 256: it must be 0`); empty when ready. */
  reasons: string[];
}

/**
 * What {@link probe} found: the document `devmem probe --json` prints, whose
 * JSON Schema is `docs/probe-schema.json` in the package.
 */
export interface ProbeReport {
  /** {@link PROBE_SCHEMA_VERSION} of the library that made the report. */
  schemaVersion: number;
  /** The running kernel. */
  kernel: {
    /** `uname -r`. */
    release: string;
    /** The netdev family has bind-rx (Linux 6.12+). */
    rxSupported: boolean;
    /** The netdev family has bind-tx (Linux 6.16+). */
    txSupported: boolean;
  };
  /** The netdev generic netlink family, which devmem bindings go through. */
  netdev: {
    /** The family resolved; when false, why is in `unreadable`. */
    available: boolean;
    /** Its generic netlink id, which the kernel assigns at boot: for diagnostics only. */
    familyId: number | null;
    /** Which of the commands devmem uses the kernel has. */
    ops: {
      /** `bind-rx`. */
      bindRx: boolean;
      /** `bind-tx`. */
      bindTx: boolean;
      /** `queue-create`, which leases a physical device's queue to a virtual one. */
      queueCreate: boolean;
    };
    /**
     * What bind-rx demands, from its op flags: `'admin'` is CAP_NET_ADMIN in
     * the initial user namespace, `'user-namespace-admin'` CAP_NET_ADMIN in
     * the user namespace that owns the device's network namespace, `'none'`
     * nothing; null without bind-rx.
     */
    bindRxPermission: 'admin' | 'user-namespace-admin' | 'none' | null;
  };
  /**
   * Whether io_uring zero-copy receive, the other user of a queue's memory
   * provider, is usable: from the io_uring_disabled sysctl, the kernel
   * config or /proc/kallsyms; `'unknown'` when none of them could be read.
   */
  ioUringZcrx: 'available' | 'unavailable' | 'unknown';
  /**
   * io_uring zero-copy receive as this build of the addon and the running
   * kernel answer it: the fields of {@link zcrxSupport} (which sets up a ring
   * and makes a probe registration that registers nothing), `reason` null
   * where there is none. `ioUringZcrx` reads the kernel config instead, and
   * says nothing about this build.
   */
  zcrx: {
    /** The addon was built with liburing; without it nothing zcrx works (rebuild with liburing-dev 2.9+ installed). */
    built: boolean;
    /** The kernel sets up an io_uring with SINGLE_ISSUER, DEFER_TASKRUN and 32-byte CQEs. */
    ring: boolean;
    /** `kernel.io_uring_disabled` is 2. */
    disabled: boolean;
    /** The kernel has zcrx and this build can use it: it answered the probe registration as zcrx does. */
    zcrx: boolean;
    /** Why it cannot, with what to do; null when it can. */
    reason: string | null;
    /** IORING_REGISTER_QUERY answers for zcrx. */
    query: boolean;
    /** Buffers larger than a page (openZcrx()'s `rxBufLen`, `devmem nc --zcrx -b`). */
    rxBufLen: boolean;
    /** Allocation-failure and copy events and the kernel's copy statistics, which `devmem nc --zcrx -L` needs. */
    events: boolean;
  };
  /** The process's privileges. */
  privileges: {
    /** CAP_NET_ADMIN is in the effective set (from /proc/self/status). */
    capNetAdmin: boolean;
    /** The real user id; -1 where the platform has none. */
    uid: number;
  };
  /** Where this host can get dma-bufs from. */
  dmabufSources: {
    /** udmabuf, which exports host memory (allocUdmabuf()). */
    udmabuf: {
      /** `/dev/udmabuf` exists. */
      present: boolean;
      /** The module's size_limit_mb, in MiB per buffer; null when unreadable (the module is not loaded). */
      sizeLimitMb: number | null;
    };
    /** The heaps under `/dev/dma_heap/` (for allocDmaHeap()), sorted; empty when there are none. */
    dmaHeaps: string[];
    /** Path of the libcuda found in the usual places, for GPU dma-bufs; null when there is none. Only its presence is checked. */
    libcuda: string | null;
    /** The DRM nodes under `/dev/dri` (for allocDrm()), card nodes first; empty when there are none. */
    drmNodes: DrmNode[];
  };
  /** The GPU side of device memory. */
  gpu: ProbeGpu;
  /** One entry per interface in this network namespace; only the one asked for with `iface`. */
  interfaces: ProbeInterface[];
  /** Things that could not be read, each with the reason. */
  unreadable: string[];
}

/** What {@link probe} finds of GPUs, their driver and the IOMMU; read-only and unprivileged. */
export interface ProbeGpu {
  /** The CUDA driver as the addon loads it (dlopen of libcuda.so.1) and its GPUs with DMA_BUF_SUPPORTED. */
  cuda: CudaInfo & {
    /**
     * Which NVIDIA kernel module is loaded (/proc/driver/nvidia/version):
     * dma-buf export needs the open one. Null when none is loaded.
     */
    kernelModule: 'open' | 'proprietary' | null;
  };
  /** The ROCm HSA runtime as the addon loads it (dlopen of libhsa-runtime64.so.1) and its GPU agents. */
  rocm: RocmInfo;
  /**
   * The IOMMU: `off` (no IOMMU), `passthrough` (every group's default domain
   * is identity), `translated` (some group translates DMA addresses), or
   * `unknown` where /sys does not say.
   */
  iommu: 'off' | 'passthrough' | 'translated' | 'unknown';
  /**
   * For each interface with a devmem driver and each PCI GPU (CUDA devices
   * and DRM cards): what peer-to-peer between them crosses, from sysfs.
   */
  paths: {
    /** The interface. */
    interface: string;
    /** The GPU: `cuda:ORDINAL`, `rocm:ORDINAL` or the DRM card node. */
    gpu: string;
    /** Its PCI address. */
    gpuPciAddress: string;
    /** How they are connected; `switch` is what peer-to-peer wants. */
    link: PcieLink;
  }[];
  /** Known ways device memory fails silently on this host, each with what to do. */
  warnings: string[];
}

/** Options of {@link probe}. */
export interface ProbeOptions {
  /** Only report this interface. */
  iface?: string;
}

function hasCapNetAdmin(): boolean {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(status);
    return m ? (BigInt(`0x${m[1]}`) & (1n << 12n)) !== 0n : false;
  } catch {
    return false;
  }
}

function kernelConfigHas(option: string): boolean | null {
  const candidates = ['/proc/config.gz', `/boot/config-${os.release()}`, `/lib/modules/${os.release()}/config`];
  for (const file of candidates) {
    try {
      const raw = fs.readFileSync(file);
      const text = file.endsWith('.gz') ? zlib.gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      return new RegExp(`^${option}=[ym]`, 'm').test(text);
    } catch {
      // try the next place
    }
  }
  return null;
}

function probeZcrx(): ProbeReport['ioUringZcrx'] {
  try {
    if (fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '2') return 'unavailable';
  } catch {
    // older kernels lack the sysctl
  }
  const cfg = kernelConfigHas('CONFIG_IO_URING_ZCRX');
  if (cfg !== null) return cfg ? 'available' : 'unavailable';
  try {
    const syms = fs.readFileSync('/proc/kallsyms', 'utf8');
    return /\bio_register_zcrx_ifq\b/.test(syms) ? 'available' : 'unavailable';
  } catch {
    return 'unknown';
  }
}

function readZcrx(unreadable: string[]): ProbeReport['zcrx'] {
  try {
    const s = zcrxSupport();
    const { built, ring, disabled, zcrx, query, rxBufLen, events } = s;
    return { built, ring, disabled, zcrx, reason: s.reason ?? null, query, rxBufLen, events };
  } catch (e) {
    unreadable.push(`io_uring zcrx: ${describe(e)}`);
    const reason = `not probed: ${describe(e)}`;
    return { built: false, ring: false, disabled: false, zcrx: false, reason, query: false, rxBufLen: false, events: false };
  }
}

function readDmabufSources(): ProbeReport['dmabufSources'] {
  const present = fs.existsSync('/dev/udmabuf');
  let sizeLimitMb: number | null = null;
  try {
    sizeLimitMb = Number(fs.readFileSync('/sys/module/udmabuf/parameters/size_limit_mb', 'utf8').trim());
  } catch {
    sizeLimitMb = null;
  }
  let dmaHeaps: string[] = [];
  try {
    dmaHeaps = fs.readdirSync('/dev/dma_heap').sort();
  } catch {
    dmaHeaps = [];
  }
  const cudaPaths = [
    '/usr/lib/x86_64-linux-gnu/libcuda.so.1',
    '/usr/lib/aarch64-linux-gnu/libcuda.so.1',
    '/usr/lib64/libcuda.so.1',
    '/usr/lib/libcuda.so.1',
    '/usr/local/nvidia/lib64/libcuda.so.1',
    '/usr/local/cuda/lib64/stubs/libcuda.so',
  ];
  const libcuda = cudaPaths.find((p) => fs.existsSync(p)) ?? null;
  return { udmabuf: { present, sizeLimitMb }, dmaHeaps, libcuda, drmNodes: drmNodes() };
}

function describe(e: unknown): string {
  if (e instanceof DevmemError) return `${e.code} (${e.reason})`;
  return e instanceof Error ? e.message : String(e);
}

async function probeInterface(link: LinkInfo, report: ProbeReport): Promise<ProbeInterface> {
  const name = link.ifname;
  const info: ProbeInterface = {
    name,
    ifindex: link.ifindex,
    driver: null,
    rxQueues: null,
    combinedQueues: null,
    headerSplit: null,
    hdsThreshold: null,
    xdpAttached: link.xdpAttached !== 0,
    pagePools: null,
    boundQueues: [],
    zcrxQueues: [],
    ready: false,
    reasons: [],
  };
  const note = (what: string, e: unknown) => report.unreadable.push(`${name}: ${what}: ${describe(e)}`);

  try {
    info.driver = (await getDriverInfo(link.ifindex)).driver || null;
  } catch (e) {
    if (!(e instanceof DevmemError && e.code === 'ENOTSUP')) note('driver', e);
  }
  try {
    const ch = await getChannels(link.ifindex);
    info.rxQueues = ch.rxCount ?? 0;
    info.combinedQueues = ch.combinedCount ?? 0;
  } catch (e) {
    if (!(e instanceof DevmemError && e.code === 'ENOTSUP')) note('channels', e);
  }
  try {
    const rings = await getRings(link.ifindex);
    info.headerSplit = rings.tcpDataSplit ?? 'unsupported';
    info.hdsThreshold = rings.hdsThresh ?? null;
  } catch (e) {
    if (e instanceof DevmemError && e.code === 'ENOTSUP') info.headerSplit = 'unsupported';
    else note('rings', e);
  }
  try {
    const queues = await listQueues(link.ifindex);
    const rx = queues.filter((q) => q.type === 'rx');
    info.boundQueues = rx.filter((q) => q.dmabuf !== undefined).map((q) => ({ queue: q.id, dmabufId: q.dmabuf! }));
    info.zcrxQueues = rx
      .filter((q) => q.ioUring !== undefined)
      .map((q) => {
        const len = q.ioUring!.rxBufLen;
        return { queue: q.id, rxBufLen: typeof len === 'number' || typeof len === 'bigint' ? Number(len) : null };
      });
  } catch (e) {
    note('queues', e);
  }
  try {
    info.pagePools = (await listPagePools(link.ifindex)).length;
  } catch (e) {
    note('page pools', e);
  }

  const r = info.reasons;
  if (!report.kernel.rxSupported) r.push('kernel has no bind-rx (needs 6.12+)');
  if (link.flags & native().constants.IFF_LOOPBACK) r.push('loopback cannot carry devmem');
  if (info.driver === null) r.push('no driver information (virtual device?)');
  else if (!(info.driver in DEVMEM_DRIVERS)) r.push(`driver ${info.driver} has no devmem support`);
  const rxTotal = (info.rxQueues ?? 0) + (info.combinedQueues ?? 0);
  if (info.rxQueues !== null && rxTotal < 2) r.push(`${rxTotal} RX queue(s): devmem needs at least 2 (one stays for other traffic)`);
  if (info.headerSplit === 'unsupported' || info.headerSplit === null) r.push('header split is not supported');
  else if (info.headerSplit !== 'enabled') r.push(`header split is "${info.headerSplit}": it must be set to "enabled"`);
  if (info.hdsThreshold !== null && info.hdsThreshold !== 0) r.push(`hds-thresh is ${info.hdsThreshold}: it must be 0`);
  if (info.xdpAttached) r.push('an XDP program is attached');
  info.ready = r.length === 0;
  return info;
}

function nvidiaKernelModule(): 'open' | 'proprietary' | null {
  try {
    return /Open Kernel Module/i.test(fs.readFileSync('/proc/driver/nvidia/version', 'utf8')) ? 'open' : 'proprietary';
  } catch {
    return null;
  }
}

function iommuMode(): ProbeGpu['iommu'] {
  let units: string[];
  try {
    units = fs.readdirSync('/sys/class/iommu');
  } catch {
    return 'unknown';
  }
  if (units.length === 0) return 'off';
  const types: string[] = [];
  try {
    for (const g of fs.readdirSync('/sys/kernel/iommu_groups'))
      types.push(fs.readFileSync(`/sys/kernel/iommu_groups/${g}/type`, 'utf8').trim());
  } catch {
    return 'unknown';
  }
  if (types.length === 0) return 'unknown';
  return types.every((t) => t === 'identity') ? 'passthrough' : 'translated';
}

function realpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

/** Every PCI GPU: the CUDA devices, and the DRM card nodes that sit on PCI. */
function pciGpus(gpu: ProbeGpu, drm: DrmNode[]): { name: string; address: string; path: string }[] {
  const out: { name: string; address: string; path: string }[] = [];
  for (const [kind, devices] of [
    ['cuda', gpu.cuda.devices],
    ['rocm', gpu.rocm.devices],
  ] as const)
    for (const d of devices) {
      const path = realpath(`/sys/bus/pci/devices/${d.pciBusId}`);
      if (path && !out.some((g) => g.address === d.pciBusId)) out.push({ name: `${kind}:${d.ordinal}`, address: d.pciBusId, path });
    }
  for (const n of drm) {
    if (n.render) continue;
    const path = realpath(`/sys/class/drm/${n.path.slice(n.path.lastIndexOf('/') + 1)}/device`);
    const address = path?.slice(path.lastIndexOf('/') + 1) ?? '';
    if (path && /^[0-9a-f]{4}:/.test(address) && !out.some((g) => g.address === address)) out.push({ name: n.path, address, path });
  }
  return out;
}

function gpuPaths(gpu: ProbeGpu, drm: DrmNode[], interfaces: ProbeInterface[]): ProbeGpu['paths'] {
  const gpus = pciGpus(gpu, drm);
  const paths: ProbeGpu['paths'] = [];
  for (const i of interfaces) {
    if (!i.driver || !(i.driver in DEVMEM_DRIVERS)) continue;
    const nic = realpath(`/sys/class/net/${i.name}/device`);
    if (!nic) continue;
    for (const g of gpus) paths.push({ interface: i.name, gpu: g.name, gpuPciAddress: g.address, link: pcieLink(nic, g.path) });
  }
  return paths;
}

function gpuWarnings(gpu: ProbeGpu, drm: DrmNode[]): string[] {
  const w: string[] = [];
  if (gpu.iommu === 'translated' && gpu.cuda.devices.length > 0)
    w.push(
      'the IOMMU translates DMA: some NVIDIA drivers hand dma-buf importers unmapped BAR addresses there, so received data can go missing silently; boot with iommu=pt (or give the NIC and GPU identity domains) and validate with `devmem nc -v`',
    );
  if (gpu.cuda.kernelModule === 'proprietary')
    w.push('the proprietary NVIDIA kernel module is loaded: dma-buf export needs the open one (nvidia-open, Turing and newer)');
  for (const p of gpu.paths)
    if (p.link === 'root-complex' || p.link === 'separate-roots')
      w.push(
        `${p.interface} and ${p.gpu} share ${p.link === 'root-complex' ? 'only the root complex' : 'no host bridge'}: peer-to-peer crosses it, which is slower and some platforms refuse; a GPU below the NIC's PCIe switch is better`,
      );
  if (drm.some((n) => n.driver === 'amdgpu'))
    w.push(
      "amdgpu: devmem attaches dma-bufs statically, and amdgpu may then migrate the buffer to GTT (host RAM) without saying so; validate with `devmem nc -v` and measure the traffic before trusting it's in VRAM",
    );
  return w;
}

/** Reports what this host can do for devmem TCP. Reads only; changes nothing. */
export async function probe(options: ProbeOptions = {}): Promise<ProbeReport> {
  const unreadable: string[] = [];
  const report: ProbeReport = {
    schemaVersion: PROBE_SCHEMA_VERSION,
    kernel: { release: os.release(), rxSupported: false, txSupported: false },
    netdev: { available: false, familyId: null, ops: { bindRx: false, bindTx: false, queueCreate: false }, bindRxPermission: null },
    ioUringZcrx: probeZcrx(),
    zcrx: readZcrx(unreadable),
    privileges: { capNetAdmin: hasCapNetAdmin(), uid: process.getuid?.() ?? -1 },
    dmabufSources: readDmabufSources(),
    gpu: { cuda: { ...cudaInfo(), kernelModule: null }, rocm: rocmInfo(), iommu: 'unknown', paths: [], warnings: [] },
    interfaces: [],
    unreadable,
  };
  try {
    const fam = await netdevFamily();
    report.netdev.available = true;
    report.netdev.familyId = fam.id;
    report.netdev.ops = { bindRx: fam.has('bind-rx'), bindTx: fam.has('bind-tx'), queueCreate: fam.has('queue-create') };
    const bindRx = fam.ops.find((o) => o.name === 'bind-rx');
    report.netdev.bindRxPermission = !bindRx ? null : bindRx.admin ? 'admin' : bindRx.userNamespaceAdmin ? 'user-namespace-admin' : 'none';
    report.kernel.rxSupported = report.netdev.ops.bindRx;
    report.kernel.txSupported = report.netdev.ops.bindTx;
  } catch (e) {
    report.unreadable.push(`netdev family: ${describe(e)}`);
  }

  let links: LinkInfo[] = [];
  try {
    links = await listLinks();
  } catch (e) {
    report.unreadable.push(`interfaces: ${describe(e)}`);
  }
  if (options.iface !== undefined) {
    links = links.filter((l) => l.ifname === options.iface);
    if (links.length === 0) report.unreadable.push(`interface ${options.iface}: not found in this network namespace`);
  }
  report.gpu.cuda.kernelModule = nvidiaKernelModule();
  report.gpu.iommu = iommuMode();
  for (const link of links) report.interfaces.push(await probeInterface(link, report));
  report.gpu.paths = gpuPaths(report.gpu, report.dmabufSources.drmNodes, report.interfaces);
  report.gpu.warnings = gpuWarnings(report.gpu, report.dmabufSources.drmNodes);
  return report;
}

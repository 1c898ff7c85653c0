/**
 * The raw N-API binding and its types. Nothing outside `lib/` should import
 * this: the public API wraps every call so that errors become DevmemError and
 * inputs are validated first.
 * @internal
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { DevmemError } from './errors';
import type { ReceiveLimits } from './receive-options';

/** Error thrown by the native layer (Node SystemError shape). */
export interface NativeError extends Error {
  /** Absent where a library (CUDA, HSA) and not a syscall failed. */
  errno?: number;
  code: string;
  syscall: string;
  extack?: NativeExtack;
  reasonHint?: string;
  libraryCode?: string;
}

export interface NativeExtack {
  message?: string;
  offset?: number;
  attribute?: string;
  missingType?: number;
  missingAttribute?: string;
}

export interface NativeFamily {
  name: string;
  id: number;
  version: number;
  maxattr: number;
  /** Each op nlctrl lists; `name` from native/netlink/spec.cc when the addon knows the op's id. */
  ops: { cmd: number; name?: string; admin: boolean; userNamespaceAdmin: boolean; do: boolean; dump: boolean }[];
  mcastGroups: { name: string; id: number }[];
}

/** What `constants` carries; each value is defined once, in native/uapi/devmem_uapi.h. */
export interface NativeConstants {
  SO_DEVMEM_LINEAR: number;
  SO_DEVMEM_DMABUF: number;
  SO_DEVMEM_DONTNEED: number;
  MSG_SOCK_DEVMEM: number;
  CMSG_SPACE_DMABUF: number;
  CMSG_LEN_DMABUF: number;
  PAGE_SIZE: number;
  DMABUF_CMSG_SIZE: number;
  DMABUF_TOKEN_SIZE: number;
  MAX_DONTNEED_TOKENS: number;
  MAX_DONTNEED_FRAGS: number;
  IFF_LOOPBACK: number;
}

export interface NativeBinding {
  readonly id: number;
  readonly ifindex: number;
  readonly kind: 'rx' | 'tx';
  readonly closed: boolean;
  close(): void;
}

/** Listens for dev-del-ntf; the callback gets removed ifindexes, or null after lost notifications. */
export interface NativeDeviceWatch {
  close(): void;
}

/** GPU memory (CUDA, ROCm) behind a DmaBuf: copies through the GPU library, and the allocation's lifetime. */
export interface NativeGpuMemory {
  readonly fd: number;
  readonly devicePtr: bigint;
  /** The allocation's size. */
  readonly size: number;
  /** Where the allocation starts inside the dma-buf (ROCm's export offset; 0 for CUDA). */
  readonly baseOffset: number;
  /** The whole dma-buf's size; offsets of read() and write() are the dma-buf's. */
  readonly dmabufSize: number;
  /** The device ordinal. */
  readonly device: number;
  /** False for memory only exported with cudaExportRange (free() then leaves it allocated). */
  readonly owned: boolean;
  read(offset: number, target: Uint8Array): void;
  write(offset: number, source: Uint8Array): void;
  free(): void;
}

/** What a read-only look at the CUDA driver found. */
export interface NativeCudaInfo {
  loaded: boolean;
  library: string | null;
  error: string | null;
  driverVersion: number | null;
  devices: { ordinal: number; name: string; pciBusId: string; dmabufSupported: boolean }[];
}

export interface NativeMapping {
  readonly size: number;
  read(offset: number, target: Uint8Array): void;
  write(offset: number, source: Uint8Array): void;
  withView<T>(offset: number, length: number, access: 'read' | 'write' | 'readwrite', fn: (view: Uint8Array) => T): T;
  unmap(): void;
}

/**
 * One batch of fragments as the native layer hands it over: columns, not
 * objects, as the callback's arguments (which FragmentBatch reads as they
 * are, with no object built in between).
 */
export type NativeBatchEvent = [
  'batch',
  seq: number,
  offsets: Float64Array,
  sizes: Uint32Array,
  tokens: Uint32Array,
  dmabufIds: Uint32Array,
  kinds: Uint8Array,
  linear: Buffer,
  dmabufBytes: number,
  linearBytes: number,
  hostBytes: number,
  copiedBytes: number,
];

export type NativeSocketEvent =
  | ['connect', NativeError | null]
  | NativeBatchEvent
  | ['end']
  | ['error', NativeError]
  | ['stall']
  | ['writable']
  | ['zerocopy', number, number, boolean];

export interface NativeAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface NativeSocket {
  readonly fd: number;
  setCallback(cb: (...event: NativeSocketEvent) => void): void;
  setBinding(id: number): void;
  /** Receive through this zcrx queue from now on (before the first read). */
  attachZcrx(queue: NativeZcrxQueue): void;
  /** Every limit, always: native code has no defaults of its own (RECEIVE_DEFAULTS is the one definition). */
  setLimits(limits: ReceiveLimits): void;
  /** linearLifetime 'batch': each batch's `linear` is detached by its release (and by close()). */
  borrowLinear(): void;
  /** ReceiveOptions.coalesce: after a batch under both `belowFragments` and `belowBytes`, wait `us` before a drain. */
  coalesce(us: number, belowFragments: number, belowBytes: number): void;
  resume(): void;
  pause(): void;
  /** Writes [requested, freed, calls, errno of a failed DONTNEED or 0] into `out`. */
  release(seq: number, out: Float64Array): void;
  close(): void;
  /** close() with SO_LINGER 0: the connection is aborted with a RST. */
  reset(): void;
  shutdown(): void;
  send(data: Uint8Array): number;
  waitWritable(): void;
  enableZerocopy(): void;
  sendDmabuf(bindingId: number, iovs: Float64Array, count: number): { bytes: number; id: number };
  ref(): void;
  unref(): void;
  stats(): Record<string, number>;
  address(): NativeAddress | null;
  remoteAddress(): NativeAddress | null;
}

/** zcrxFeatures(): what this build and kernel offer for io_uring zcrx. */
export interface NativeZcrxFeatures {
  built: boolean;
  ring: boolean;
  /** errno of a probe IORING_REGISTER_ZCRX_IFQ with an empty request (14, EFAULT, when zcrx is there). */
  zcrxErrno: number;
  disabled: boolean;
  query: boolean;
  rxBufLen: boolean;
  events: boolean;
}

/** An io_uring zcrx interface queue (native/js/zcrx_object.cc). */
export interface NativeZcrxQueue {
  close(): void;
  info(): { zcrxId: number; rxBufLen: number; rqEntries: number; areaSize: number; copyStats: boolean; closed: boolean };
  stats(): Record<string, number>;
  /** The host-memory area, undefined for a dma-buf area. */
  hostArea(): Buffer | undefined;
  ref(): void;
  unref(): void;
}

export interface NativeServer {
  listen(opts: { host: string; port: number; ipv6only: boolean; reusePort: boolean; backlog?: number; receiveBufferSize?: number }): void;
  setCallback(cb: (type: 'connection' | 'error', arg: NativeSocket | NativeError) => void): void;
  watch(on: boolean): void;
  close(): void;
  ref(): void;
  unref(): void;
  address(): NativeAddress | null;
}

/** A TCP n-tuple match; addresses are 4 or 16 bytes in network order. */
export interface NativeTcpRule {
  ipv6: boolean;
  src?: Uint8Array;
  dst?: Uint8Array;
  srcPort?: number;
  dstPort?: number;
  /** FLOW_RSS: spread over RSS context `rssContext` (0: the main table). */
  rss?: boolean;
  rssContext?: number;
}

export interface NativeReportedRule {
  location: number;
  flowType: number;
  /** -1 for a drop rule. */
  queue: number;
  /** The whole ethtool_rx_flow_spec as the driver reported it. */
  raw: Buffer;
  /** Present for plain TCP rules with whole-field masks. */
  tcp?: NativeTcpRule;
  /** For FLOW_RSS rules: the RSS context GRXCLSRULE reported. */
  rssContext?: number;
}

export type NetlinkFamilyName = 'netdev' | 'ethtool' | 'rtnl';
/**
 * Netlink attributes by their camelCase names, as the native codec decodes
 * them from (and encodes them to) the kernel's spec: numbers (bigints past
 * 2^53), strings, names of enum values, arrays for repeated attributes, and
 * nested objects.
 */
export type Attrs = Record<string, unknown>;

export interface NativeAddon {
  NativeZcrxQueue: new (opts: {
    ifindex: number;
    queue: number;
    rqEntries: number;
    rxBufLen: number;
    dmabufFd: number;
    areaSize: number;
  }) => NativeZcrxQueue;
  zcrxFeatures(): NativeZcrxFeatures;
  /** With `netnsFd` (an open netns file) the request runs in that network namespace. */
  netlinkRequest(family: NetlinkFamilyName, command: string, attrs: Attrs, dump: boolean, netnsFd?: number): Promise<Attrs[]>;
  netlinkFamily(name: string): Promise<NativeFamily>;
  bind(command: 'bind-rx' | 'bind-tx', attrs: Attrs): Promise<NativeBinding>;
  /** bind() on the calling thread: no JS runs between the kernel's answer and the return. */
  bindSync(command: 'bind-rx' | 'bind-tx', attrs: Attrs): NativeBinding;
  netlinkRequestSync(family: NetlinkFamilyName, command: string, attrs: Attrs, netnsFd?: number): Attrs[];
  /** The id the namespace `netnsFd` has for the namespace `peerFd` (RTM_GETNSID), assigned first if it had none. */
  netnsPeerId(netnsFd: number, peerFd: number): number;
  ethtoolDriverInfo(ifname: string): { driver: string; version: string; firmwareVersion: string; busInfo: string };
  ethtoolFlags(ifname: string): number;
  ethtoolSetFlags(ifname: string, flags: number): void;
  ethtoolFlowRuleInsert(ifname: string, rule: NativeTcpRule & { queue: number; location?: number }): number;
  ethtoolFlowRuleDelete(ifname: string, location: number): void;
  ethtoolFlowRules(ifname: string): { capacity: number; driverPlaces: boolean; rules: NativeReportedRule[] };
  ethtoolRxRings(ifname: string): number;
  ethtoolRssIndirection(ifname: string): Uint32Array;
  ethtoolSetRssIndirection(ifname: string, table: Uint32Array | null): void;
  ethtoolRssContextCreate(ifname: string, table: Uint32Array): number;
  ethtoolRssContextDelete(ifname: string, context: number): void;
  ethtoolRssContextIndirection(ifname: string, context: number): Uint32Array;
  /** SO_INCOMING_NAPI_ID of a socket: 0 until a packet came through a NAPI instance. */
  socketIncomingNapiId(fd: number): number;
  allocUdmabuf(size: number, hugepages: boolean): number;
  allocDmaHeap(heap: string, size: number): number;
  /** A DRM dumb buffer exported with PRIME; node '' picks the first card node that can. */
  allocDrm(size: number, node: string): { fd: number; size: number; node: string; driver: string };
  drmNodes(): import('./dmabuf').DrmNode[];
  cudaAlloc(size: number, device: number | string): NativeGpuMemory;
  cudaExportRange(devicePtr: bigint, size: number): NativeGpuMemory;
  cudaProbe(): NativeCudaInfo;
  rocmAlloc(size: number, device: number | string): NativeGpuMemory;
  rocmProbe(): { loaded: boolean; error: string | null; devices: { ordinal: number; name: string; pciBusId: string }[] };
  dupCloexec(fd: number): number;
  adoptFd(fd: number): void;
  closeOwnedFd(fd: number): boolean;
  NativeMapping: new (fd: number, size: number) => NativeMapping;
  NativeServer: new () => NativeServer;
  NativeDeviceWatch: new (familyId: number, groupId: number, cb: (removed: Uint32Array | null) => void) => NativeDeviceWatch;
  connect(opts: {
    host: string;
    port: number;
    localAddress?: string;
    localPort?: number;
    bindToDevice?: string;
    receiveBufferSize?: number;
  }): NativeSocket;
  /** Kernel constants from native/uapi/devmem_uapi.h, and this machine's page size. */
  constants: NativeConstants;
  /** The reasons native code decides itself (native/common/reasons.h); each is a DevmemReason. */
  reasonHints: readonly string[];
  /**
   * @internal Entry points for tests and the fragment-pipeline benchmark
   * (parsers fed ABI-exact bytes, the replay receive source). They stay in
   * the release addon, since `devmem bench` runs from an installed package,
   * but out of the published types.
   */
  testing: {
    /** Size, alignment and field offsets of each vendored kernel struct, as this build compiled them. */
    layouts: Record<string, { size: number; align: number; offsets: Record<string, number> }>;
    /** Bindings still open in this environment (what teardown would close). */
    trackedBindings(): number;
    decodeReplies(
      family: NetlinkFamilyName,
      command: string,
      dump: boolean,
      seq: number,
      datagrams: Uint8Array[],
    ): { complete: boolean; error: number; skippedStale: number; extack?: NativeExtack; messages: Attrs[] };
    encodeRequest(
      family: NetlinkFamilyName,
      command: string,
      attrs: Attrs,
      dump: boolean,
    ): { bytes: Buffer; locations: { offset: number; path: string }[] };
    parseRecvmsg(
      control: Uint8Array,
      msgFlags: number,
      nbytes: number,
      iov: Uint8Array,
      expectedId: number,
    ): {
      offsets: Float64Array;
      sizes: Uint32Array;
      tokens: Uint32Array;
      dmabufIds: Uint32Array;
      kinds: Uint8Array;
      linear: Buffer;
      error: string;
      detail: string;
      foreignId: number;
    };
    planDontneed(tokens: Uint32Array): { ranges: Uint32Array; fragments: number }[];
    /** A NativeSocket fed by replaying control buffers instead of the kernel (fragment-pipeline benchmark). */
    replaySocket(
      controls: Uint8Array[],
      nbytes: number[],
      recvmsgs: number,
      failDontneed?: { errno: number; fromCall: number },
    ): NativeSocket;
    encodeFlowRule(rule: NativeTcpRule & { queue: number; location?: number }): Buffer;
    /** `rssContext`: what GRXCLSRULE reports beside the spec. */
    decodeFlowRule(fs: Uint8Array, rssContext?: number): NativeReportedRule;
    /** The whole ETHTOOL_SRXCLSRLINS request (struct ethtool_rxnfc). */
    encodeFlowRuleInsert(rule: NativeTcpRule & { queue: number; location?: number }): Buffer;
    /** ETHTOOL_SRSSH creating an RSS context with this table. */
    encodeRssContextCreate(table: Uint32Array): Buffer;
    /** ETHTOOL_SRSSH deleting RSS context `context`. */
    encodeRssContextDelete(context: number): Buffer;
    parseDeviceEvents(datagram: Uint8Array, familyId: number): { removed: number[]; malformed: number };
  };
}

const requireHere = createRequire(__filename);

/** Root of the installed package (where binding.gyp and prebuilds/ live). */
export const packageRoot: string = findPackageRoot(__dirname);

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    try {
      const pkg = requireHere(path.join(dir, 'package.json')) as { name?: string };
      if (pkg.name === 'devmem-tcp') return dir;
    } catch {
      // keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`devmem-tcp: cannot find the package root above ${start}`);
    dir = parent;
  }
}

let cached: NativeAddon | undefined;

/**
 * Loads the addon once: a local build first, then the shipped prebuild.
 * `DEVMEM_TCP_ADDON` names a .node file to load instead; `npm run test:asan`
 * uses it for the sanitizer build, which lives beside the normal one.
 */
export function native(): NativeAddon {
  if (!cached) {
    const override = process.env.DEVMEM_TCP_ADDON;
    if (override) cached = requireHere(path.resolve(override)) as NativeAddon;
    else cached = loadBuilt();
  }
  return cached;
}

/** This process's platform as prebuild directories name it, with its C library: `linux-x64 (glibc 2.36)`. */
function platformName(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const libc =
    process.platform !== 'linux' ? '' : header?.glibcVersionRuntime ? ` (glibc ${header.glibcVersionRuntime})` : ' (not glibc: musl?)';
  return `${process.platform}-${process.arch}${libc}`;
}

/**
 * node-gyp-build's search (build/Release, then prebuilds/<platform>-<arch>/),
 * with its failures turned into a DevmemError that names the platform and
 * says how to build from source, instead of its generic "No native build".
 */
function loadBuilt(): NativeAddon {
  const load = requireHere('node-gyp-build') as ((dir: string) => NativeAddon) & { path(dir: string): string };
  let file: string;
  try {
    file = load.path(packageRoot);
  } catch (cause) {
    throw new DevmemError(`devmem-tcp has no native addon for ${platformName()}: no prebuild for it and no local build`, {
      reason: 'NO_PREBUILD',
      cause,
    });
  }
  try {
    return requireHere(file) as NativeAddon;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new DevmemError(`devmem-tcp's native addon ${file} does not load on ${platformName()}: ${why}`, {
      reason: 'NO_PREBUILD',
      cause,
    });
  }
}

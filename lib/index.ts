/**
 * devmem-tcp: Linux device memory TCP for Node.js.
 *
 * Receiving: allocate a dma-buf ({@link allocUdmabuf}, {@link allocDmaHeap},
 * or {@link DmaBuf.fromFd} for a GPU's), set the NIC up ({@link NicConfig}),
 * bind the dma-buf to RX queues ({@link bindRx}) and read
 * {@link FragmentBatch}es from a {@link DevmemSocket} ({@link connect},
 * {@link createServer}). Sending: {@link bindTx} and
 * {@link DevmemSocket.sendDmabuf}. {@link probe} says what a host can do.
 * Failures are {@link DevmemError}s; branch on their `reason`.
 * @packageDocumentation
 */
export { DEVMEM_REASONS, DevmemError, type DevmemReason, type Extack } from './errors';
export { getLink, listLinks, resolveInterface, type InterfaceRef, type InterfaceSpec, type LinkInfo } from './interfaces';
export * as netdev from './netdev';
export type { Attrs } from './native';
export * as ethtool from './ethtool';
export { bindRx, bindTx, RxBinding, TxBinding, type BindingEvents, type BindRxOptions, type DmaBufLike } from './bindings';
export { type PcieLink } from './pcie';
export { probe, PROBE_SCHEMA_VERSION, type ProbeGpu, type ProbeInterface, type ProbeOptions, type ProbeReport } from './probe';
export {
  allocDmaHeap,
  allocDrm,
  allocUdmabuf,
  drmNodes,
  DmaBuf,
  DmaBufView,
  udmabufSizeLimit,
  UDMABUF_DEFAULT_LIMIT,
  type AllocUdmabufOptions,
  type DmaHeapOptions,
  type DmaBufAccess,
  type DmaBufKind,
  type DrmNode,
  type DrmOptions,
  type FromFdOptions,
} from './dmabuf';
export { allocCuda, cudaExportRange, cudaInfo, type CudaDeviceInfo, type CudaInfo, type CudaOptions } from './cuda';
export {
  openZcrx,
  ZCRX_MAX_RQ_ENTRIES,
  ZcrxHostArea,
  ZcrxQueue,
  zcrxSupport,
  type ZcrxOptions,
  type ZcrxQueueStats,
  type ZcrxSupport,
} from './zcrx';
export { allocRocm, rocmInfo, type RocmDeviceInfo, type RocmInfo, type RocmOptions } from './rocm';
export { FragmentBatch, FragmentKind, type ReleaseResult } from './batch';
export { DevmemSocket, type DevmemSocketEvents, type SocketAddress, type SocketStats, type StarvationInfo } from './socket';
export { connect, type ConnectOptions } from './connect';
export { RECEIVE_DEFAULTS, type CoalesceOptions, type ReceiveOptions } from './receive-options';
export { createServer, DevmemServer, type ServerOptions } from './server';
export { AbortError } from './abort';
export {
  NicConfig,
  readNicState,
  type NicConfigOptions,
  type NicState,
  type NicStep,
  type NicStepKind,
  type ReservedQueues,
  type SteeredFlow,
  type SteeredPort,
  type SteerFlowOptions,
  type SteerPortOptions,
} from './nic-config';
export { createRssContext, deleteRssContext, getRssContext, listRssContexts, type RssContext } from './rss-context';
export { incomingNapiId, incomingQueue, type IncomingSocket } from './incoming-queue';
export {
  listNicJournals,
  recoverNic,
  type NicJournalInfo,
  type NicJournalOwner,
  type RecoverNicOptions,
  type RecoveredStep,
  type RecoveryReport,
} from './nic-recovery';
export { leaseQueue, type Lease, type LeaseQueueOptions, type NetnsInterfaceSpec } from './lease';
export { type NetnsSpec } from './netns';
export { SEND_DEFAULTS, type DmabufRange, type SendAbortError, type SendOptions, type SendResult, type TxBindingLike } from './tx';

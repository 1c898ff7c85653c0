// SPDX-License-Identifier: MIT
//
// The library-level reasons native code decides itself (Failure::reason),
// where it knows more than errno and extack tell the JS layer. Each is a
// DevmemReason in lib/errors.ts; a host test checks that against kAllReasons,
// which the addon exports as `reasonHints`.
#ifndef DEVMEM_TCP_COMMON_REASONS_H_
#define DEVMEM_TCP_COMMON_REASONS_H_

namespace devmem::reasons {

inline constexpr const char kKernelTooOld[] = "KERNEL_TOO_OLD";
inline constexpr const char kNoUdmabuf[] = "NO_UDMABUF";
inline constexpr const char kNoDmaHeap[] = "NO_DMA_HEAP";
inline constexpr const char kNoDrm[] = "NO_DRM";
inline constexpr const char kNoCuda[] = "NO_CUDA";
inline constexpr const char kCudaDmabufUnsupported[] = "CUDA_DMABUF_UNSUPPORTED";
inline constexpr const char kCudaError[] = "CUDA_ERROR";
inline constexpr const char kNoRocm[] = "NO_ROCM";
inline constexpr const char kRocmError[] = "ROCM_ERROR";
inline constexpr const char kFlowSteering[] = "FLOW_STEERING";
inline constexpr const char kControlTruncated[] = "CONTROL_TRUNCATED";
inline constexpr const char kProtocolError[] = "PROTOCOL_ERROR";

inline constexpr const char* kAllReasons[] = {kKernelTooOld, kNoUdmabuf,    kNoDmaHeap,        kNoDrm,
                                              kNoCuda,       kNoRocm,       kRocmError,        kCudaDmabufUnsupported,
                                              kCudaError,    kFlowSteering, kControlTruncated, kProtocolError};

}  // namespace devmem::reasons

#endif  // DEVMEM_TCP_COMMON_REASONS_H_

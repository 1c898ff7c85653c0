// SPDX-License-Identifier: MIT
//
// The slice of AMD's HSA runtime (libhsa-runtime64.so.1, ROCr) this addon
// calls, declared here because it is loaded with dlopen at run time. Values
// are those of hsa.h and hsa_ext_amd.h.
#ifndef DEVMEM_TCP_GPU_ROCM_ABI_H_
#define DEVMEM_TCP_GPU_ROCM_ABI_H_

#include <cstddef>
#include <cstdint>

namespace devmem::gpu::hsa {

using Status = int;  // hsa_status_t
struct Agent {       // hsa_agent_t
  uint64_t handle;
};
struct Pool {  // hsa_amd_memory_pool_t
  uint64_t handle;
};
static_assert(sizeof(Agent) == 8 && sizeof(Pool) == 8);

inline constexpr Status kSuccess = 0;
inline constexpr Status kInfoBreak = 0x1;  // a callback stopping an iteration
inline constexpr Status kError = 0x1000;
inline constexpr Status kErrorInvalidArgument = 0x1001;
inline constexpr Status kErrorInvalidAllocation = 0x1003;
inline constexpr Status kErrorInvalidAgent = 0x1004;
inline constexpr Status kErrorOutOfResources = 0x1008;
inline constexpr Status kErrorNotInitialized = 0x100B;

inline constexpr int kAgentInfoName = 0;     // char[64]
inline constexpr int kAgentInfoDevice = 17;  // hsa_device_type_t
inline constexpr int kDeviceTypeGpu = 1;
inline constexpr int kAmdAgentInfoBdfid = 0xA006;   // uint32_t: bus << 8 | device << 3 | function
inline constexpr int kAmdAgentInfoDomain = 0xA00F;  // uint32_t: the PCI domain

inline constexpr int kPoolInfoSegment = 0;  // hsa_amd_segment_t
inline constexpr int kSegmentGlobal = 0;
inline constexpr int kPoolInfoGlobalFlags = 1;  // uint32_t
inline constexpr uint32_t kGlobalFlagCoarseGrained = 4;
inline constexpr int kPoolInfoRuntimeAllocAllowed = 5;  // bool
inline constexpr int kPoolInfoRuntimeAllocGranule = 6;  // size_t

struct Api {
  Status (*hsa_init)();
  Status (*hsa_status_string)(Status status, const char** text);
  Status (*hsa_iterate_agents)(Status (*callback)(Agent agent, void* data), void* data);
  Status (*hsa_agent_get_info)(Agent agent, int attribute, void* value);
  Status (*hsa_amd_agent_iterate_memory_pools)(Agent agent, Status (*callback)(Pool pool, void* data), void* data);
  Status (*hsa_amd_memory_pool_get_info)(Pool pool, int attribute, void* value);
  Status (*hsa_amd_memory_pool_allocate)(Pool pool, size_t size, uint32_t flags, void** ptr);
  Status (*hsa_amd_memory_pool_free)(void* ptr);
  Status (*hsa_amd_portable_export_dmabuf)(const void* ptr, size_t size, int* dmabuf, uint64_t* offset);
  Status (*hsa_amd_portable_close_dmabuf)(int dmabuf);
  Status (*hsa_memory_copy)(void* dst, const void* src, size_t size);
};

}  // namespace devmem::gpu::hsa

#endif  // DEVMEM_TCP_GPU_ROCM_ABI_H_

// SPDX-License-Identifier: MIT
//
// The slice of the CUDA driver API (libcuda.so.1) this addon calls, declared
// here because it is loaded with dlopen at run time: there is no build-time
// CUDA dependency. The values are the driver API's own (cuda.h), which NVIDIA
// keeps stable across releases; the _v2 entry points are the 64-bit ones
// cuda.h maps the plain names to.
#ifndef DEVMEM_TCP_GPU_CUDA_ABI_H_
#define DEVMEM_TCP_GPU_CUDA_ABI_H_

#include <cstddef>
#include <cstdint>

namespace devmem::gpu::cuda {

using CUresult = int;
using CUdevice = int;
using CUcontext = void*;
using CUdeviceptr = unsigned long long;  // NOLINT: cuda.h's own type

inline constexpr CUresult kSuccess = 0;
inline constexpr CUresult kErrorInvalidValue = 1;
inline constexpr CUresult kErrorOutOfMemory = 2;
inline constexpr CUresult kErrorNotInitialized = 3;
inline constexpr CUresult kErrorNoDevice = 100;
inline constexpr CUresult kErrorInvalidDevice = 101;
inline constexpr CUresult kErrorNotSupported = 801;

inline constexpr int kAttrDmaBufSupported = 124;               // CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED
inline constexpr int kHandleTypeDmaBufFd = 1;                  // CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD
inline constexpr unsigned long long kFlagMappingTypePcie = 1;  // CU_MEM_RANGE_FLAG_DMA_BUF_MAPPING_TYPE_PCIE
inline constexpr int kPcieFlagSince = 12080;                   // driver version (cuDriverGetVersion) with that flag
inline constexpr int kPointerAttributeContext = 1;             // CU_POINTER_ATTRIBUTE_CONTEXT

// The entry points, by the symbol each is loaded from.
struct Api {
  CUresult (*cuInit)(unsigned int flags);
  CUresult (*cuDriverGetVersion)(int* version);
  CUresult (*cuGetErrorName)(CUresult error, const char** name);
  CUresult (*cuDeviceGetCount)(int* count);
  CUresult (*cuDeviceGet)(CUdevice* device, int ordinal);
  CUresult (*cuDeviceGetByPCIBusId)(CUdevice* device, const char* pci_bus_id);
  CUresult (*cuDeviceGetAttribute)(int* value, int attribute, CUdevice device);
  CUresult (*cuDeviceGetName)(char* name, int len, CUdevice device);
  CUresult (*cuDeviceGetPCIBusId)(char* pci_bus_id, int len, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext* ctx, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);  // cuDevicePrimaryCtxRelease_v2
  CUresult (*cuCtxPushCurrent)(CUcontext ctx);             // cuCtxPushCurrent_v2
  CUresult (*cuCtxPopCurrent)(CUcontext* ctx);             // cuCtxPopCurrent_v2
  CUresult (*cuCtxGetDevice)(CUdevice* device);
  CUresult (*cuMemAlloc)(CUdeviceptr* dptr, size_t bytes);                              // cuMemAlloc_v2
  CUresult (*cuMemFree)(CUdeviceptr dptr);                                              // cuMemFree_v2
  CUresult (*cuMemGetAddressRange)(CUdeviceptr* base, size_t* size, CUdeviceptr dptr);  // _v2
  CUresult (*cuMemcpyDtoH)(void* dst, CUdeviceptr src, size_t bytes);                   // cuMemcpyDtoH_v2
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void* src, size_t bytes);             // cuMemcpyHtoD_v2
  CUresult (*cuPointerGetAttribute)(void* data, int attribute, CUdeviceptr ptr);
  CUresult (*cuMemGetHandleForAddressRange)(void* handle, CUdeviceptr dptr, size_t size, int handle_type,
                                            unsigned long long flags);
};

}  // namespace devmem::gpu::cuda

#endif  // DEVMEM_TCP_GPU_CUDA_ABI_H_

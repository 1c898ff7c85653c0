// SPDX-License-Identifier: MIT
//
// CUDA device memory as a dma-buf, through the driver API loaded with dlopen
// ("libcuda.so.1") on first use. A host without it builds and runs; every
// call here then fails with NO_CUDA.
//
// A CUDA context belongs to the process that made it: a forked child must not
// touch its parent's (CUDA fails there), so use worker threads, not fork.
#ifndef DEVMEM_TCP_GPU_CUDA_H_
#define DEVMEM_TCP_GPU_CUDA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/failure.h"
#include "gpu/cuda_abi.h"
#include "gpu/device_memory.h"

namespace devmem::gpu {

struct CudaDevice {
  int ordinal = 0;
  std::string name;
  std::string pci_bus_id;         // "0000:3b:00.0", lower case like sysfs
  bool dmabuf_supported = false;  // CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED
};

// What a read-only look at the driver finds. `loaded` false says why in `error`.
struct CudaInfo {
  bool loaded = false;
  std::string library;  // the file dlopen loaded
  std::string error;
  int driver_version = 0;  // cuDriverGetVersion: 12080 for 12.8
  std::vector<CudaDevice> devices;
};
CudaInfo ProbeCuda();

// Which GPU: an ordinal, or a PCI bus id (cuDeviceGetByPCIBusId) when set.
struct CudaSelector {
  int ordinal = 0;
  std::string pci_bus_id;
};

// Device memory exported as a dma-buf. Holds a reference on its device's
// primary context while it lives, and frees the allocation on destruction
// when it made it (Alloc), not when it only exported someone's (ExportRange).
class CudaMemory : public DeviceMemory {
 public:
  // cuInit, the device, DMA_BUF_SUPPORTED, its primary context, a page-aligned
  // cuMemAlloc of `size` (a page multiple) and the dma-buf export. Nothing is
  // left allocated on failure.
  static std::unique_ptr<CudaMemory> Alloc(const CudaSelector& device, uint64_t size, Failure* f);
  // Exports [ptr, ptr + size) of memory allocated elsewhere in this process,
  // which must lie in one allocation of a primary context.
  static std::unique_ptr<CudaMemory> ExportRange(uint64_t ptr, uint64_t size, Failure* f);
  ~CudaMemory() override;
  CudaMemory(const CudaMemory&) = delete;
  CudaMemory& operator=(const CudaMemory&) = delete;

  int fd() const override { return fd_; }
  // Hands the dma-buf fd to the caller, who closes it from then on.
  int TakeFd() override {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  uint64_t device_ptr() const override { return ptr_; }
  uint64_t size() const override { return size_; }
  int ordinal() const override { return ordinal_; }
  bool owned() const override { return owned_; }

  // cuMemcpyDtoH / HtoD at `offset`, with the context current.
  bool Read(uint64_t offset, void* dst, uint64_t length, Failure* f) override;
  bool Write(uint64_t offset, const void* src, uint64_t length, Failure* f) override;
  // Frees the allocation (when owned) and drops the context now; idempotent.
  void Release();

 private:
  CudaMemory() = default;
  int fd_ = -1;
  uint64_t ptr_ = 0;         // what the dma-buf starts at
  uint64_t alloc_base_ = 0;  // what cuMemAlloc returned, for cuMemFree
  uint64_t size_ = 0;
  int ordinal_ = 0;
  cuda::CUdevice device_ = 0;
  cuda::CUcontext ctx_ = nullptr;
  bool owned_ = false;
  bool released_ = false;
};

}  // namespace devmem::gpu

#endif  // DEVMEM_TCP_GPU_CUDA_H_

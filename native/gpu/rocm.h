// SPDX-License-Identifier: MIT
//
// ROCm (AMD) device memory as a dma-buf, through the HSA runtime loaded with
// dlopen ("libhsa-runtime64.so.1") on first use. Without it every call fails
// with NO_ROCM.
#ifndef DEVMEM_TCP_GPU_ROCM_H_
#define DEVMEM_TCP_GPU_ROCM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/failure.h"
#include "gpu/device_memory.h"
#include "gpu/rocm_abi.h"

namespace devmem::gpu {

struct RocmDevice {
  int ordinal = 0;  // among the GPU agents, in HSA's order
  std::string name;
  std::string pci_bus_id;  // "0000:c1:00.0"
};

struct RocmInfo {
  bool loaded = false;
  std::string error;
  std::vector<RocmDevice> devices;
};
RocmInfo ProbeRocm();

// An ordinal among the GPU agents, or a PCI bus id when set.
struct RocmSelector {
  int ordinal = 0;
  std::string pci_bus_id;
};

// GPU memory from the agent's coarse-grained global pool, exported with
// hsa_amd_portable_export_dmabuf. The export may cover more than the
// allocation (the whole buffer object it lives in): `base_offset()` says
// where the allocation starts inside it.
class RocmMemory : public DeviceMemory {
 public:
  static std::unique_ptr<RocmMemory> Alloc(const RocmSelector& device, uint64_t size, Failure* f);
  ~RocmMemory() override;
  RocmMemory(const RocmMemory&) = delete;
  RocmMemory& operator=(const RocmMemory&) = delete;

  // The runtime closes its exports itself (hsa_amd_portable_close_dmabuf),
  // so the fd stays here until destruction.
  int fd() const override { return fd_; }
  int TakeFd() override { return -1; }
  bool closes_fd() const override { return true; }
  uint64_t base_offset() const override { return base_offset_; }
  uint64_t dmabuf_size() const override { return dmabuf_size_; }
  uint64_t device_ptr() const override { return reinterpret_cast<uint64_t>(ptr_); }
  uint64_t size() const override { return size_; }
  int ordinal() const override { return ordinal_; }
  bool owned() const override { return true; }
  // hsa_memory_copy, anywhere in the dma-buf: offset X is the device address
  // device_ptr() - base_offset() + X.
  bool Read(uint64_t offset, void* dst, uint64_t length, Failure* f) override;
  bool Write(uint64_t offset, const void* src, uint64_t length, Failure* f) override;

 private:
  RocmMemory() = default;
  int fd_ = -1;
  void* ptr_ = nullptr;
  uint64_t size_ = 0;
  uint64_t base_offset_ = 0;
  uint64_t dmabuf_size_ = 0;
  int ordinal_ = 0;
};

}  // namespace devmem::gpu

#endif  // DEVMEM_TCP_GPU_ROCM_H_

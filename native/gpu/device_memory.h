// SPDX-License-Identifier: MIT
//
// GPU memory exported as a dma-buf, whoever's driver made it (CUDA, ROCm):
// what the glue needs to hand it to JS, copy to and from it, and free it.
#ifndef DEVMEM_TCP_GPU_DEVICE_MEMORY_H_
#define DEVMEM_TCP_GPU_DEVICE_MEMORY_H_

#include <cstdint>

#include "common/failure.h"

namespace devmem::gpu {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;

  // The dma-buf. The glue takes it over with TakeFd(), unless the exporter
  // closes its own exports (closes_fd()), when it stays here until destruction.
  virtual int fd() const = 0;
  virtual int TakeFd() = 0;
  virtual bool closes_fd() const { return false; }
  // Where the memory starts inside the dma-buf: fragment offsets are
  // relative to the dma-buf, so offset `base_offset()` is `device_ptr()`.
  virtual uint64_t base_offset() const { return 0; }
  virtual uint64_t dmabuf_size() const { return size(); }
  virtual uint64_t device_ptr() const = 0;
  virtual uint64_t size() const = 0;
  virtual int ordinal() const = 0;
  virtual bool owned() const = 0;
  // Copies at `offset` into the dma-buf, which must lie in
  // [base_offset(), base_offset() + size()).
  virtual bool Read(uint64_t offset, void* dst, uint64_t length, Failure* f) = 0;
  virtual bool Write(uint64_t offset, const void* src, uint64_t length, Failure* f) = 0;
};

}  // namespace devmem::gpu

#endif  // DEVMEM_TCP_GPU_DEVICE_MEMORY_H_

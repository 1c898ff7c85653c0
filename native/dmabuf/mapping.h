// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_DMABUF_MAPPING_H_
#define DEVMEM_TCP_DMABUF_MAPPING_H_

#include <cstddef>
#include <cstdint>

#include "common/failure.h"

namespace devmem::dmabuf {

enum class Access : uint64_t { kRead = 1, kWrite = 2, kReadWrite = 3 };

// A shared CPU mapping of a dma-buf. CPU access must be bracketed by
// DMA_BUF_IOCTL_SYNC START and END with the READ and/or WRITE bits set: the
// kernel rejects a sync without either (ncdevmem's read path gets this wrong
// and ignores the EINVAL).
class Mapping {
 public:
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { Unmap(); }

  bool Map(int fd, size_t size, Failure* f);
  void Unmap();
  bool Begin(Access access, Failure* f) const;
  bool End(Access access, Failure* f) const;

  uint8_t* Data() const { return static_cast<uint8_t*>(addr_); }
  size_t Size() const { return size_; }
  bool Mapped() const { return addr_ != nullptr; }

 private:
  bool Sync(uint64_t flags, Failure* f) const;

  int fd_ = -1;  // borrowed: the mapping itself keeps the file alive
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace devmem::dmabuf

#endif  // DEVMEM_TCP_DMABUF_MAPPING_H_

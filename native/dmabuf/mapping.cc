// SPDX-License-Identifier: MIT
#include "dmabuf/mapping.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "uapi/devmem_uapi.h"

namespace devmem::dmabuf {

bool Mapping::Map(int fd, size_t size, Failure* f) {
  // dma-buf exporters such as udmabuf only allow shared mappings.
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *f = {errno, "mmap", "cannot map the dma-buf into the CPU's address space", std::nullopt, ""};
    return false;
  }
  fd_ = fd;
  addr_ = p;
  size_ = size;
  return true;
}

void Mapping::Unmap() {
  if (addr_) ::munmap(addr_, size_);
  addr_ = nullptr;
  size_ = 0;
  fd_ = -1;
}

bool Mapping::Sync(uint64_t flags, Failure* f) const {
  uapi::DmaBufSync s{flags};
  int rc;
  do {
    rc = ::ioctl(fd_, uapi::kDmaBufIoctlSync, &s);
  } while (rc < 0 && (errno == EINTR || errno == EAGAIN));
  if (rc < 0) {
    *f = {errno, "ioctl", "DMA_BUF_IOCTL_SYNC failed", std::nullopt, ""};
    return false;
  }
  return true;
}

bool Mapping::Begin(Access access, Failure* f) const {
  return Sync(uapi::kDmaBufSyncStart | static_cast<uint64_t>(access), f);
}

bool Mapping::End(Access access, Failure* f) const {
  return Sync(uapi::kDmaBufSyncEnd | static_cast<uint64_t>(access), f);
}

}  // namespace devmem::dmabuf

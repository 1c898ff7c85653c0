// SPDX-License-Identifier: MIT
#include "dmabuf/alloc.h"
#include "common/reasons.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/unique_fd.h"
#include "uapi/devmem_uapi.h"

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)
#endif

namespace devmem::dmabuf {

int AllocUdmabuf(uint64_t size, bool hugepages, Failure* f) {
  unsigned flags = MFD_ALLOW_SEALING | MFD_CLOEXEC;
  if (hugepages) flags |= MFD_HUGETLB | MFD_HUGE_2MB;
  UniqueFd memfd(::memfd_create("devmem-tcp-udmabuf", flags));
  if (!memfd.Valid()) {
    *f = {errno, "memfd_create",
          hugepages ? "cannot create a 2 MiB hugetlb memfd (is vm.nr_hugepages large enough?)"
                    : "cannot create the memfd behind the udmabuf",
          std::nullopt, ""};
    return -1;
  }
  // udmabuf insists on F_SEAL_SHRINK (pinned pages must not vanish) and
  // refuses F_SEAL_WRITE; sealing before truncating is allowed because the
  // seal only forbids shrinking.
  if (::fcntl(memfd.Get(), F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    *f = {errno, "fcntl", "cannot seal the memfd with F_SEAL_SHRINK", std::nullopt, ""};
    return -1;
  }
  if (::ftruncate(memfd.Get(), static_cast<off_t>(size)) < 0) {
    *f = {errno, "ftruncate", "cannot size the memfd", std::nullopt, ""};
    return -1;
  }
  UniqueFd dev(::open("/dev/udmabuf", O_RDWR | O_CLOEXEC));
  if (!dev.Valid()) {
    *f = {errno, "open", "cannot open /dev/udmabuf", std::nullopt, errno == ENOENT ? reasons::kNoUdmabuf : ""};
    return -1;
  }
  uapi::UdmabufCreate create{static_cast<uint32_t>(memfd.Get()), uapi::kUdmabufFlagsCloexec, 0, size};
  int fd = ::ioctl(dev.Get(), uapi::kUdmabufCreate, &create);
  if (fd < 0) {
    *f = {errno, "ioctl", "UDMABUF_CREATE failed", std::nullopt, ""};
    return -1;
  }
  return fd;
}

int AllocDmaHeap(const std::string& heap, uint64_t size, Failure* f) {
  std::string path = "/dev/dma_heap/" + heap;
  UniqueFd dev(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!dev.Valid()) {
    *f = {errno, "open", "cannot open " + path, std::nullopt, errno == ENOENT ? reasons::kNoDmaHeap : ""};
    return -1;
  }
  uapi::DmaHeapAllocationData data{size, 0, O_RDWR | O_CLOEXEC, 0};
  if (::ioctl(dev.Get(), uapi::kDmaHeapIoctlAlloc, &data) < 0) {
    *f = {errno, "ioctl", "DMA_HEAP_IOCTL_ALLOC on " + path + " failed", std::nullopt, ""};
    return -1;
  }
  return static_cast<int>(data.fd);
}

}  // namespace devmem::dmabuf

// SPDX-License-Identifier: MIT
//
// Creating dma-bufs from user space: udmabuf (pinned shmem/hugetlb pages)
// and dma-heaps. Callers validate sizes first; these only talk to the kernel.
#ifndef DEVMEM_TCP_DMABUF_ALLOC_H_
#define DEVMEM_TCP_DMABUF_ALLOC_H_

#include <cstdint>
#include <string>

#include "common/failure.h"

namespace devmem::dmabuf {

// memfd (MFD_ALLOW_SEALING) -> F_SEAL_SHRINK -> ftruncate -> UDMABUF_CREATE.
// Returns the dma-buf fd (close-on-exec) or -1 with `f` filled in. The memfd
// is closed before returning: udmabuf keeps the pages pinned itself.
int AllocUdmabuf(uint64_t size, bool hugepages, Failure* f);

// DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/<heap>.
int AllocDmaHeap(const std::string& heap, uint64_t size, Failure* f);

}  // namespace devmem::dmabuf

#endif  // DEVMEM_TCP_DMABUF_ALLOC_H_

// SPDX-License-Identifier: MIT
//
// DRM as a dma-buf exporter: a dumb buffer on a card node, exported with
// PRIME. Any GEM driver with dumb buffers will do (vgem in the guest lab,
// amdgpu, i915, nouveau, virtio-gpu...); the buffer is whatever memory that
// driver gives dumb buffers, which for most is system RAM or VRAM.
#ifndef DEVMEM_TCP_GPU_DRM_H_
#define DEVMEM_TCP_GPU_DRM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/failure.h"

namespace devmem::gpu {

// A /dev/dri node as a read-only look finds it.
struct DrmNode {
  std::string path;       // /dev/dri/card0, /dev/dri/renderD128, ...
  bool render = false;    // a render node: it cannot create dumb buffers
  bool readable = false;  // this process could open it
  std::string driver;     // DRM_IOCTL_VERSION's name; empty when unreadable
  // DRM_CAP_DUMB_BUFFER: 1 or 0 for KMS drivers; -1 when the driver does not
  // say (render-only drivers such as vgem answer EOPNOTSUPP yet have them).
  int dumb_buffers = -1;
};

// Every card and render node under /dev/dri, sorted by path. Opens each
// read-write only long enough to ask its driver's name and capability.
std::vector<DrmNode> ListDrmNodes();

struct DrmBuffer {
  int fd = -1;        // the dma-buf, close-on-exec and read-write
  uint64_t size = 0;  // the buffer's real size: `size` rounded up to whole rows of pages
  std::string node;   // the card node it was made on
  std::string driver;
};

// Creates a dumb buffer of at least `size` bytes on `node`, or on the first
// card node whose driver makes one when `node` is empty; exports it with
// PRIME (DRM_CLOEXEC | DRM_RDWR) and closes the GEM handle, so the dma-buf fd
// is the only reference left. False with `f` filled in otherwise; nothing is
// left allocated.
bool AllocDrm(const std::string& node, uint64_t size, DrmBuffer* out, Failure* f);

}  // namespace devmem::gpu

#endif  // DEVMEM_TCP_GPU_DRM_H_

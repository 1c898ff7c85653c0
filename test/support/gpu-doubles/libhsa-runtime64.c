// SPDX-License-Identifier: MIT
//
// TEST DOUBLE of AMD's libhsa-runtime64.so.1 (ROCr): a stand-in for a
// third-party library, not for the kernel. It exports the few HSA entry
// points devmem-tcp calls, with the runtime's signatures and status codes,
// and backs "VRAM" with a sealed memfd exported through the real kernel's
// /dev/udmabuf. Like the real runtime, its export covers more than the
// allocation (a leading region, HSA_DOUBLE_EXPORT_OFFSET pages), and says
// where the allocation starts inside it: what the addon's baseOffset must
// honour.
//
// It proves the addon's dlopen plumbing, agent and pool choice, the export
// offset, error mapping and cleanup; nothing about AMD's runtime, a GPU,
// amdgpu's placement of the buffer, PCIe peer-to-peer or the IOMMU.
//
// Knobs (environment): HSA_DOUBLE_GPUS (default 1), HSA_DOUBLE_EXPORT_OFFSET
// (pages, default 1), HSA_DOUBLE_FAIL=symbol:status, HSA_DOUBLE_LOG=path.
#define _GNU_SOURCE
#define DOUBLE_PREFIX "HSA_DOUBLE_"
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

typedef int hsa_status_t;
typedef struct {
  uint64_t handle;
} hsa_agent_t;
typedef struct {
  uint64_t handle;
} hsa_amd_memory_pool_t;

#define MAX_ALLOCS 32
#define CPU_AGENT 1
#define GPU_AGENT(i) (100 + (uint64_t)(i))
#define POOL(gpu, coarse) (1000 + (uint64_t)(gpu) * 10 + (coarse))

struct alloc {
  int used;
  int memfd;
  void* map;
  size_t map_len;
  size_t lead;  // bytes before the pointer, inside the export
  size_t size;
  int export_fd;  // the export handed out and not closed, or -1
};
static struct alloc allocs[MAX_ALLOCS];
static int initialised;

static int gpus(void) { return knob("GPUS", 1); }

__attribute__((destructor)) static void report(void) {
  int live = 0, exports = 0;
  for (int i = 0; i < MAX_ALLOCS; i++) {
    live += allocs[i].used;
    exports += allocs[i].used && allocs[i].export_fd >= 0;
  }
  logf_("exit allocations=%d exports=%d", live, exports);
}

hsa_status_t hsa_init(void) {
  ENTER("hsa_init");
  initialised = 1;
  logf_("hsa_init");
  return 0;
}

hsa_status_t hsa_status_string(hsa_status_t s, const char** text) {
  switch (s) {
    case 0x1008: *text = "HSA_STATUS_ERROR_OUT_OF_RESOURCES: the runtime failed to allocate the necessary resources"; return 0;
    case 0x1001: *text = "HSA_STATUS_ERROR_INVALID_ARGUMENT: one of the actual arguments does not meet a precondition"; return 0;
    default: *text = NULL; return 0x1001;
  }
}

hsa_status_t hsa_iterate_agents(hsa_status_t (*cb)(hsa_agent_t, void*), void* data) {
  if (!initialised) return 0x100B;
  hsa_agent_t cpu = {CPU_AGENT};
  hsa_status_t s = cb(cpu, data);
  if (s) return s == 1 ? 0 : s;
  for (int i = 0; i < gpus(); i++) {
    hsa_agent_t g = {GPU_AGENT(i)};
    s = cb(g, data);
    if (s) return s == 1 ? 0 : s;
  }
  return 0;
}

hsa_status_t hsa_agent_get_info(hsa_agent_t agent, int attr, void* value) {
  int gpu = agent.handle >= 100 ? (int)(agent.handle - 100) : -1;
  if (agent.handle != CPU_AGENT && (gpu < 0 || gpu >= gpus())) return 0x1004;
  switch (attr) {
    case 17: *(int*)value = gpu < 0 ? 0 : 1; return 0;
    case 0: snprintf((char*)value, 64, gpu < 0 ? "cpu-double" : "gfx-double-%d", gpu); return 0;
    case 0xA006: *(uint32_t*)value = gpu < 0 ? 0 : (uint32_t)(0xc1 + gpu) << 8; return 0;
    case 0xA00F: *(uint32_t*)value = 0; return 0;
    default: return 0x1001;
  }
}

hsa_status_t hsa_amd_agent_iterate_memory_pools(hsa_agent_t agent, hsa_status_t (*cb)(hsa_amd_memory_pool_t, void*),
                                                void* data) {
  int gpu = (int)(agent.handle - 100);
  if (gpu < 0 || gpu >= gpus()) return 0x1004;
  // A fine-grained pool first: the addon must pass it over for the coarse one.
  for (int coarse = 0; coarse < 2; coarse++) {
    hsa_amd_memory_pool_t p = {POOL(gpu, coarse)};
    hsa_status_t s = cb(p, data);
    if (s) return s == 1 ? 0 : s;
  }
  return 0;
}

hsa_status_t hsa_amd_memory_pool_get_info(hsa_amd_memory_pool_t pool, int attr, void* value) {
  int coarse = (int)(pool.handle % 10);
  switch (attr) {
    case 0: *(int*)value = 0; return 0;                        // global segment
    case 1: *(uint32_t*)value = coarse ? 4 : 2; return 0;      // coarse or fine grained
    case 5: *(_Bool*)value = 1; return 0;                      // runtime allocation allowed
    case 6: *(size_t*)value = (size_t)sysconf(_SC_PAGESIZE); return 0;
    default: return 0x1001;
  }
}

hsa_status_t hsa_amd_memory_pool_allocate(hsa_amd_memory_pool_t pool, size_t size, uint32_t flags, void** ptr) {
  ENTER("hsa_amd_memory_pool_allocate");
  logf_("hsa_amd_memory_pool_allocate pool %llu %s size %zu flags %u", (unsigned long long)pool.handle,
        pool.handle % 10 ? "coarse" : "fine", size, flags);
  struct alloc* a = NULL;
  for (int i = 0; i < MAX_ALLOCS && !a; i++)
    if (!allocs[i].used) a = &allocs[i];
  if (!a || size == 0) return 0x1008;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t lead = (size_t)knob("EXPORT_OFFSET", 1) * page;
  size_t len = lead + (size + page - 1) / page * page;
  int fd = memfd_create("hsa-double", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd < 0) return 0x1008;
  if (ftruncate(fd, (off_t)len) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    close(fd);
    return 0x1008;
  }
  void* map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    close(fd);
    return 0x1008;
  }
  *a = (struct alloc){1, fd, map, len, lead, size, -1};
  *ptr = (char*)map + lead;
  return 0;
}

static struct alloc* owner(const void* p, size_t n) {
  for (int i = 0; i < MAX_ALLOCS; i++) {
    struct alloc* a = &allocs[i];
    if (a->used && (const char*)p >= (char*)a->map && (const char*)p + n <= (char*)a->map + a->map_len) return a;
  }
  return NULL;
}

hsa_status_t hsa_amd_memory_pool_free(void* ptr) {
  for (int i = 0; i < MAX_ALLOCS; i++) {
    struct alloc* a = &allocs[i];
    if (a->used && ptr == (char*)a->map + a->lead) {
      munmap(a->map, a->map_len);
      close(a->memfd);
      a->used = 0;
      logf_("hsa_amd_memory_pool_free");
      return 0;
    }
  }
  return 0x1001;
}

hsa_status_t hsa_amd_portable_export_dmabuf(const void* ptr, size_t size, int* dmabuf, uint64_t* offset) {
  ENTER("hsa_amd_portable_export_dmabuf");
  struct alloc* a = owner(ptr, size);
  if (!a) return 0x1001;
  int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  if (dev < 0) return 0x1000;
  // The export covers the whole "buffer object", lead included.
  struct udmabuf_create c = {(uint32_t)a->memfd, UDMABUF_FLAGS_CLOEXEC, 0, a->map_len};
  int fd = ioctl(dev, UDMABUF_CREATE, &c);
  close(dev);
  if (fd < 0) return 0x1000;
  *dmabuf = fd;
  *offset = (uint64_t)((const char*)ptr - (char*)a->map);
  a->export_fd = fd;
  logf_("hsa_amd_portable_export_dmabuf size %zu offset %llu", size, (unsigned long long)*offset);
  return 0;
}

hsa_status_t hsa_amd_portable_close_dmabuf(int fd) {
  for (int i = 0; i < MAX_ALLOCS; i++)
    if (allocs[i].used && allocs[i].export_fd == fd) allocs[i].export_fd = -1;
  logf_("hsa_amd_portable_close_dmabuf");
  return close(fd) == 0 ? 0 : 0x1001;
}

hsa_status_t hsa_memory_copy(void* dst, const void* src, size_t size) {
  ENTER("hsa_memory_copy");
  if (!owner(dst, size) && !owner(src, size)) return 0x1001;
  memcpy(dst, src, size);
  return 0;
}

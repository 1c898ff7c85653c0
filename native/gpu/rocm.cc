// SPDX-License-Identifier: MIT
#include "gpu/rocm.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "common/reasons.h"
#include "gpu/dl.h"

namespace devmem::gpu {

namespace {

constexpr const char kLibrary[] = "libhsa-runtime64.so.1";

using Loaded = LoadedLibrary<hsa::Api>;

// dlopen and hsa_init once per process; the runtime stays up until exit.
const Loaded& Library() {
  static Loaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = OpenLibrary(kLibrary, &loaded.error);
    if (!lib) return;
    hsa::Api& a = loaded.api;
    std::string missing;
    Symbol(lib, "hsa_init", &a.hsa_init, &missing);
    Symbol(lib, "hsa_status_string", &a.hsa_status_string, &missing);
    Symbol(lib, "hsa_iterate_agents", &a.hsa_iterate_agents, &missing);
    Symbol(lib, "hsa_agent_get_info", &a.hsa_agent_get_info, &missing);
    Symbol(lib, "hsa_amd_agent_iterate_memory_pools", &a.hsa_amd_agent_iterate_memory_pools, &missing);
    Symbol(lib, "hsa_amd_memory_pool_get_info", &a.hsa_amd_memory_pool_get_info, &missing);
    Symbol(lib, "hsa_amd_memory_pool_allocate", &a.hsa_amd_memory_pool_allocate, &missing);
    Symbol(lib, "hsa_amd_memory_pool_free", &a.hsa_amd_memory_pool_free, &missing);
    Symbol(lib, "hsa_amd_portable_export_dmabuf", &a.hsa_amd_portable_export_dmabuf, &missing);
    Symbol(lib, "hsa_amd_portable_close_dmabuf", &a.hsa_amd_portable_close_dmabuf, &missing);
    Symbol(lib, "hsa_memory_copy", &a.hsa_memory_copy, &missing);
    if (!missing.empty()) {
      loaded.error = std::string(kLibrary) + " has no " + missing + " (a ROCm older than 5.x?)";
      ::dlclose(lib);
      return;
    }
    hsa::Status s = a.hsa_init();
    if (s != hsa::kSuccess) {
      loaded.error = "hsa_init failed with status " + std::to_string(s);
      return;
    }
    loaded.ok = true;
  });
  return loaded;
}

std::string StatusName(hsa::Status s) {
  switch (s) {
    case hsa::kError: return "HSA_STATUS_ERROR";
    case hsa::kErrorInvalidArgument: return "HSA_STATUS_ERROR_INVALID_ARGUMENT";
    case hsa::kErrorInvalidAllocation: return "HSA_STATUS_ERROR_INVALID_ALLOCATION";
    case hsa::kErrorInvalidAgent: return "HSA_STATUS_ERROR_INVALID_AGENT";
    case hsa::kErrorOutOfResources: return "HSA_STATUS_ERROR_OUT_OF_RESOURCES";
    case hsa::kErrorNotInitialized: return "HSA_STATUS_ERROR_NOT_INITIALIZED";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "hsa_status_t 0x%x", static_cast<unsigned>(s));
      return buf;
    }
  }
}

bool Fail(Failure* f, const char* call, hsa::Status s, const std::string& what) {
  const char* text = nullptr;
  const Loaded& l = Library();
  std::string detail = StatusName(s);
  if (l.ok && l.api.hsa_status_string(s, &text) == hsa::kSuccess && text) detail += ": " + std::string(text);
  *f = {0, call, what + ": " + detail, std::nullopt, reasons::kRocmError};
  f->library_code = StatusName(s);
  return false;
}

bool Check(Failure* f, const char* call, hsa::Status s, const std::string& what) {
  return s == hsa::kSuccess || Fail(f, call, s, what);
}

bool Ready(Failure* f) {
  const Loaded& l = Library();
  if (l.ok) return true;
  *f = {0, "dlopen", "cannot load the ROCm runtime: " + l.error, std::nullopt, reasons::kNoRocm};
  return false;
}

struct GpuAgent {
  hsa::Agent agent;
  RocmDevice info;
};

std::vector<GpuAgent> GpuAgents(const hsa::Api& a) {
  std::vector<GpuAgent> out;
  std::pair<const hsa::Api*, std::vector<GpuAgent>*> ctx{&a, &out};
  a.hsa_iterate_agents(
      [](hsa::Agent agent, void* data) -> hsa::Status {
        auto* list = static_cast<std::pair<const hsa::Api*, std::vector<GpuAgent>*>*>(data);
        const hsa::Api& api = *list->first;
        int type = -1;
        if (api.hsa_agent_get_info(agent, hsa::kAgentInfoDevice, &type) != hsa::kSuccess || type != hsa::kDeviceTypeGpu)
          return hsa::kSuccess;
        GpuAgent g{agent, {}};
        g.info.ordinal = static_cast<int>(list->second->size());
        char name[64] = {};
        if (api.hsa_agent_get_info(agent, hsa::kAgentInfoName, name) == hsa::kSuccess)
          g.info.name.assign(name, strnlen(name, sizeof(name)));
        uint32_t bdf = 0, domain = 0;
        if (api.hsa_agent_get_info(agent, hsa::kAmdAgentInfoBdfid, &bdf) == hsa::kSuccess) {
          api.hsa_agent_get_info(agent, hsa::kAmdAgentInfoDomain, &domain);
          char id[32];
          std::snprintf(id, sizeof(id), "%04x:%02x:%02x.%x", domain, (bdf >> 8) & 0xff, (bdf >> 3) & 0x1f, bdf & 0x7);
          g.info.pci_bus_id = id;
        }
        list->second->push_back(std::move(g));
        return hsa::kSuccess;
      },
      &ctx);
  return out;
}

// The agent's coarse-grained global pool the runtime lets us allocate from:
// device-local VRAM, which is what a NIC should write into.
bool VramPool(const hsa::Api& a, hsa::Agent agent, hsa::Pool* pool, size_t* granule) {
  struct Found {
    const hsa::Api* api;
    hsa::Pool pool;
    bool found;
  } found{&a, {0}, false};
  a.hsa_amd_agent_iterate_memory_pools(
      agent,
      [](hsa::Pool p, void* data) -> hsa::Status {
        auto* fd = static_cast<Found*>(data);
        int segment = -1;
        uint32_t flags = 0;
        bool alloc = false;
        if (fd->api->hsa_amd_memory_pool_get_info(p, hsa::kPoolInfoSegment, &segment) != hsa::kSuccess ||
            segment != hsa::kSegmentGlobal)
          return hsa::kSuccess;
        fd->api->hsa_amd_memory_pool_get_info(p, hsa::kPoolInfoGlobalFlags, &flags);
        fd->api->hsa_amd_memory_pool_get_info(p, hsa::kPoolInfoRuntimeAllocAllowed, &alloc);
        if (!(flags & hsa::kGlobalFlagCoarseGrained) || !alloc) return hsa::kSuccess;
        fd->pool = p;
        fd->found = true;
        return hsa::kInfoBreak;
      },
      &found);
  if (!found.found) return false;
  *pool = found.pool;
  *granule = 0;
  a.hsa_amd_memory_pool_get_info(found.pool, hsa::kPoolInfoRuntimeAllocGranule, granule);
  return true;
}

}  // namespace

RocmInfo ProbeRocm() {
  RocmInfo info;
  const Loaded& l = Library();
  if (!l.ok) {
    info.error = l.error;
    return info;
  }
  info.loaded = true;
  for (const GpuAgent& g : GpuAgents(l.api)) info.devices.push_back(g.info);
  return info;
}

std::unique_ptr<RocmMemory> RocmMemory::Alloc(const RocmSelector& sel, uint64_t size, Failure* f) {
  if (!Ready(f)) return nullptr;
  const hsa::Api& a = Library().api;
  std::vector<GpuAgent> gpus = GpuAgents(a);
  const GpuAgent* g = nullptr;
  for (const GpuAgent& x : gpus)
    if (sel.pci_bus_id.empty() ? x.info.ordinal == sel.ordinal : x.info.pci_bus_id == sel.pci_bus_id) g = &x;
  std::string which = sel.pci_bus_id.empty() ? "GPU " + std::to_string(sel.ordinal) : "GPU " + sel.pci_bus_id;
  if (!g) {
    Fail(f, "hsa_iterate_agents", hsa::kErrorInvalidAgent,
         "no ROCm " + which + " (" + std::to_string(gpus.size()) + " GPU agents)");
    return nullptr;
  }
  hsa::Pool pool{0};
  size_t granule = 0;
  if (!VramPool(a, g->agent, &pool, &granule)) {
    Fail(f, "hsa_amd_agent_iterate_memory_pools", hsa::kErrorInvalidAllocation,
         "ROCm " + which + " has no coarse-grained global memory pool to allocate from");
    return nullptr;
  }
  std::unique_ptr<RocmMemory> m(new RocmMemory());
  m->ordinal_ = g->info.ordinal;
  uint64_t alloc = granule ? (size + granule - 1) / granule * granule : size;
  if (!Check(f, "hsa_amd_memory_pool_allocate", a.hsa_amd_memory_pool_allocate(pool, alloc, 0, &m->ptr_),
             "cannot allocate " + std::to_string(alloc) + " bytes on ROCm " + which))
    return nullptr;
  m->size_ = size;
  uint64_t offset = 0;
  if (!Check(f, "hsa_amd_portable_export_dmabuf", a.hsa_amd_portable_export_dmabuf(m->ptr_, size, &m->fd_, &offset),
             "cannot export ROCm memory as a dma-buf")) {
    m->fd_ = -1;
    return nullptr;  // the destructor frees the allocation
  }
  m->base_offset_ = offset;
  // A dma-buf seeks to its end at its size; the export may be larger than the allocation.
  off_t end = ::lseek(m->fd_, 0, SEEK_END);
  m->dmabuf_size_ = end > 0 ? static_cast<uint64_t>(end) : offset + size;
  return m;
}

bool RocmMemory::Read(uint64_t offset, void* dst, uint64_t length, Failure* f) {
  const hsa::Api& a = Library().api;
  const void* src = static_cast<const char*>(ptr_) - base_offset_ + offset;
  return Check(f, "hsa_memory_copy", a.hsa_memory_copy(dst, src, length), "cannot copy from ROCm memory");
}

bool RocmMemory::Write(uint64_t offset, const void* src, uint64_t length, Failure* f) {
  const hsa::Api& a = Library().api;
  void* dst = static_cast<char*>(ptr_) - base_offset_ + offset;
  return Check(f, "hsa_memory_copy", a.hsa_memory_copy(dst, src, length), "cannot copy to ROCm memory");
}

RocmMemory::~RocmMemory() {
  const Loaded& l = Library();
  if (!l.ok) return;
  if (fd_ >= 0) l.api.hsa_amd_portable_close_dmabuf(fd_);
  if (ptr_) l.api.hsa_amd_memory_pool_free(ptr_);
}

}  // namespace devmem::gpu

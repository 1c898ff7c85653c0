// SPDX-License-Identifier: MIT
#include "gpu/cuda.h"

#include <unistd.h>

#include <cctype>
#include <mutex>

#include "common/reasons.h"
#include "gpu/dl.h"

namespace devmem::gpu {

namespace {

using cuda::CUdeviceptr;
using cuda::CUresult;

constexpr const char kLibrary[] = "libcuda.so.1";

using Loaded = LoadedLibrary<cuda::Api>;

// dlopen once per process: a driver that was absent stays absent for this
// process (as with CUDA itself, a driver installed later needs a restart).
const Loaded& Library() {
  static Loaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = OpenLibrary(kLibrary, &loaded.error);
    if (!lib) return;
    cuda::Api& a = loaded.api;
    std::string missing;
    Symbol(lib, "cuInit", &a.cuInit, &missing);
    Symbol(lib, "cuDriverGetVersion", &a.cuDriverGetVersion, &missing);
    Symbol(lib, "cuGetErrorName", &a.cuGetErrorName, &missing);
    Symbol(lib, "cuDeviceGetCount", &a.cuDeviceGetCount, &missing);
    Symbol(lib, "cuDeviceGet", &a.cuDeviceGet, &missing);
    Symbol(lib, "cuDeviceGetByPCIBusId", &a.cuDeviceGetByPCIBusId, &missing);
    Symbol(lib, "cuDeviceGetAttribute", &a.cuDeviceGetAttribute, &missing);
    Symbol(lib, "cuDeviceGetName", &a.cuDeviceGetName, &missing);
    Symbol(lib, "cuDeviceGetPCIBusId", &a.cuDeviceGetPCIBusId, &missing);
    Symbol(lib, "cuDevicePrimaryCtxRetain", &a.cuDevicePrimaryCtxRetain, &missing);
    Symbol(lib, "cuDevicePrimaryCtxRelease_v2", &a.cuDevicePrimaryCtxRelease, &missing);
    Symbol(lib, "cuCtxPushCurrent_v2", &a.cuCtxPushCurrent, &missing);
    Symbol(lib, "cuCtxPopCurrent_v2", &a.cuCtxPopCurrent, &missing);
    Symbol(lib, "cuCtxGetDevice", &a.cuCtxGetDevice, &missing);
    Symbol(lib, "cuMemAlloc_v2", &a.cuMemAlloc, &missing);
    Symbol(lib, "cuMemFree_v2", &a.cuMemFree, &missing);
    Symbol(lib, "cuMemGetAddressRange_v2", &a.cuMemGetAddressRange, &missing);
    Symbol(lib, "cuMemcpyDtoH_v2", &a.cuMemcpyDtoH, &missing);
    Symbol(lib, "cuMemcpyHtoD_v2", &a.cuMemcpyHtoD, &missing);
    Symbol(lib, "cuPointerGetAttribute", &a.cuPointerGetAttribute, &missing);
    // CUDA 11.7: older drivers lack the one call this is all about.
    Symbol(lib, "cuMemGetHandleForAddressRange", &a.cuMemGetHandleForAddressRange, &missing);
    if (!missing.empty()) {
      loaded.error = std::string(kLibrary) + " has no " + missing + " (a driver older than CUDA 11.7?)";
      ::dlclose(lib);
      return;
    }
    loaded.ok = true;  // the library stays loaded for the life of the process
  });
  return loaded;
}

std::string ResultName(CUresult r) {
  const char* name = nullptr;
  const Loaded& l = Library();
  if (l.ok && l.api.cuGetErrorName(r, &name) == cuda::kSuccess && name) return name;
  return "CUresult " + std::to_string(r);
}

bool Fail(Failure* f, const char* call, CUresult r, const std::string& what) {
  *f = {0, call, what + ": " + ResultName(r) + " (" + std::to_string(r) + ")", std::nullopt, reasons::kCudaError};
  f->library_code = ResultName(r);
  return false;
}

bool Check(Failure* f, const char* call, CUresult r, const std::string& what) {
  return r == cuda::kSuccess || Fail(f, call, r, what);
}

bool Ready(Failure* f) {
  const Loaded& l = Library();
  if (!l.ok) {
    *f = {0, "dlopen", "cannot load the CUDA driver library: " + l.error, std::nullopt, reasons::kNoCuda};
    return false;
  }
  return Check(f, "cuInit", l.api.cuInit(0), "cannot initialise CUDA");
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string BusId(const cuda::Api& a, cuda::CUdevice d) {
  char id[32] = {};
  if (a.cuDeviceGetPCIBusId(id, sizeof(id), d) != cuda::kSuccess) return "";
  return Lower(id);
}

// Makes `ctx` current for a scope, and puts back what was current before.
class CurrentContext {
 public:
  CurrentContext(const cuda::Api& a, cuda::CUcontext ctx)
      : api_(a), pushed_(a.cuCtxPushCurrent(ctx) == cuda::kSuccess) {}
  ~CurrentContext() {
    cuda::CUcontext popped = nullptr;
    if (pushed_) api_.cuCtxPopCurrent(&popped);
  }
  bool ok() const { return pushed_; }

 private:
  const cuda::Api& api_;
  bool pushed_;
};

// The dma-buf export, with the PCIe mapping flag where the driver has it
// (12.8+), and without it where that driver still refuses the flag.
CUresult Export(const cuda::Api& a, CUdeviceptr ptr, uint64_t size, int* fd) {
  int version = 0;
  a.cuDriverGetVersion(&version);
  if (version >= cuda::kPcieFlagSince) {
    CUresult r = a.cuMemGetHandleForAddressRange(fd, ptr, size, cuda::kHandleTypeDmaBufFd, cuda::kFlagMappingTypePcie);
    if (r != cuda::kErrorInvalidValue && r != cuda::kErrorNotSupported) return r;
  }
  return a.cuMemGetHandleForAddressRange(fd, ptr, size, cuda::kHandleTypeDmaBufFd, 0);
}

uint64_t PageSize() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }

// The ordinal of a device handle (which the driver API need not make equal).
int OrdinalOf(const cuda::Api& a, cuda::CUdevice device) {
  int count = 0;
  a.cuDeviceGetCount(&count);
  for (int i = 0; i < count; ++i) {
    cuda::CUdevice d = 0;
    if (a.cuDeviceGet(&d, i) == cuda::kSuccess && d == device) return i;
  }
  return 0;
}

}  // namespace

CudaInfo ProbeCuda() {
  CudaInfo info;
  const Loaded& l = Library();
  if (!l.ok) {
    info.error = l.error;
    return info;
  }
  info.loaded = true;
  info.library = kLibrary;
  const cuda::Api& a = l.api;
  a.cuDriverGetVersion(&info.driver_version);
  CUresult r = a.cuInit(0);
  if (r != cuda::kSuccess) {
    info.error = "cuInit: " + ResultName(r);
    return info;
  }
  int count = 0;
  if (a.cuDeviceGetCount(&count) != cuda::kSuccess) count = 0;
  for (int i = 0; i < count; ++i) {
    cuda::CUdevice d = 0;
    if (a.cuDeviceGet(&d, i) != cuda::kSuccess) continue;
    CudaDevice dev;
    dev.ordinal = i;
    char name[256] = {};
    if (a.cuDeviceGetName(name, sizeof(name), d) == cuda::kSuccess) dev.name = name;
    dev.pci_bus_id = BusId(a, d);
    int supported = 0;
    dev.dmabuf_supported =
        a.cuDeviceGetAttribute(&supported, cuda::kAttrDmaBufSupported, d) == cuda::kSuccess && supported;
    info.devices.push_back(std::move(dev));
  }
  return info;
}

std::unique_ptr<CudaMemory> CudaMemory::Alloc(const CudaSelector& sel, uint64_t size, Failure* f) {
  if (!Ready(f)) return nullptr;
  const cuda::Api& a = Library().api;
  std::unique_ptr<CudaMemory> m(new CudaMemory());
  std::string which = sel.pci_bus_id.empty() ? "device " + std::to_string(sel.ordinal) : "device " + sel.pci_bus_id;
  if (!sel.pci_bus_id.empty()) {
    if (!Check(f, "cuDeviceGetByPCIBusId", a.cuDeviceGetByPCIBusId(&m->device_, sel.pci_bus_id.c_str()),
               "no CUDA " + which))
      return nullptr;
  } else if (!Check(f, "cuDeviceGet", a.cuDeviceGet(&m->device_, sel.ordinal), "no CUDA " + which)) {
    return nullptr;
  }
  m->ordinal_ = OrdinalOf(a, m->device_);
  int supported = 0;
  if (!Check(f, "cuDeviceGetAttribute", a.cuDeviceGetAttribute(&supported, cuda::kAttrDmaBufSupported, m->device_),
             "cannot ask " + which + " about dma-buf support"))
    return nullptr;
  if (!supported) {
    *f = {0, "cuDeviceGetAttribute",
          "CUDA " + which + " cannot export dma-bufs (CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED is 0)", std::nullopt,
          reasons::kCudaDmabufUnsupported};
    return nullptr;
  }
  if (!Check(f, "cuDevicePrimaryCtxRetain", a.cuDevicePrimaryCtxRetain(&m->ctx_, m->device_),
             "cannot retain the primary context of CUDA " + which))
    return nullptr;
  CurrentContext current(a, m->ctx_);
  if (!current.ok()) {
    Fail(f, "cuCtxPushCurrent", cuda::kErrorInvalidDevice, "cannot make the context of CUDA " + which + " current");
    return nullptr;
  }
  // The export needs a page-aligned start; cuMemAlloc aligns to at least 256
  // bytes (large allocations to 2 MiB), so ask for a page more when needed.
  const uint64_t page = PageSize();
  CUdeviceptr base = 0;
  if (!Check(f, "cuMemAlloc", a.cuMemAlloc(&base, size),
             "cannot allocate " + std::to_string(size) + " bytes on CUDA " + which))
    return nullptr;
  if (base % page != 0) {
    a.cuMemFree(base);
    if (!Check(f, "cuMemAlloc", a.cuMemAlloc(&base, size + page),
               "cannot allocate " + std::to_string(size + page) + " bytes on CUDA " + which))
      return nullptr;
  }
  m->alloc_base_ = base;
  m->owned_ = true;
  m->ptr_ = (base + page - 1) / page * page;
  m->size_ = size;
  CUresult r = Export(a, m->ptr_, size, &m->fd_);
  if (r != cuda::kSuccess) {
    Fail(f, "cuMemGetHandleForAddressRange", r, "cannot export CUDA memory as a dma-buf");
    m->fd_ = -1;
    return nullptr;  // the destructor frees the allocation and drops the context
  }
  return m;
}

std::unique_ptr<CudaMemory> CudaMemory::ExportRange(uint64_t ptr, uint64_t size, Failure* f) {
  if (!Ready(f)) return nullptr;
  const cuda::Api& a = Library().api;
  const uint64_t page = PageSize();
  if (ptr % page != 0 || size % page != 0 || size == 0) {
    *f = {EINVAL, "cudaExportRange",
          "the range must start and end on a " + std::to_string(page) + "-byte page boundary", std::nullopt, ""};
    return nullptr;
  }
  CUdeviceptr base = 0;
  size_t alloc_size = 0;
  if (!Check(f, "cuMemGetAddressRange", a.cuMemGetAddressRange(&base, &alloc_size, ptr),
             "the address is not CUDA device memory of this process"))
    return nullptr;
  if (ptr + size > base + alloc_size) {
    *f = {EINVAL, "cudaExportRange",
          "the range runs past its allocation (" + std::to_string(alloc_size) + " bytes from its start)", std::nullopt,
          ""};
    return nullptr;
  }
  std::unique_ptr<CudaMemory> m(new CudaMemory());
  cuda::CUcontext ctx = nullptr;
  if (!Check(f, "cuPointerGetAttribute", a.cuPointerGetAttribute(&ctx, cuda::kPointerAttributeContext, ptr),
             "cannot find the context of that memory"))
    return nullptr;
  {
    CurrentContext current(a, ctx);
    if (!Check(f, "cuCtxGetDevice", a.cuCtxGetDevice(&m->device_), "cannot find the device of that memory"))
      return nullptr;
  }
  // Hold the device's primary context, which must be the memory's: memory
  // of another context cannot be read back or exported safely from here.
  if (!Check(f, "cuDevicePrimaryCtxRetain", a.cuDevicePrimaryCtxRetain(&m->ctx_, m->device_),
             "cannot retain the primary context"))
    return nullptr;
  if (m->ctx_ != ctx) {
    *f = {EINVAL, "cudaExportRange",
          "the memory belongs to a CUDA context other than its device's primary one; export it from that context",
          std::nullopt, ""};
    return nullptr;
  }
  m->ordinal_ = OrdinalOf(a, m->device_);
  m->ptr_ = ptr;
  m->size_ = size;
  CurrentContext current(a, m->ctx_);
  CUresult r = Export(a, ptr, size, &m->fd_);
  if (r != cuda::kSuccess) {
    Fail(f, "cuMemGetHandleForAddressRange", r, "cannot export CUDA memory as a dma-buf");
    m->fd_ = -1;
    return nullptr;
  }
  return m;
}

bool CudaMemory::Read(uint64_t offset, void* dst, uint64_t length, Failure* f) {
  const cuda::Api& a = Library().api;
  CurrentContext current(a, ctx_);
  return Check(f, "cuMemcpyDtoH", a.cuMemcpyDtoH(dst, ptr_ + offset, length), "cannot copy from CUDA memory");
}

bool CudaMemory::Write(uint64_t offset, const void* src, uint64_t length, Failure* f) {
  const cuda::Api& a = Library().api;
  CurrentContext current(a, ctx_);
  return Check(f, "cuMemcpyHtoD", a.cuMemcpyHtoD(ptr_ + offset, src, length), "cannot copy to CUDA memory");
}

void CudaMemory::Release() {
  if (released_) return;
  released_ = true;
  const Loaded& l = Library();
  if (!l.ok) return;
  if (owned_ && alloc_base_) {
    CurrentContext current(l.api, ctx_);
    l.api.cuMemFree(alloc_base_);
  }
  if (ctx_) l.api.cuDevicePrimaryCtxRelease(device_);
}

CudaMemory::~CudaMemory() {
  if (fd_ >= 0) ::close(fd_);
  Release();
}

}  // namespace devmem::gpu

// SPDX-License-Identifier: MIT
//
// JS entry points for GPU memory (native/gpu: CUDA, ROCm): allocation, CUDA's
// export of a range another library allocated, the read-only probes, and the
// CPU access object behind a GPU DmaBuf's view (copies through the GPU
// library: device memory has no CPU mapping to hand out).
#include <napi.h>

#include <memory>

#include "gpu/cuda.h"
#include "gpu/rocm.h"
#include "js/addon_data.h"
#include "js/args.h"
#include "js/errors.h"

namespace devmem::js {

namespace {

// NativeGpuMemory: made only by cudaAlloc, cudaExportRange and rocmAlloc.
class GpuMemoryObject : public Napi::ObjectWrap<GpuMemoryObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function f = DefineClass(
        env, "NativeGpuMemory",
        {InstanceMethod<&GpuMemoryObject::Read>("read"), InstanceMethod<&GpuMemoryObject::Write>("write"),
         InstanceMethod<&GpuMemoryObject::Free>("free"), InstanceAccessor<&GpuMemoryObject::Fd>("fd"),
         InstanceAccessor<&GpuMemoryObject::DevicePtr>("devicePtr"), InstanceAccessor<&GpuMemoryObject::Size>("size"),
         InstanceAccessor<&GpuMemoryObject::Device>("device"), InstanceAccessor<&GpuMemoryObject::Owned>("owned"),
         InstanceAccessor<&GpuMemoryObject::BaseOffset>("baseOffset"),
         InstanceAccessor<&GpuMemoryObject::DmabufSize>("dmabufSize")});
    AddonData::Get(env).gpu_memory_ctor = Napi::Persistent(f);
    return f;
  }

  explicit GpuMemoryObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GpuMemoryObject>(info) {}

  static Napi::Value Wrap(Napi::Env env, std::unique_ptr<gpu::DeviceMemory> mem) {
    Napi::Object o = AddonData::Get(env).gpu_memory_ctor.New({});
    GpuMemoryObject* self = Unwrap(o);
    if (mem->closes_fd()) {
      self->fd_ = mem->fd();  // closed by free(), through the GPU library
    } else {
      self->fd_ = mem->TakeFd();
      AddonData::Get(env).owned_fds.insert(self->fd_);
    }
    self->mem_ = std::move(mem);
    return o;
  }

 private:
  gpu::DeviceMemory& Mem(Napi::Env env) {
    if (!mem_) throw Napi::Error::New(env, "the GPU memory was freed");
    return *mem_;
  }

  // read(offset, target: Uint8Array)
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset = SizeArg(env, info[0], "offset");
    auto target = BytesArg(env, info[1], "target");
    // Offsets are the dma-buf's, like fragment offsets.
    CheckRange(env, offset, target.ByteLength(), Mem(env).dmabuf_size());
    Failure f;
    if (target.ByteLength() && !Mem(env).Read(offset, target.Data(), target.ByteLength(), &f)) throw MakeError(env, f);
    return env.Undefined();
  }

  // write(offset, source: Uint8Array)
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset = SizeArg(env, info[0], "offset");
    auto source = BytesArg(env, info[1], "source");
    CheckRange(env, offset, source.ByteLength(), Mem(env).dmabuf_size());
    Failure f;
    if (source.ByteLength() && !Mem(env).Write(offset, source.Data(), source.ByteLength(), &f)) throw MakeError(env, f);
    return env.Undefined();
  }

  // free(): frees the allocation (when it made it) and drops the context. The
  // dma-buf fd is the DmaBuf's, which closes it first.
  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (mem_) mem_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value DevicePtr(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(Mem(info.Env()).device_ptr()));
  }
  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Mem(info.Env()).size()));
  }
  Napi::Value Device(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), Mem(info.Env()).ordinal());
  }
  Napi::Value Owned(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Mem(info.Env()).owned()); }
  Napi::Value BaseOffset(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Mem(info.Env()).base_offset()));
  }
  Napi::Value DmabufSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Mem(info.Env()).dmabuf_size()));
  }

  std::unique_ptr<gpu::DeviceMemory> mem_;
  int fd_ = -1;
};

// cudaAlloc(size, device: number | string) -> NativeCudaMemory
Napi::Value CudaAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = SizeArg(env, info[0], "size");
  gpu::CudaSelector sel;
  if (info[1].IsString()) sel.pci_bus_id = info[1].As<Napi::String>().Utf8Value();
  else sel.ordinal = static_cast<int>(SizeArg(env, info[1], "device"));
  Failure f;
  std::unique_ptr<gpu::CudaMemory> mem = gpu::CudaMemory::Alloc(sel, size, &f);
  if (!mem) throw MakeError(env, f);
  return GpuMemoryObject::Wrap(env, std::move(mem));
}

// cudaExportRange(devicePtr: bigint, size) -> NativeCudaMemory
Napi::Value CudaExportRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBigInt()) throw Napi::TypeError::New(env, "devicePtr must be a bigint");
  bool lossless = false;
  uint64_t ptr = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(env, "devicePtr must fit in 64 bits");
  uint64_t size = SizeArg(env, info[1], "size");
  Failure f;
  std::unique_ptr<gpu::CudaMemory> mem = gpu::CudaMemory::ExportRange(ptr, size, &f);
  if (!mem) throw MakeError(env, f);
  return GpuMemoryObject::Wrap(env, std::move(mem));
}

// cudaProbe() -> { loaded, library, error, driverVersion, devices: [...] }
Napi::Value CudaProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gpu::CudaInfo ci = gpu::ProbeCuda();
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", ci.loaded);
  o.Set("library", ci.library.empty() ? env.Null() : Napi::String::New(env, ci.library));
  o.Set("error", ci.error.empty() ? env.Null() : Napi::String::New(env, ci.error));
  o.Set("driverVersion", ci.driver_version ? Napi::Number::New(env, ci.driver_version) : env.Null());
  Napi::Array devices = Napi::Array::New(env, ci.devices.size());
  for (size_t i = 0; i < ci.devices.size(); ++i) {
    const gpu::CudaDevice& d = ci.devices[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("ordinal", d.ordinal);
    x.Set("name", d.name);
    x.Set("pciBusId", d.pci_bus_id);
    x.Set("dmabufSupported", d.dmabuf_supported);
    devices.Set(static_cast<uint32_t>(i), x);
  }
  o.Set("devices", devices);
  return o;
}

// rocmAlloc(size, device: number | string) -> NativeGpuMemory
Napi::Value RocmAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = SizeArg(env, info[0], "size");
  gpu::RocmSelector sel;
  if (info[1].IsString()) sel.pci_bus_id = info[1].As<Napi::String>().Utf8Value();
  else sel.ordinal = static_cast<int>(SizeArg(env, info[1], "device"));
  Failure f;
  std::unique_ptr<gpu::RocmMemory> mem = gpu::RocmMemory::Alloc(sel, size, &f);
  if (!mem) throw MakeError(env, f);
  return GpuMemoryObject::Wrap(env, std::move(mem));
}

// rocmProbe() -> { loaded, error, devices: [{ ordinal, name, pciBusId }] }
Napi::Value RocmProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gpu::RocmInfo ri = gpu::ProbeRocm();
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", ri.loaded);
  o.Set("error", ri.error.empty() ? env.Null() : Napi::String::New(env, ri.error));
  Napi::Array devices = Napi::Array::New(env, ri.devices.size());
  for (size_t i = 0; i < ri.devices.size(); ++i) {
    Napi::Object x = Napi::Object::New(env);
    x.Set("ordinal", ri.devices[i].ordinal);
    x.Set("name", ri.devices[i].name);
    x.Set("pciBusId", ri.devices[i].pci_bus_id);
    devices.Set(static_cast<uint32_t>(i), x);
  }
  o.Set("devices", devices);
  return o;
}

}  // namespace

void InitGpu(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeGpuMemory", GpuMemoryObject::Define(env));
  exports.Set("rocmAlloc", Napi::Function::New(env, RocmAlloc, "rocmAlloc"));
  exports.Set("rocmProbe", Napi::Function::New(env, RocmProbe, "rocmProbe"));
  exports.Set("cudaAlloc", Napi::Function::New(env, CudaAlloc, "cudaAlloc"));
  exports.Set("cudaExportRange", Napi::Function::New(env, CudaExportRange, "cudaExportRange"));
  exports.Set("cudaProbe", Napi::Function::New(env, CudaProbe, "cudaProbe"));
}

}  // namespace devmem::js

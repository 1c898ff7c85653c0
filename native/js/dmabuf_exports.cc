// SPDX-License-Identifier: MIT
//
// dma-buf allocation and the CPU mapping object. The mapping never hands JS a
// long-lived pointer: copies go through read/write, and zero-copy access is a
// view that exists only inside a sync bracket and is detached afterwards.
#include <napi.h>

#include <fcntl.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "dmabuf/alloc.h"
#include "dmabuf/mapping.h"
#include "gpu/drm.h"
#include "js/addon_data.h"
#include "js/args.h"
#include "js/errors.h"

namespace devmem::js {

namespace {

dmabuf::Access AccessArg(Napi::Env env, Napi::Value v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "read") return dmabuf::Access::kRead;
  if (s == "write") return dmabuf::Access::kWrite;
  if (s == "readwrite") return dmabuf::Access::kReadWrite;
  throw Napi::TypeError::New(env, "access must be 'read', 'write' or 'readwrite'");
}

Napi::Value AllocUdmabuf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = SizeArg(env, info[0], "size");
  Failure f;
  int fd = dmabuf::AllocUdmabuf(size, info[1].ToBoolean(), &f);
  if (fd < 0) throw MakeError(env, f);
  AddonData::Get(env).owned_fds.insert(fd);
  return Napi::Number::New(env, fd);
}

Napi::Value AllocDmaHeap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "heap must be a string");
  uint64_t size = SizeArg(env, info[1], "size");
  Failure f;
  int fd = dmabuf::AllocDmaHeap(info[0].As<Napi::String>().Utf8Value(), size, &f);
  if (fd < 0) throw MakeError(env, f);
  AddonData::Get(env).owned_fds.insert(fd);
  return Napi::Number::New(env, fd);
}

// allocDrm(size, node: string) -> { fd, size, node, driver }; node '' picks the first card that can.
Napi::Value AllocDrm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = SizeArg(env, info[0], "size");
  if (!info[1].IsString()) throw Napi::TypeError::New(env, "device must be a string");
  gpu::DrmBuffer buf;
  Failure f;
  if (!gpu::AllocDrm(info[1].As<Napi::String>().Utf8Value(), size, &buf, &f)) throw MakeError(env, f);
  AddonData::Get(env).owned_fds.insert(buf.fd);
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", buf.fd);
  o.Set("size", Napi::Number::New(env, static_cast<double>(buf.size)));
  o.Set("node", buf.node);
  o.Set("driver", buf.driver);
  return o;
}

// drmNodes() -> [{ path, render, readable, driver, dumbBuffers: boolean | null }]
Napi::Value DrmNodes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<gpu::DrmNode> nodes = gpu::ListDrmNodes();
  Napi::Array out = Napi::Array::New(env, nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const gpu::DrmNode& n = nodes[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("path", n.path);
    o.Set("render", n.render);
    o.Set("readable", n.readable);
    o.Set("driver", n.driver.empty() ? env.Null() : Napi::String::New(env, n.driver));
    o.Set("dumbBuffers", n.dumb_buffers < 0 ? env.Null() : Napi::Boolean::New(env, n.dumb_buffers == 1));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// dupCloexec(fd) -> a new close-on-exec fd for the same open file.
Napi::Value DupCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  int fd = ::fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    Failure f{errno, "fcntl", "cannot duplicate the fd", std::nullopt, ""};
    throw MakeError(env, f);
  }
  AddonData::Get(env).owned_fds.insert(fd);
  return Napi::Number::New(env, fd);
}

// adoptFd(fd): the caller gave this fd to a DmaBuf (takeOwnership).
Napi::Value AdoptFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  AddonData::Get(env).owned_fds.insert(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

// closeOwnedFd(fd): closes an fd this environment owns. An fd it does not
// own is left alone: closing a number twice could close someone else's file.
Napi::Value CloseOwnedFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (AddonData::Get(env).owned_fds.erase(fd) == 0) return Napi::Boolean::New(env, false);
  ::close(fd);
  return Napi::Boolean::New(env, true);
}

class MappingObject : public Napi::ObjectWrap<MappingObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeMapping",
        {InstanceMethod<&MappingObject::Read>("read"), InstanceMethod<&MappingObject::Write>("write"),
         InstanceMethod<&MappingObject::WithView>("withView"), InstanceMethod<&MappingObject::Unmap>("unmap"),
         InstanceAccessor<&MappingObject::GetSize>("size")});
  }

  // new NativeMapping(fd, size)
  explicit MappingObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MappingObject>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
    int fd = info[0].As<Napi::Number>().Int32Value();
    uint64_t size = SizeArg(env, info[1], "size");
    Failure f;
    if (!map_.Map(fd, size, &f)) throw MakeError(env, f);
  }

 private:
  void CheckRange(Napi::Env env, uint64_t offset, uint64_t length) {
    if (!map_.Mapped()) throw Napi::Error::New(env, "the dma-buf mapping is closed");
    js::CheckRange(env, offset, length, map_.Size());
  }

  void Sync(Napi::Env env, bool begin, dmabuf::Access a) {
    Failure f;
    if (!(begin ? map_.Begin(a, &f) : map_.End(a, &f))) throw MakeError(env, f);
  }

  // read(offset, target: Uint8Array): copies target.length bytes out.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset = SizeArg(env, info[0], "offset");
    auto target = BytesArg(env, info[1], "target");
    CheckRange(env, offset, target.ByteLength());
    Sync(env, true, dmabuf::Access::kRead);
    std::memcpy(target.Data(), map_.Data() + offset, target.ByteLength());
    Sync(env, false, dmabuf::Access::kRead);
    return env.Undefined();
  }

  // write(offset, source: Uint8Array)
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset = SizeArg(env, info[0], "offset");
    auto src = BytesArg(env, info[1], "data");
    CheckRange(env, offset, src.ByteLength());
    Sync(env, true, dmabuf::Access::kWrite);
    std::memcpy(map_.Data() + offset, src.Data(), src.ByteLength());
    Sync(env, false, dmabuf::Access::kWrite);
    return env.Undefined();
  }

  // withView(offset, length, access, fn): fn(Uint8Array) runs between sync
  // START and END on a zero-copy view, which is detached when fn returns so
  // that no reference to the mapping can outlive the bracket.
  Napi::Value WithView(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset = SizeArg(env, info[0], "offset");
    uint64_t length = SizeArg(env, info[1], "length");
    dmabuf::Access access = AccessArg(env, info[2]);
    if (!info[3].IsFunction()) throw Napi::TypeError::New(env, "fn must be a function");
    CheckRange(env, offset, length);
    Sync(env, true, access);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, map_.Data() + offset, length);
    Napi::Value result;
    try {
      result = info[3].As<Napi::Function>().Call({Napi::Uint8Array::New(env, length, ab, 0)});
    } catch (...) {
      ab.Detach();
      Failure f;
      map_.End(access, &f);
      throw;
    }
    ab.Detach();
    Sync(env, false, access);
    return result;
  }

  Napi::Value Unmap(const Napi::CallbackInfo& info) {
    map_.Unmap();
    return info.Env().Undefined();
  }

  Napi::Value GetSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(map_.Size()));
  }

  dmabuf::Mapping map_;
};

}  // namespace

void InitDmabuf(Napi::Env env, Napi::Object exports) {
  exports.Set("allocUdmabuf", Napi::Function::New(env, AllocUdmabuf, "allocUdmabuf"));
  exports.Set("allocDmaHeap", Napi::Function::New(env, AllocDmaHeap, "allocDmaHeap"));
  exports.Set("allocDrm", Napi::Function::New(env, AllocDrm, "allocDrm"));
  exports.Set("drmNodes", Napi::Function::New(env, DrmNodes, "drmNodes"));
  exports.Set("dupCloexec", Napi::Function::New(env, DupCloexec, "dupCloexec"));
  exports.Set("adoptFd", Napi::Function::New(env, AdoptFd, "adoptFd"));
  exports.Set("closeOwnedFd", Napi::Function::New(env, CloseOwnedFd, "closeOwnedFd"));
  exports.Set("NativeMapping", MappingObject::Define(env));
}

}  // namespace devmem::js

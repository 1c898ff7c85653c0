// SPDX-License-Identifier: MIT
#include "js/zcrx_object.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "js/addon_data.h"
#include "js/args.h"
#include "js/errors.h"

namespace devmem::js {

namespace {

uint32_t U32(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(env, std::string(key) + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(d);
}

// zcrxFeatures() -> what this build and kernel offer, without registering anything.
Napi::Value Features(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  zcrx::Features f = zcrx::Probe();
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", f.built);
  o.Set("ring", f.ring);
  o.Set("zcrxErrno", f.zcrx_errno);
  o.Set("disabled", f.disabled);
  o.Set("query", f.query);
  o.Set("rxBufLen", f.rx_buf_len);
  o.Set("events", f.events);
  return o;
}

}  // namespace

Napi::Function ZcrxQueueObject::Define(Napi::Env env) {
  return DefineClass(
      env, "NativeZcrxQueue",
      {InstanceMethod<&ZcrxQueueObject::Close>("close"), InstanceMethod<&ZcrxQueueObject::Info>("info"),
       InstanceMethod<&ZcrxQueueObject::Stats>("stats"), InstanceMethod<&ZcrxQueueObject::HostArea>("hostArea"),
       InstanceMethod<&ZcrxQueueObject::Ref>("ref"), InstanceMethod<&ZcrxQueueObject::Unref>("unref")});
}

// new NativeZcrxQueue({ ifindex, queue, rqEntries, rxBufLen, dmabufFd (-1: host memory), areaSize })
ZcrxQueueObject::ZcrxQueueObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ZcrxQueueObject>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "NativeZcrxQueue needs an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  zcrx::RingConfig c;
  c.ifindex = U32(env, o, "ifindex");
  c.queue = U32(env, o, "queue");
  c.rq_entries = U32(env, o, "rqEntries");
  c.rx_buf_len = U32(env, o, "rxBufLen");
  Napi::Value fd = o.Get("dmabufFd");
  c.dmabuf_fd = fd.IsNumber() ? fd.As<Napi::Number>().Int32Value() : -1;
  c.area_size = SizeArg(env, o.Get("areaSize"), "areaSize");
  Failure f;
  hub_ = zcrx::Hub::Open(c, &f);
  if (!hub_) throw MakeError(env, f);
  // The poller owns (and closes) its fd: a duplicate of the ring's eventfd.
  int efd = ::dup(hub_->ring().EventFd());
  if (efd < 0) {
    hub_->Close();
    throw MakeError(env, Failure{errno, "dup", "cannot watch the zcrx ring's eventfd", std::nullopt, ""});
  }
  poller_ = MakeEnvPoller(
      env, efd, [this](int, int) { OnReadable(); }, [this] { CloseNow(); });
  poller_->Watch(UV_READABLE);
  Napi::ObjectWrap<ZcrxQueueObject>::Ref();  // an open queue keeps its object alive
}

ZcrxQueueObject::~ZcrxQueueObject() { CloseNow(); }

std::shared_ptr<zcrx::Hub> ZcrxQueueObject::HubOf(Napi::Env env, Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(AddonData::Get(env).zcrx_queue_ctor.Value())) {
    Napi::TypeError::New(env, "zcrx must be a ZcrxQueue (openZcrx())").ThrowAsJavaScriptException();
    return nullptr;
  }
  ZcrxQueueObject* q = Unwrap(v.As<Napi::Object>());
  if (!q->hub_ || q->hub_->Closed()) {
    MakeError(env, Failure{0, "", "the zcrx queue is closed: open another with openZcrx()", std::nullopt, "CLOSED"})
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  return q->hub_;
}

void ZcrxQueueObject::OnReadable() {
  // A ring that fails fails its sockets (Hub::Pump), which report the errno.
  if (hub_ && !hub_->Closed()) (void)hub_->Pump();
}

void ZcrxQueueObject::CloseNow() {
  if (poller_) poller_->Close();
  poller_.reset();
  if (hub_) hub_->Close();
}

Napi::Value ZcrxQueueObject::Close(const Napi::CallbackInfo& info) {
  if (poller_) {
    CloseNow();
    Napi::ObjectWrap<ZcrxQueueObject>::Unref();
  }
  return info.Env().Undefined();
}

Napi::Value ZcrxQueueObject::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  zcrx::Ring& r = hub_->ring();
  o.Set("zcrxId", r.ZcrxId());
  o.Set("rxBufLen", r.RxBufLen());
  o.Set("rqEntries", r.RqEntries());
  o.Set("areaSize", static_cast<double>(r.AreaSize()));
  o.Set("copyStats", r.HasStats());
  o.Set("closed", hub_->Closed());
  return o;
}

Napi::Value ZcrxQueueObject::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const zcrx::HubStats& s = hub_->stats();
  auto set = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  set("pumps", s.pumps);
  set("completions", s.completions);
  set("dataCompletions", s.data_completions);
  set("bytes", s.bytes);
  set("copiedBytes", s.copied_bytes);
  set("unattributedCopyBytes", s.unattributed_copy_bytes);
  set("returnedBuffers", s.returned_buffers);
  set("rearms", s.rearms);
  set("pauses", s.pauses);
  set("allocFailEvents", s.alloc_fail_events);
  set("copyEvents", s.copy_events);
  set("sockets", hub_->Sockets());
  set("refillBacklog", hub_->ring().Backlog());
  uapi::ZcrxStats k = hub_->ring().Stats();
  set("kernelCopyCount", k.copy_count);
  set("kernelCopyBytes", k.copy_bytes);
  return o;
}

// The host-memory area as a Buffer over the mapping (undefined for a dma-buf
// area). The Buffer keeps the mapping alive, past close(), until it is collected.
Napi::Value ZcrxQueueObject::HostArea(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  zcrx::Ring& r = hub_->ring();
  if (!r.HostArea()) return env.Undefined();
  auto* keep = new std::shared_ptr<zcrx::Hub>(hub_);
  return Napi::Buffer<uint8_t>::New(
      env, r.HostArea(), static_cast<size_t>(r.AreaSize()),
      [](Napi::Env, uint8_t*, std::shared_ptr<zcrx::Hub>* k) { delete k; }, keep);
}

Napi::Value ZcrxQueueObject::Ref(const Napi::CallbackInfo& info) {
  if (poller_) poller_->Ref();
  return info.Env().Undefined();
}

Napi::Value ZcrxQueueObject::Unref(const Napi::CallbackInfo& info) {
  if (poller_) poller_->Unref();
  return info.Env().Undefined();
}

void InitZcrx(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = ZcrxQueueObject::Define(env);
  AddonData::Get(env).zcrx_queue_ctor = Napi::Persistent(ctor);
  exports.Set("NativeZcrxQueue", ctor);
  exports.Set("zcrxFeatures", Napi::Function::New(env, Features, "zcrxFeatures"));
}

}  // namespace devmem::js

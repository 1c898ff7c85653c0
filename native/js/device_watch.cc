// SPDX-License-Identifier: MIT
#include "js/device_watch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "common/failure.h"
#include "js/addon_data.h"
#include "js/callback.h"
#include "js/errors.h"
#include "netlink/device_events.h"

namespace devmem::js {

namespace {
// Notifications are small (one device per message); this holds a burst.
constexpr size_t kRecvBuf = 32 * 1024;
// A read loop bound per readiness event, so a storm of notifications cannot
// starve the event loop; the rest is read on the next turn.
constexpr int kMaxReadsPerEvent = 64;
}  // namespace

Napi::Function DeviceWatchObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeDeviceWatch", {InstanceMethod<&DeviceWatchObject::Close>("close")});
}

DeviceWatchObject::DeviceWatchObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceWatchObject>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction())
    throw Napi::TypeError::New(env, "NativeDeviceWatch(familyId, groupId, callback)");
  family_id_ = static_cast<uint16_t>(info[0].As<Napi::Number>().Uint32Value());
  uint32_t group = info[1].As<Napi::Number>().Uint32Value();

  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_GENERIC);
  if (fd < 0)
    throw MakeError(env, Failure{errno, "socket", "cannot open a netlink socket to watch devices", std::nullopt});
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) < 0 ||
      ::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
    Failure f{errno, "setsockopt", "cannot join the netdev \"mgmt\" multicast group", std::nullopt};
    ::close(fd);
    throw MakeError(env, f);
  }

  poller_ = MakeEnvPoller(
      env, fd, [this](int, int) { OnReadable(); },
      [this] {
        js_gone_ = true;
        CloseNow();
      });
  poller_->Unref();
  poller_->Watch(UV_READABLE);
  callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "devmem:device-watch");
  AddonData::Get(env).device_watches.insert(this);
  Ref();  // open: the watch outlives the JS handle the caller may drop
}

DeviceWatchObject::~DeviceWatchObject() { CloseNow(); }

void DeviceWatchObject::CloseNow() {
  if (!poller_) return;
  poller_->Close();
  poller_.reset();
  if (!js_gone_) {
    AddonData::Get(Env()).device_watches.erase(this);
    Unref();
  }
}

Napi::Value DeviceWatchObject::Close(const Napi::CallbackInfo& info) {
  CloseNow();
  return info.Env().Undefined();
}

void DeviceWatchObject::Emit(napi_value arg) {
  if (js_gone_ || callback_.IsEmpty()) return;
  if (CallFromLoop(Env(), Value(), callback_.Value(), *async_context_, {arg}) == CallResult::kJsGone) {
    js_gone_ = true;
    CloseNow();
  }
}

void DeviceWatchObject::OnReadable() {
  if (!poller_) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  std::vector<uint8_t> buf(kRecvBuf);
  nl::DeviceEvents ev;
  bool overrun = false;
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    ssize_t n = ::recv(poller_->Fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      // ENOBUFS: the socket's buffer overflowed and notifications were lost.
      if (errno == ENOBUFS) overrun = true;
      break;
    }
    nl::ParseDeviceEvents(buf.data(), static_cast<size_t>(n), family_id_, &ev);
  }
  if (!ev.removed.empty()) {
    Napi::Uint32Array arr = Napi::Uint32Array::New(env, ev.removed.size());
    std::memcpy(arr.Data(), ev.removed.data(), ev.removed.size() * sizeof(uint32_t));
    Emit(arr);
  }
  if (overrun && poller_) Emit(env.Null());
}

namespace {

// testing.parseDeviceEvents(datagram, familyId) -> { removed, malformed }
Napi::Value TestParseDeviceEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "parseDeviceEvents(datagram: Uint8Array, familyId: number)");
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  nl::DeviceEvents ev;
  nl::ParseDeviceEvents(bytes.Data(), bytes.ByteLength(),
                        static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value()), &ev);
  Napi::Array removed = Napi::Array::New(env, ev.removed.size());
  for (size_t i = 0; i < ev.removed.size(); ++i) removed.Set(static_cast<uint32_t>(i), ev.removed[i]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("removed", removed);
  out.Set("malformed", ev.malformed);
  return out;
}

}  // namespace

void InitDeviceWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeDeviceWatch", DeviceWatchObject::Define(env));
  exports.Get("testing").As<Napi::Object>().Set("parseDeviceEvents",
                                                Napi::Function::New(env, TestParseDeviceEvents, "parseDeviceEvents"));
}

}  // namespace devmem::js

// SPDX-License-Identifier: MIT
#include <napi.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/reasons.h"
#include "js/addon_data.h"
#include "js/binding_object.h"
#include "js/device_watch.h"
#include "js/netlink_exports.h"
#include "js/socket_object.h"
#include "uapi/devmem_uapi.h"

namespace devmem::js {
AddonData::~AddonData() {
  for (auto& w : binding_sockets)
    if (auto s = w.lock()) s->Close();
  std::set<SocketObject*> open;
  open.swap(sockets);
  for (SocketObject* s : open) {
    s->ForgetAddonData();
    s->CloseNow();
  }
  std::set<DeviceWatchObject*> watches;
  watches.swap(device_watches);
  for (DeviceWatchObject* w : watches) w->Teardown();
  for (int fd : owned_fds) ::close(fd);
}
void InitEthtool(Napi::Env env, Napi::Object exports);
void InitDmabuf(Napi::Env env, Napi::Object exports);
void InitGpu(Napi::Env env, Napi::Object exports);
void InitZcrx(Napi::Env env, Napi::Object exports);
void InitRxTesting(Napi::Env env, Napi::Object testing);
void InitLayoutTesting(Napi::Env env, Napi::Object testing);
}  // namespace devmem::js

namespace {

Napi::Object Constants(Napi::Env env) {
  namespace u = devmem::uapi;
  Napi::Object c = Napi::Object::New(env);
  c.Set("SO_DEVMEM_LINEAR", u::kSoDevmemLinear);
  c.Set("SO_DEVMEM_DMABUF", u::kSoDevmemDmabuf);
  c.Set("SO_DEVMEM_DONTNEED", u::kSoDevmemDontneed);
  c.Set("MSG_SOCK_DEVMEM", u::kMsgSockDevmem);
  c.Set("CMSG_SPACE_DMABUF", static_cast<uint32_t>(CMSG_SPACE(sizeof(u::DmabufCmsg))));
  c.Set("CMSG_LEN_DMABUF", static_cast<uint32_t>(CMSG_LEN(sizeof(u::DmabufCmsg))));
  c.Set("PAGE_SIZE", static_cast<double>(sysconf(_SC_PAGESIZE)));
  c.Set("DMABUF_CMSG_SIZE", static_cast<uint32_t>(sizeof(u::DmabufCmsg)));
  c.Set("DMABUF_TOKEN_SIZE", static_cast<uint32_t>(sizeof(u::DmabufToken)));
  c.Set("MAX_DONTNEED_TOKENS", u::kMaxDontneedTokens);
  c.Set("MAX_DONTNEED_FRAGS", u::kMaxDontneedFrags);
  c.Set("IFF_LOOPBACK", u::rtnl::kIffLoopback);
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new devmem::js::AddonData());
  devmem::js::InitNetlink(env, exports);
  devmem::js::InitBindings(env, exports);
  devmem::js::InitEthtool(env, exports);
  devmem::js::InitDmabuf(env, exports);
  devmem::js::InitGpu(env, exports);
  devmem::js::InitZcrx(env, exports);
  devmem::js::InitSockets(env, exports);
  devmem::js::InitDeviceWatch(env, exports);
  devmem::js::InitRxTesting(env, exports.Get("testing").As<Napi::Object>());
  devmem::js::InitBindingTesting(env, exports.Get("testing").As<Napi::Object>());
  devmem::js::InitLayoutTesting(env, exports.Get("testing").As<Napi::Object>());
  exports.Set("constants", Constants(env));
  Napi::Array hints = Napi::Array::New(env);
  for (const char* r : devmem::reasons::kAllReasons) hints.Set(hints.Length(), r);
  exports.Set("reasonHints", hints);
  return exports;
}

}  // namespace

NODE_API_MODULE(devmem_tcp, Init)

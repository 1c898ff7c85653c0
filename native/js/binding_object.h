// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_BINDING_OBJECT_H_
#define DEVMEM_TCP_JS_BINDING_OBJECT_H_

#include <napi.h>

#include <memory>
#include <string>

#include "netlink/socket.h"

namespace devmem::js {

// A dma-buf binding (bind-rx or bind-tx). It owns the netlink socket that
// created it, and close() is the unbind (see docs/kernel-notes.md#binding-lifetime).
// While open it holds a strong
// reference to itself, so the garbage collector can never unbind behind the
// back of a user who kept only the numeric id.
class BindingObject : public Napi::ObjectWrap<BindingObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BindingObject(const Napi::CallbackInfo& info);

  void Adopt(std::shared_ptr<nl::NetlinkSocket> sock, uint32_t id, uint32_t ifindex, std::string kind);

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetId(const Napi::CallbackInfo& info);
  Napi::Value GetIfindex(const Napi::CallbackInfo& info);
  Napi::Value GetKind(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  std::shared_ptr<nl::NetlinkSocket> sock_;
  uint32_t id_ = 0;
  uint32_t ifindex_ = 0;
  std::string kind_;
};

void InitBindings(Napi::Env env, Napi::Object exports);
void InitBindingTesting(Napi::Env env, Napi::Object testing);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_BINDING_OBJECT_H_

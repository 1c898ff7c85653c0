// SPDX-License-Identifier: MIT
#include "js/binding_object.h"

#include <linux/genetlink.h>

#include <algorithm>
#include <cstring>

#include "js/addon_data.h"
#include "js/errors.h"
#include "js/netlink_exports.h"
#include "js/promise_worker.h"
#include "netlink/attr.h"
#include "netlink/transact.h"
#include "uapi/devmem_uapi.h"

namespace devmem::js {

Napi::Function BindingObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeBinding",
                     {
                         InstanceMethod<&BindingObject::Close>("close"),
                         InstanceAccessor<&BindingObject::GetId>("id"),
                         InstanceAccessor<&BindingObject::GetIfindex>("ifindex"),
                         InstanceAccessor<&BindingObject::GetKind>("kind"),
                         InstanceAccessor<&BindingObject::GetClosed>("closed"),
                     });
}

BindingObject::BindingObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BindingObject>(info) {}

void BindingObject::Adopt(std::shared_ptr<nl::NetlinkSocket> sock, uint32_t id, uint32_t ifindex, std::string kind) {
  sock_ = std::move(sock);
  id_ = id;
  ifindex_ = ifindex;
  kind_ = std::move(kind);
  Ref();
}

Napi::Value BindingObject::Close(const Napi::CallbackInfo& info) {
  if (sock_ && sock_->Fd() >= 0) {
    sock_->Close();  // the kernel unbinds when the last reference to the socket goes
    // Teardown need not close it any more: forget it, and any entry whose
    // socket is already gone, so the list holds only open bindings.
    auto& open = AddonData::Get(info.Env()).binding_sockets;
    open.erase(std::remove_if(open.begin(), open.end(),
                              [&](const std::weak_ptr<nl::NetlinkSocket>& w) {
                                auto s = w.lock();
                                return !s || s == sock_;
                              }),
               open.end());
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value BindingObject::GetId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }
Napi::Value BindingObject::GetIfindex(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ifindex_);
}
Napi::Value BindingObject::GetKind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kind_); }
Napi::Value BindingObject::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !sock_ || sock_->Fd() < 0);
}

namespace {

// The bind transaction on its own socket: on success *id is the binding id and
// the socket holds the binding; on failure the socket is closed, so nothing
// stays half-bound.
bool ExecuteBind(nl::NetlinkSocket* sock, nl::PreparedRequest& req, uint32_t* id, Failure* f) {
  std::vector<nl::ReplyMessage> replies;
  if (!nl::Execute(sock, req, &replies, f)) {
    sock->Close();
    return false;
  }
  for (const auto& m : replies) {
    if (m.payload.size() < GENL_HDRLEN) continue;
    nl::ForEachAttr(m.payload.data() + GENL_HDRLEN, m.payload.size() - GENL_HDRLEN, [&](const nl::AttrView& a) {
      if (a.type == uapi::netdev::kDmabufId && a.len == 4) *id = nl::LoadUnaligned<uint32_t>(a.data);
      return true;
    });
  }
  if (*id == 0) {
    sock->Close();
    *f = {EPROTO, "netlink", "the kernel accepted the binding but returned no binding id", std::nullopt, ""};
    return false;
  }
  return true;
}

struct BindCall {
  std::string cmd;
  uint32_t ifindex;
  nl::PreparedRequest req;
};

BindCall ParseBindCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "bind command must be a string");
  std::string cmd = info[0].As<Napi::String>().Utf8Value();
  if (cmd != "bind-rx" && cmd != "bind-tx") throw Napi::TypeError::New(env, "bind command must be bind-rx or bind-tx");
  nl::PreparedRequest req = PrepareFromJs(env, Napi::String::New(env, "netdev"), info[0], info[1], false);
  uint32_t ifindex = info[1].As<Napi::Object>().Get("ifindex").As<Napi::Number>().Uint32Value();
  return {std::move(cmd), ifindex, std::move(req)};
}

Napi::Value WrapBinding(Napi::Env env, std::shared_ptr<nl::NetlinkSocket> sock, uint32_t id, uint32_t ifindex,
                        const std::string& cmd) {
  AddonData& data = AddonData::Get(env);
  Napi::Object obj = data.binding_ctor.New({});
  BindingObject::Unwrap(obj)->Adopt(sock, id, ifindex, cmd == "bind-rx" ? "rx" : "tx");
  data.binding_sockets.push_back(sock);
  return obj;
}

// bind(command: "bind-rx" | "bind-tx", attrs) -> Promise<NativeBinding>
Napi::Value Bind(const Napi::CallbackInfo& info) {
  auto call = std::make_shared<BindCall>(ParseBindCall(info));
  auto sock = std::make_shared<nl::NetlinkSocket>();
  auto id = std::make_shared<uint32_t>(0);
  return PromiseWorker::Start(
      info.Env(), "devmem:bind",
      [call, sock, id](Failure* f) { return ExecuteBind(sock.get(), call->req, id.get(), f); },
      [call, sock, id](Napi::Env e) -> Napi::Value { return WrapBinding(e, sock, *id, call->ifindex, call->cmd); });
}

// bindSync(command, attrs) -> NativeBinding: the same on the calling thread.
// NicConfig binds this way so that no signal handler can ever run between the
// kernel taking the binding and its unbind being on the undo stack.
Napi::Value BindSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BindCall call = ParseBindCall(info);
  auto sock = std::make_shared<nl::NetlinkSocket>();
  uint32_t id = 0;
  Failure f;
  if (!ExecuteBind(sock.get(), call.req, &id, &f)) throw MakeError(env, f);
  return WrapBinding(env, sock, id, call.ifindex, call.cmd);
}

}  // namespace

void InitBindingTesting(Napi::Env env, Napi::Object testing) {
  // trackedBindings() -> number: bindings the environment would close at teardown.
  testing.Set("trackedBindings", Napi::Function::New(
                                     env,
                                     [](const Napi::CallbackInfo& info) -> Napi::Value {
                                       return Napi::Number::New(
                                           info.Env(),
                                           static_cast<double>(AddonData::Get(info.Env()).binding_sockets.size()));
                                     },
                                     "trackedBindings"));
}

void InitBindings(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = BindingObject::Define(env);
  AddonData::Get(env).binding_ctor = Napi::Persistent(ctor);
  exports.Set("NativeBinding", ctor);
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("bindSync", Napi::Function::New(env, BindSync, "bindSync"));
}

}  // namespace devmem::js

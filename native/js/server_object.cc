// SPDX-License-Identifier: MIT
//
// Listening: the native server object, which accepts connections as native
// sockets on the loop of the thread that made it.
#include "js/socket_object.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "js/addon_data.h"
#include "js/callback.h"
#include "js/errors.h"
#include "net/address.h"

namespace devmem::js {

namespace {

class ServerObject : public Napi::ObjectWrap<ServerObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeServer",
        {InstanceMethod<&ServerObject::Listen>("listen"), InstanceMethod<&ServerObject::SetCallback>("setCallback"),
         InstanceMethod<&ServerObject::Watch>("watch"), InstanceMethod<&ServerObject::Close>("close"),
         InstanceMethod<&ServerObject::Ref>("ref"), InstanceMethod<&ServerObject::Unref>("unref"),
         InstanceMethod<&ServerObject::Address>("address")});
  }
  explicit ServerObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ServerObject>(info) {}
  ~ServerObject() override { CloseNow(); }

  void CloseNow() {
    if (poller_) poller_->Close();
    poller_.reset();
    callback_.Reset();  // see SocketObject::CloseNow
  }

 private:
  // listen({ host, port, ipv6only, reusePort, backlog })
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    net::SocketAddress addr;
    std::string host = o.Get("host").As<Napi::String>().Utf8Value();
    uint16_t port = static_cast<uint16_t>(o.Get("port").As<Napi::Number>().Uint32Value());
    if (!net::ParseAddress(host, port, &addr)) throw Napi::TypeError::New(env, "host must be an IP address");
    int fd = ::socket(addr.Family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw MakeError(env, {errno, "socket", "cannot create the listening socket", std::nullopt, ""});
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (o.Get("reusePort").ToBoolean()) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (addr.Family() == AF_INET6) {
      int v6only = o.Get("ipv6only").ToBoolean() ? 1 : 0;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }
    // Accepted sockets inherit the buffer size, and with it their window scale.
    if (o.Get("receiveBufferSize").IsNumber()) {
      int rcvbuf = o.Get("receiveBufferSize").As<Napi::Number>().Int32Value();
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    int backlog = o.Get("backlog").IsNumber() ? o.Get("backlog").As<Napi::Number>().Int32Value() : 511;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr.storage), addr.length) < 0 || ::listen(fd, backlog) < 0) {
      Failure f{errno, "listen", "cannot listen on " + host + ":" + std::to_string(port), std::nullopt, ""};
      ::close(fd);
      throw MakeError(env, f);
    }
    poller_ = MakeEnvPoller(
        env, fd, [this](int, int) { OnReadable(); }, [this] { CloseNow(); });
    async_context_ = std::make_unique<Napi::AsyncContext>(env, "devmem:server");
    Napi::ObjectWrap<ServerObject>::Ref();
    return env.Undefined();
  }

  void OnReadable() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (int i = 0; i < 64 && poller_; ++i) {
      int fd = ::accept4(poller_->Fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) break;
        Failure f{errno, "accept4", "accept failed", std::nullopt, ""};
        if (CallFromLoop(env, Value(), callback_.Value(), *async_context_,
                         {Napi::String::New(env, "error"), MakeError(env, f).Value()}) == CallResult::kJsGone)
          CloseNow();
        break;
      }
      Napi::Object sock = AddonData::Get(env).socket_ctor.New({});
      SocketObject::Unwrap(sock)->Adopt(env, fd, false);
      if (CallFromLoop(env, Value(), callback_.Value(), *async_context_,
                       {Napi::String::New(env, "connection"), sock}) == CallResult::kJsGone) {
        CloseNow();
        return;
      }
    }
  }

  Napi::Value SetCallback(const Napi::CallbackInfo& info) {
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }
  // watch(bool): accept only while JS has room for connections; otherwise
  // the kernel's backlog holds them.
  Napi::Value Watch(const Napi::CallbackInfo& info) {
    if (poller_) poller_->Watch(info[0].ToBoolean() ? UV_READABLE : 0);
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (poller_) {
      CloseNow();
      Napi::ObjectWrap<ServerObject>::Unref();
    }
    return info.Env().Undefined();
  }
  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poller_) poller_->Ref();
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poller_) poller_->Unref();
    return info.Env().Undefined();
  }
  Napi::Value Address(const Napi::CallbackInfo& info) {
    return AddressOf(info.Env(), poller_ ? poller_->Fd() : -1, ::getsockname);
  }

  std::unique_ptr<UvPoller> poller_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

}  // namespace

Napi::Function DefineServerObject(Napi::Env env) { return ServerObject::Define(env); }

}  // namespace devmem::js

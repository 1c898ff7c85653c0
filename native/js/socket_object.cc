// SPDX-License-Identifier: MIT
//
// The native socket object: its class definition, lifetime (adopt, close,
// reset, ref/unref), readiness dispatch, events, stats and addresses. The
// receive path is in socket_receive.cc, transmit in socket_transmit.cc,
// connecting in socket_connect.cc and listening in server_object.cc.
#include "js/socket_object.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "js/addon_data.h"
#include "js/callback.h"
#include "js/errors.h"
#include "net/address.h"
#include "net/incoming_napi.h"
#include "uapi/devmem_uapi.h"

namespace devmem::js {

Napi::Function SocketObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeSocket",
                     {
                         InstanceMethod<&SocketObject::SetCallback>("setCallback"),
                         InstanceMethod<&SocketObject::SetBinding>("setBinding"),
                         InstanceMethod<&SocketObject::AttachZcrx>("attachZcrx"),
                         InstanceMethod<&SocketObject::SetLimits>("setLimits"),
                         InstanceMethod<&SocketObject::BorrowLinear>("borrowLinear"),
                         InstanceMethod<&SocketObject::Coalesce>("coalesce"),
                         InstanceMethod<&SocketObject::Resume>("resume"),
                         InstanceMethod<&SocketObject::Pause>("pause"),
                         InstanceMethod<&SocketObject::Release>("release"),
                         InstanceMethod<&SocketObject::Close>("close"),
                         InstanceMethod<&SocketObject::Reset>("reset"),
                         InstanceMethod<&SocketObject::Shutdown>("shutdown"),
                         InstanceMethod<&SocketObject::Send>("send"),
                         InstanceMethod<&SocketObject::WaitWritable>("waitWritable"),
                         InstanceMethod<&SocketObject::EnableZerocopy>("enableZerocopy"),
                         InstanceMethod<&SocketObject::SendDmabuf>("sendDmabuf"),
                         InstanceMethod<&SocketObject::Ref>("ref"),
                         InstanceMethod<&SocketObject::Unref>("unref"),
                         InstanceMethod<&SocketObject::Stats>("stats"),
                         InstanceMethod<&SocketObject::Address>("address"),
                         InstanceMethod<&SocketObject::RemoteAddress>("remoteAddress"),
                         InstanceAccessor<&SocketObject::GetFd>("fd"),
                     });
}

SocketObject::SocketObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SocketObject>(info) {}

SocketObject::~SocketObject() { CloseNow(); }

void SocketObject::Adopt(Napi::Env env, int fd, bool connecting) {
  poller_ = MakeEnvPoller(
      env, fd, [this](int status, int events) { OnPoll(status, events); },
      [this] {
        js_gone_ = true;
        CloseNow();
      });
  connecting_ = connecting;
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "devmem:socket");
  addon_data_ = &AddonData::Get(env);
  addon_data_->sockets.insert(this);
  Napi::ObjectWrap<SocketObject>::Ref();  // an open socket keeps its object alive
  UpdateWatch();
}

void SocketObject::Emit(const char* type, const std::vector<napi_value>& extra) {
  if (callback_.IsEmpty() || js_gone_) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  std::vector<napi_value> args{Napi::String::New(env, type)};
  args.insert(args.end(), extra.begin(), extra.end());
  if (CallFromLoop(env, Value(), callback_.Value(), *async_context_, args) == CallResult::kJsGone) {
    // The environment is going away (a terminated worker): stop reading.
    js_gone_ = true;
    CloseNow();
  }
}

void SocketObject::EmitError(int errnum, const char* syscall, const std::string& message, const char* reason) {
  Failure f{errnum, syscall, message, std::nullopt, reason ? reason : ""};
  Napi::HandleScope scope(Env());
  Emit("error", {MakeError(Env(), f).Value()});
}

void SocketObject::UpdateWatch() {
  if (!poller_ || closed_) return;
  int events = 0;
  if (connecting_ || want_writable_) events |= UV_WRITABLE;
  bool want = !connecting_ && reading_ && !eof_ && !Limited() && !coalescing_;
  if (want && !zcrx_) events |= UV_READABLE;
  // Zerocopy completions arrive as POLLERR, which epoll reports for any
  // registered fd: keep the fd registered (RDHUP is otherwise harmless).
  if (zc_pending_ > 0) events |= UV_DISCONNECT;
  poller_->Watch(events);
}

void SocketObject::OnPoll(int status, int events) {
  if (closed_) return;
  Napi::HandleScope scope(Env());
  if (status < 0) {
    // On POLLERR libuv stops the handle and reports UV_EBADF with no events.
    // POLLERR means zerocopy completions on the error queue, or a socket
    // error, which the syscall that runs next (SO_ERROR, recvmsg) reports.
    poller_->Forget();
    if (zc_enabled_) DrainErrorQueue();
    if (closed_) return;
    if (connecting_) {
      OnConnectReady();
      return;
    }
    if (!reading_) {
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(poller_->Fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
        EmitError(err, "sendmsg", "the connection failed");
        return;
      }
    }
    events = (reading_ ? UV_READABLE : 0) | (want_writable_ ? UV_WRITABLE : 0);
    UpdateWatch();
  }
  if (connecting_) {
    OnConnectReady();
    return;
  }
  if ((events & UV_WRITABLE) && want_writable_) {
    want_writable_ = false;
    UpdateWatch();
    Emit("writable", {});
    if (closed_) return;
  }
  if (events & UV_READABLE) {
    if (coalesce_us_ && last_batch_small_ && StartCoalescing()) return;
    Drain();
  }
}

// send(data: Uint8Array) -> bytes sent, or -1 when the socket buffer is full.
Napi::Value SocketObject::SetCallback(const Napi::CallbackInfo& info) {
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

void SocketObject::CloseNow() {
  if (closed_) return;
  closed_ = true;
  if (addon_data_) addon_data_->sockets.erase(this);
  addon_data_ = nullptr;
  if (poller_) {
    // Explicit release keeps the counters exact; the kernel would free them on
    // close anyway (zcrx: the refill ring takes them, and what was not yet read).
    ReleaseAll();
    if (zcrx_) zcrx_->Detach();
    poller_->Close();
  }
  if (coalesce_timer_) coalesce_timer_->Close();
  coalescing_ = false;
  // The callback closes over the JS socket, which holds this object: kept,
  // that persistent reference would make the pair uncollectable, and every
  // closed socket would keep its receive buffers (2 MiB) forever.
  callback_.Reset();
  // Without JS (teardown) nothing can be detached: each lent block is left
  // to its ArrayBuffer's finalizer. Close() has already taken them back.
  lent_.clear();
  area_.Release();
  std::vector<uint8_t>().swap(control_);
  pending_ = rx::FragmentColumns();
}

Napi::Value SocketObject::Close(const Napi::CallbackInfo& info) {
  // Closing returns every token, so a borrowed `linear` ends with it too.
  while (!lent_.empty()) ReturnLinear(info.Env(), lent_.begin()->first);
  if (!closed_) {
    CloseNow();
    Napi::ObjectWrap<SocketObject>::Unref();
  }
  return info.Env().Undefined();
}

// Close with a RST: SO_LINGER with a zero timeout makes close() abort the
// connection, so the kernel frees its device buffers at once (see
// docs/kernel-notes.md#graceful-close-to-an-unreachable-peer).
Napi::Value SocketObject::Reset(const Napi::CallbackInfo& info) {
  if (poller_ && !closed_) {
    linger l{1, 0};
    ::setsockopt(poller_->Fd(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  return Close(info);
}

Napi::Value SocketObject::Shutdown(const Napi::CallbackInfo& info) {
  if (poller_ && !closed_) ::shutdown(poller_->Fd(), SHUT_WR);
  return info.Env().Undefined();
}

Napi::Value SocketObject::Ref(const Napi::CallbackInfo& info) {
  refd_ = true;
  if (poller_) poller_->Ref();
  if (coalesce_timer_) coalesce_timer_->Ref();
  return info.Env().Undefined();
}

Napi::Value SocketObject::Unref(const Napi::CallbackInfo& info) {
  refd_ = false;
  if (poller_) poller_->Unref();
  if (coalesce_timer_) coalesce_timer_->Unref();
  return info.Env().Undefined();
}

Napi::Value SocketObject::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  set("bytes", stats_.bytes);
  set("fragments", stats_.fragments);
  set("dmabufBytes", stats_.dmabuf_bytes);
  set("linearBytes", stats_.linear_bytes);
  set("hostBytes", stats_.host_bytes);
  set("copiedBytes", stats_.copied_bytes);
  set("outstandingTokens", ledger_.tokens());
  set("outstandingBytes", ledger_.bytes());
  const rx::TokenLedger::Totals& released = ledger_.totals();
  set("releasedTokens", released.released_tokens);
  set("dontneedCalls", released.dontneed_calls);
  set("shortReleases", released.short_releases);
  set("releaseErrors", released.release_errors);
  set("recvmsgCalls", stats_.recvmsg_calls);
  set("eagains", stats_.eagains);
  set("batches", stats_.batches);
  set("controlGrows", stats_.ctrl_grows);
  set("stalls", stats_.stalls);
  set("coalesceWaits", stats_.coalesce_waits);
  set("bytesSent", stats_.tx_bytes);
  set("zerocopySends", stats_.tx_sends);
  set("completions", stats_.tx_completions);
  set("copiedCompletions", stats_.tx_copied_completions);
  set("zerocopyPending", zc_pending_);
  return o;
}

// { address, port, family } of a socket's local (getsockname) or remote
// (getpeername) end, or null when the fd is gone or has none.
Napi::Value AddressOf(Napi::Env env, int fd, int (*get)(int, sockaddr*, socklen_t*)) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (fd < 0 || get(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", net::FormatHost(ss));
  o.Set("port", net::FormatPort(ss));
  o.Set("family", ss.ss_family == AF_INET6 ? "IPv6" : "IPv4");
  return o;
}

Napi::Value SocketObject::Address(const Napi::CallbackInfo& info) {
  return AddressOf(info.Env(), poller_ && !closed_ ? poller_->Fd() : -1, ::getsockname);
}

Napi::Value SocketObject::RemoteAddress(const Napi::CallbackInfo& info) {
  return AddressOf(info.Env(), poller_ && !closed_ ? poller_->Fd() : -1, ::getpeername);
}

Napi::Value SocketObject::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), poller_ && !closed_ ? poller_->Fd() : -1);
}

// ---- server ------------------------------------------------------------------

namespace {

// socketIncomingNapiId(fd) -> the NAPI id of the last packet the socket got (0: none).
Napi::Value IncomingNapiId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t id = 0;
  Failure f;
  if (!net::IncomingNapiId(fd, &id, &f)) throw MakeError(env, f);
  return Napi::Number::New(env, id);
}

}  // namespace

void InitSockets(Napi::Env env, Napi::Object exports) {
  Napi::Function sock = SocketObject::Define(env);
  AddonData::Get(env).socket_ctor = Napi::Persistent(sock);
  exports.Set("NativeSocket", sock);
  exports.Set("NativeServer", DefineServerObject(env));
  exports.Set("connect", Napi::Function::New(env, ConnectSocket, "connect"));
  exports.Set("socketIncomingNapiId", Napi::Function::New(env, IncomingNapiId, "socketIncomingNapiId"));
}

}  // namespace devmem::js

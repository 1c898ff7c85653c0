// SPDX-License-Identifier: MIT
//
// Connecting: the native connect() that makes a socket, and its completion.
#include "js/socket_object.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "js/addon_data.h"
#include "js/errors.h"
#include "net/address.h"

namespace devmem::js {

void SocketObject::OnConnectReady() {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(poller_->Fd(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  connecting_ = false;
  UpdateWatch();
  if (err) {
    Failure f{err, "connect", "cannot connect", std::nullopt, ""};
    Emit("connect", {MakeError(Env(), f).Value()});
  } else {
    Emit("connect", {Env().Null()});
  }
}

// connect({ host, port, localAddress?, localPort?, bindToDevice? }) -> NativeSocket (connecting)
Napi::Value ConnectSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  std::string host = o.Get("host").As<Napi::String>().Utf8Value();
  uint16_t port = static_cast<uint16_t>(o.Get("port").As<Napi::Number>().Uint32Value());
  net::SocketAddress addr;
  if (!net::ParseAddress(host, port, &addr)) throw Napi::TypeError::New(env, "host must be an IP address");
  int fd = ::socket(addr.Family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw MakeError(env, {errno, "socket", "cannot create the socket", std::nullopt, ""});
  auto fail = [&](const char* syscall, const std::string& what) {
    Failure f{errno, syscall, what, std::nullopt, ""};
    ::close(fd);
    throw MakeError(env, f);
  };
  if (o.Get("receiveBufferSize").IsNumber()) {
    int rcvbuf = o.Get("receiveBufferSize").As<Napi::Number>().Int32Value();
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
      fail("setsockopt", "cannot set SO_RCVBUF");
  }
  Napi::Value dev = o.Get("bindToDevice");
  if (dev.IsString()) {
    std::string name = dev.As<Napi::String>().Utf8Value();
    if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name.c_str(), static_cast<socklen_t>(name.size() + 1)) < 0)
      fail("setsockopt", "cannot bind the socket to device " + name);
  }
  Napi::Value la = o.Get("localAddress");
  Napi::Value lp = o.Get("localPort");
  if (la.IsString() || lp.IsNumber()) {
    std::string lhost =
        la.IsString() ? la.As<Napi::String>().Utf8Value() : (addr.Family() == AF_INET6 ? "::" : "0.0.0.0");
    net::SocketAddress local;
    if (!net::ParseAddress(lhost, lp.IsNumber() ? static_cast<uint16_t>(lp.As<Napi::Number>().Uint32Value()) : 0,
                           &local) ||
        local.Family() != addr.Family()) {
      ::close(fd);
      throw Napi::TypeError::New(env, "localAddress must be an IP address of the same family as host");
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local.storage), local.length) < 0)
      fail("bind", "cannot bind to " + lhost);
  }
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr.storage), addr.length);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS) fail("connect", "cannot connect to " + host + ":" + std::to_string(port));
  Napi::Object sock = AddonData::Get(env).socket_ctor.New({});
  SocketObject::Unwrap(sock)->Adopt(env, fd, true);
  return sock;
}

}  // namespace devmem::js

// SPDX-License-Identifier: MIT
//
// The transmit path of the native socket: plain sends, zerocopy, sendmsg
// from a TX binding's dma-buf (SCM_DEVMEM_DMABUF), and the completions read
// back from the error queue.
#include "js/socket_object.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "js/errors.h"
#include "uapi/devmem_uapi.h"

namespace devmem::js {

Napi::Value SocketObject::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!poller_ || closed_) throw MakeError(env, {EBADF, "send", "the socket is closed", std::nullopt, ""});
  auto data = info[0].As<Napi::Uint8Array>();
  ssize_t n;
  do {
    n = ::send(poller_->Fd(), data.Data(), data.ByteLength(), MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    throw MakeError(env, {errno, "send", "send failed", std::nullopt, ""});
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// enableZerocopy(): SO_ZEROCOPY, required (with MSG_ZEROCOPY) for devmem TX.
Napi::Value SocketObject::EnableZerocopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int one = 1;
  if (!poller_ || closed_) throw MakeError(env, {EBADF, "setsockopt", "the socket is closed", std::nullopt, ""});
  if (::setsockopt(poller_->Fd(), SOL_SOCKET, uapi::kSoZerocopy, &one, sizeof(one)) < 0)
    throw MakeError(env, {errno, "setsockopt", "cannot enable SO_ZEROCOPY", std::nullopt, ""});
  zc_enabled_ = true;
  return env.Undefined();
}

// sendDmabuf(bindingId, iovs: Float64Array of (offset, length) pairs, count)
//   -> { bytes, id }: bytes sent (-1 when the socket buffer is full) and the
//      zerocopy notification id this send consumed (-1 if none).
// One sendmsg(MSG_ZEROCOPY) with exactly one SCM_DEVMEM_DMABUF cmsg of
// CMSG_LEN(4) holding the binding id; each iov_base is an offset into the
// dma-buf, not a pointer.
Napi::Value SocketObject::SendDmabuf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!poller_ || closed_) throw MakeError(env, {EBADF, "sendmsg", "the socket is closed", std::nullopt, ""});
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto pairs = info[1].As<Napi::Float64Array>();
  size_t count = info[2].As<Napi::Number>().Uint32Value();
  if (count == 0 || count > 1024 || count * 2 > pairs.ElementLength())
    throw Napi::RangeError::New(env, "between 1 and 1024 iovecs per sendmsg");
  iovecs_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    iovecs_[i].iov_base = reinterpret_cast<void*>(static_cast<uintptr_t>(pairs[2 * i]));
    iovecs_[i].iov_len = static_cast<size_t>(pairs[2 * i + 1]);
  }
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(uint32_t))] = {};
  msghdr msg{};
  msg.msg_iov = iovecs_.data();
  msg.msg_iovlen = count;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof(ctrl);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = uapi::kScmDevmemDmabuf;
  c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
  std::memcpy(CMSG_DATA(c), &id, sizeof(id));
  ssize_t n;
  do {
    n = ::sendmsg(poller_->Fd(), &msg, uapi::kMsgZerocopy | MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  Napi::Object r = Napi::Object::New(env);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      r.Set("bytes", -1);
      r.Set("id", -1);
      return r;
    }
    throw MakeError(env, {errno, "sendmsg", "devmem send failed", std::nullopt, ""});
  }
  // Each zerocopy sendmsg that made progress takes the next notification id.
  int64_t zc_id = -1;
  if (n > 0) {
    zc_id = zc_next_id_++;
    ++zc_pending_;
    stats_.tx_bytes += static_cast<uint64_t>(n);
    ++stats_.tx_sends;
    UpdateWatch();
  }
  r.Set("bytes", static_cast<double>(n));
  r.Set("id", static_cast<double>(zc_id));
  return r;
}

// Reads zerocopy completions from the error queue and reports each range.
void SocketObject::DrainErrorQueue() {
  for (int i = 0; i < 256 && poller_ && !closed_; ++i) {
    alignas(cmsghdr) char ctrl[256];
    msghdr msg{};
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof(ctrl);
    ssize_t n = ::recvmsg(poller_->Fd(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      bool ip = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (!ip || c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(c), sizeof(ee));
      if (ee.ee_origin != uapi::kSoEeOriginZerocopy) continue;
      if (ee.ee_errno != 0) {
        EmitError(static_cast<int>(ee.ee_errno), "sendmsg", "a zerocopy send failed");
        continue;
      }
      uint32_t lo = ee.ee_info, hi = ee.ee_data;
      uint32_t done = hi - lo + 1;
      zc_pending_ = zc_pending_ >= done ? zc_pending_ - done : 0;
      bool copied = (ee.ee_code & uapi::kSoEeCodeZerocopyCopied) != 0;
      ++stats_.tx_completions;
      if (copied) ++stats_.tx_copied_completions;
      Napi::HandleScope scope(Env());
      Emit("zerocopy", {Napi::Number::New(Env(), lo), Napi::Number::New(Env(), hi), Napi::Boolean::New(Env(), copied)});
    }
  }
}

// waitWritable(): emits 'writable' once the socket can take more data.
Napi::Value SocketObject::WaitWritable(const Napi::CallbackInfo& info) {
  want_writable_ = true;
  UpdateWatch();
  return info.Env().Undefined();
}

}  // namespace devmem::js

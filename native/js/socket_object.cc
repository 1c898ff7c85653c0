// SPDX-License-Identifier: MIT
#include "common/reasons.h"
#include "js/socket_object.h"

#include <errno.h>
#include <linux/errqueue.h>
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
#include "rx/token_release.h"
#include "uapi/devmem_uapi.h"

namespace devmem::js {

namespace {
// The linear area (rx::RxArea) is each recvmsg's iov, and the iov caps what
// one recvmsg returns, dma-buf bytes included; only linear and host bytes are
// written to it. A batch holding at least this much of it takes the block as
// its Buffer; less is copied out, which is cheaper than pinning 2 MiB.
constexpr size_t kAdoptBytes = 256u << 10;
// Below this much room a recvmsg would return too little to be worth a
// syscall: deliver what the batch has and start a new area.
constexpr size_t kMinRoom = 64u << 10;
// 40 bytes of control space per fragment (CMSG_SPACE(sizeof(dmabuf_cmsg))).
constexpr size_t kInitialControl = CMSG_SPACE(sizeof(uapi::DmabufCmsg)) * 2048;
constexpr size_t kMaxControl = 1u << 20;
}  // namespace

Napi::Function SocketObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeSocket",
                     {
                         InstanceMethod<&SocketObject::SetCallback>("setCallback"),
                         InstanceMethod<&SocketObject::SetBinding>("setBinding"),
                         InstanceMethod<&SocketObject::SetLimits>("setLimits"),
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

bool SocketObject::Limited() const { return ledger_.Over(limits_.max_outstanding_fragments, limits_.max_outstanding_bytes); }

void SocketObject::UpdateWatch() {
  if (!poller_ || closed_) return;
  int events = 0;
  if (connecting_ || want_writable_) events |= UV_WRITABLE;
  if (!connecting_ && reading_ && !eof_ && !Limited()) events |= UV_READABLE;
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
  if (events & UV_READABLE) Drain();
}

// send(data: Uint8Array) -> bytes sent, or -1 when the socket buffer is full.
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

void SocketObject::Drain() {
  if (control_.empty()) control_.resize(kInitialControl);
  uint32_t calls = 0;
  bool closed = false;
  int fd = poller_->Fd();
  while (!closed_ && !eof_ && calls < kMaxRecvmsgCalls && pending_.Count() < limits_.batch_fragments &&
         pending_.dmabuf_bytes + pending_.linear_bytes < limits_.batch_bytes && !Limited()) {
    if (area_.Used() > 0 && area_.Room() < kMinRoom) break;
    uint8_t* tail = area_.Tail();
    if (!tail) {
      Deliver(&closed);
      if (!closed) EmitError(ENOMEM, "recvmsg", "cannot allocate the receive area");
      return;
    }
    iovec iov{tail, area_.Room()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control_.data();
    msg.msg_controllen = control_.size();
    ssize_t n = source_->Recvmsg(fd, &msg, uapi::kMsgSockDevmem | MSG_DONTWAIT);
    ++stats_.recvmsg_calls;
    ++calls;
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        ++stats_.eagains;
        break;
      }
      if (e == uapi::kEtoosmall && control_.size() < kMaxControl) {
        // Nothing was consumed: grow the control area and ask again.
        control_.resize(control_.size() * 2);
        ++stats_.ctrl_grows;
        continue;
      }
      Deliver(&closed);
      if (!closed) EmitError(e, "recvmsg", "receiving on the socket failed");
      return;
    }
    if (n == 0) {
      eof_ = true;
      break;
    }
    uint64_t before_linear = pending_.linear_bytes;
    rx::ParseOutcome o = rx::ParseRecvmsg(control_.data(), msg.msg_controllen, msg.msg_flags, static_cast<size_t>(n),
                                          binding_id_, &pending_);
    stats_.bytes += static_cast<uint64_t>(n);
    stats_.fragments += o.fragments;
    uint64_t linear_now = pending_.linear_bytes - before_linear;
    area_.Commit(linear_now);
    if (!pending_.kinds.empty() && pending_.kinds.back() == rx::kHost && linear_now == static_cast<size_t>(n))
      stats_.host_bytes += linear_now;
    else
      stats_.linear_bytes += linear_now;
    if (o.error != rx::ParseError::kNone) {
      // Deliver what arrived first: its tokens must be tracked to be returned.
      Deliver(&closed);
      if (closed) return;
      if (o.error == rx::ParseError::kFlowSteering) {
        EmitError(EPROTO, "recvmsg",
                  "flow steering error: a fragment arrived in dma-buf binding " + std::to_string(o.foreign_id) +
                      " but this socket's binding is " + std::to_string(binding_id_),
                  reasons::kFlowSteering);
      } else if (o.error == rx::ParseError::kControlTruncated) {
        EmitError(EPROTO, "recvmsg", o.detail, reasons::kControlTruncated);
      } else {
        EmitError(EPROTO, "recvmsg", "malformed devmem control data: " + o.detail, reasons::kProtocolError);
      }
      return;
    }
  }
  Deliver(&closed);
  if (closed) return;
  if (eof_) {
    UpdateWatch();
    Emit("end", {});
    return;
  }
  if (Limited() && !stalled_) {
    stalled_ = true;
    ++stats_.stalls;
    Emit("stall", {});
  }
  UpdateWatch();
}

void SocketObject::Deliver(bool* closed) {
  *closed = false;
  if (pending_.Count() == 0) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  uint64_t seq = next_seq_++;
  std::vector<uint32_t> tokens;
  uint64_t token_bytes = 0;
  size_t n = pending_.Count();
  tokens.reserve(n);
  uint64_t linear_bytes = 0, host_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    switch (pending_.kinds[i]) {
      case rx::kDmabuf:
        tokens.push_back(pending_.tokens[i]);
        token_bytes += pending_.sizes[i];
        break;
      case rx::kLinear: linear_bytes += pending_.sizes[i]; break;
      default: host_bytes += pending_.sizes[i]; break;
    }
  }
  ledger_.Hold(seq, std::move(tokens), token_bytes);
  ++stats_.batches;
  stats_.dmabuf_bytes += pending_.dmabuf_bytes;

  // The five columns share one uninitialised allocation (a Buffer's, which
  // unlike a bare ArrayBuffer is not zero-filled first), widest type first so
  // every view is aligned; the batch goes out as callback arguments, which
  // costs no object or property-name lookups here.
  const size_t b_off = 0, b_sz = 8 * n, b_tok = 12 * n, b_id = 16 * n, b_kind = 20 * n;
  Napi::Buffer<uint8_t> cols = Napi::Buffer<uint8_t>::New(env, 21 * n);
  uint8_t* base = cols.Data();
  std::memcpy(base + b_off, pending_.offsets.data(), 8 * n);
  std::memcpy(base + b_sz, pending_.sizes.data(), 4 * n);
  std::memcpy(base + b_tok, pending_.tokens.data(), 4 * n);
  std::memcpy(base + b_id, pending_.dmabuf_ids.data(), 4 * n);
  std::memcpy(base + b_kind, pending_.kinds.data(), n);
  Napi::ArrayBuffer ab = cols.ArrayBuffer();
  size_t at = cols.ByteOffset();
  size_t used = area_.Used();
  Napi::Buffer<uint8_t> linear;
  if (used >= kAdoptBytes) {
    linear = Napi::Buffer<uint8_t>::NewOrCopy(env, area_.Detach(), used, [](Napi::Env, uint8_t* p) { rx::RxArea::Recycle(p); });
  } else if (used > 0) {
    linear = Napi::Buffer<uint8_t>::Copy(env, area_.Data(), used);
    area_.Reset();
  } else {
    // dma-buf batches carry no linear bytes: share one empty Buffer (nothing can write to it).
    if (empty_linear_.IsEmpty()) empty_linear_ = Napi::Persistent(Napi::Buffer<uint8_t>::New(env, 0));
    linear = empty_linear_.Value();
  }
  std::vector<napi_value> args{
      Napi::Number::New(env, static_cast<double>(seq)),
      Napi::Float64Array::New(env, n, ab, at + b_off),
      Napi::Uint32Array::New(env, n, ab, at + b_sz),
      Napi::Uint32Array::New(env, n, ab, at + b_tok),
      Napi::Uint32Array::New(env, n, ab, at + b_id),
      Napi::Uint8Array::New(env, n, ab, at + b_kind),
      linear,
      Napi::Number::New(env, static_cast<double>(pending_.dmabuf_bytes)),
      Napi::Number::New(env, static_cast<double>(linear_bytes)),
      Napi::Number::New(env, static_cast<double>(host_bytes)),
  };
  pending_.Clear();
  Emit("batch", args);
  *closed = closed_;
}

rx::ReleaseResult SocketObject::ReleaseBatch(uint64_t seq) {
  if (!poller_) {
    ledger_.Forget(seq);  // the fd is gone, and the kernel freed the tokens with it
    return {};
  }
  return ledger_.Release(seq, *source_, poller_->Fd());
}

void SocketObject::ReleaseAll() {
  // Failures are counted in the ledger's totals; the socket is closing.
  if (poller_) ledger_.ReleaseAll(*source_, poller_->Fd());
}

// release(seq, out: Float64Array(4)): writes [requested, freed, calls, errno]
// (zeros when already released; errno 0 unless a DONTNEED call failed). JS
// builds the result object: cheaper than N-API property sets on every batch.
Napi::Value SocketObject::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "batch sequence must be a number");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::Float64Array>().ElementLength() < 4)
    throw Napi::TypeError::New(env, "release needs a Float64Array of 4 for its result");
  rx::ReleaseResult r = ReleaseBatch(static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue()));
  if (stalled_ && !Limited()) stalled_ = false;
  UpdateWatch();
  double* out = info[1].As<Napi::Float64Array>().Data();
  out[0] = static_cast<double>(r.requested);
  out[1] = static_cast<double>(r.freed);
  out[2] = static_cast<double>(r.calls);
  out[3] = static_cast<double>(r.error);
  return env.Undefined();
}

Napi::Value SocketObject::SetCallback(const Napi::CallbackInfo& info) {
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value SocketObject::SetBinding(const Napi::CallbackInfo& info) {
  binding_id_ = info[0].As<Napi::Number>().Uint32Value();
  return info.Env().Undefined();
}

Napi::Value SocketObject::SetLimits(const Napi::CallbackInfo& info) {
  Napi::Object o = info[0].As<Napi::Object>();
  auto num = [&](const char* k, auto* field) {
    Napi::Value v = o.Get(k);
    if (v.IsNumber()) *field = static_cast<std::remove_pointer_t<decltype(field)>>(v.As<Napi::Number>().DoubleValue());
  };
  num("maxOutstandingFragments", &limits_.max_outstanding_fragments);
  num("maxOutstandingBytes", &limits_.max_outstanding_bytes);
  num("batchFragments", &limits_.batch_fragments);
  num("batchBytes", &limits_.batch_bytes);
  UpdateWatch();
  return info.Env().Undefined();
}

Napi::Value SocketObject::Resume(const Napi::CallbackInfo& info) {
  reading_ = true;
  UpdateWatch();
  return info.Env().Undefined();
}

Napi::Value SocketObject::Pause(const Napi::CallbackInfo& info) {
  reading_ = false;
  UpdateWatch();
  return info.Env().Undefined();
}

void SocketObject::CloseNow() {
  if (closed_) return;
  closed_ = true;
  if (addon_data_) addon_data_->sockets.erase(this);
  addon_data_ = nullptr;
  if (poller_) {
    // Explicit release keeps the counters exact; the kernel would free them on close anyway.
    ReleaseAll();
    poller_->Close();
  }
  // The callback closes over the JS socket, which holds this object: kept,
  // that persistent reference would make the pair uncollectable, and every
  // closed socket would keep its receive buffers (2 MiB) forever.
  callback_.Reset();
  area_.Release();
  std::vector<uint8_t>().swap(control_);
  pending_ = rx::FragmentColumns();
}

Napi::Value SocketObject::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    CloseNow();
    Napi::ObjectWrap<SocketObject>::Unref();
  }
  return info.Env().Undefined();
}

// Close with a RST: SO_LINGER with a zero timeout makes close() abort the
// connection. The kernel then frees everything the connection holds at
// once, device buffers in its out-of-order queue included, where a graceful
// close may leave an orphan retransmitting its FIN (and holding those
// buffers, and so the binding) for minutes when the peer cannot be reached.
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
  if (poller_) poller_->Ref();
  return info.Env().Undefined();
}

Napi::Value SocketObject::Unref(const Napi::CallbackInfo& info) {
  if (poller_) poller_->Unref();
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
  set("bytesSent", stats_.tx_bytes);
  set("zerocopySends", stats_.tx_sends);
  set("completions", stats_.tx_completions);
  set("copiedCompletions", stats_.tx_copied_completions);
  set("zerocopyPending", zc_pending_);
  return o;
}

namespace {
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
}  // namespace

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

class ServerObject : public Napi::ObjectWrap<ServerObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeServer",
                       {InstanceMethod<&ServerObject::Listen>("listen"),
                        InstanceMethod<&ServerObject::SetCallback>("setCallback"),
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
    poller_ = MakeEnvPoller(env, fd, [this](int, int) { OnReadable(); }, [this] { CloseNow(); });
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
      if (CallFromLoop(env, Value(), callback_.Value(), *async_context_, {Napi::String::New(env, "connection"), sock}) ==
          CallResult::kJsGone) {
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

// connect({ host, port, localAddress?, localPort?, bindToDevice? }) -> NativeSocket (connecting)
Napi::Value Connect(const Napi::CallbackInfo& info) {
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
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0) fail("setsockopt", "cannot set SO_RCVBUF");
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
    std::string lhost = la.IsString() ? la.As<Napi::String>().Utf8Value() : (addr.Family() == AF_INET6 ? "::" : "0.0.0.0");
    net::SocketAddress local;
    if (!net::ParseAddress(lhost, lp.IsNumber() ? static_cast<uint16_t>(lp.As<Napi::Number>().Uint32Value()) : 0, &local) ||
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

}  // namespace

void InitSockets(Napi::Env env, Napi::Object exports) {
  Napi::Function sock = SocketObject::Define(env);
  AddonData::Get(env).socket_ctor = Napi::Persistent(sock);
  exports.Set("NativeSocket", sock);
  exports.Set("NativeServer", ServerObject::Define(env));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
}

}  // namespace devmem::js

// SPDX-License-Identifier: MIT
//
// The receive path of the native socket: the drain loop (recvmsg with
// MSG_SOCK_DEVMEM into the receive area), delivery of each batch to JS, and
// the release of a batch's tokens through the socket's rx::TokenLedger.
#include "common/reasons.h"
#include "js/socket_object.h"

#include <errno.h>
#include <sys/socket.h>

#include <cstring>

#include "js/errors.h"
#include "js/zcrx_object.h"
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
constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(uapi::DmabufCmsg));
constexpr size_t kInitialControl = kCmsgSpace * 2048;
constexpr size_t kMaxControl = 1u << 20;

// The block's owner is whichever of the two lets go of it first: the socket,
// which detaches the ArrayBuffer at release and recycles the block at once
// (setting `reclaimed`), or the ArrayBuffer's finalizer, which recycles it
// when the socket never took it back (environment teardown).
void FinalizeLease(napi_env, void*, void* hint);
}  // namespace

struct LinearLease {
  uint8_t* block;
  bool reclaimed = false;
};

namespace {
void FinalizeLease(napi_env, void*, void* hint) {
  auto* lease = static_cast<LinearLease*>(hint);
  if (!lease->reclaimed) rx::RxArea::Recycle(lease->block);
  delete lease;
}
}  // namespace

bool SocketObject::Limited() const {
  return ledger_.Over(limits_.max_outstanding_fragments, limits_.max_outstanding_bytes);
}

void SocketObject::Drain() {
  if (control_.empty()) control_.resize(kInitialControl);
  uint32_t calls = 0;
  bool closed = false;
  int fd = poller_->Fd();
  const bool drains_on_short = source_->ShortReadDrains();
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
    const size_t room = iov.iov_len;
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
    uint64_t before_copied = pending_.copied_bytes;
    rx::ParseOutcome o = rx::ParseRecvmsg(control_.data(), msg.msg_controllen, msg.msg_flags, static_cast<size_t>(n),
                                          binding_id_, &pending_);
    source_->Refine(&pending_, pending_.Count() - o.fragments);
    stats_.copied_bytes += pending_.copied_bytes - before_copied;
    stats_.bytes += static_cast<uint64_t>(n);
    stats_.fragments += o.fragments;
    uint64_t linear_now = pending_.linear_bytes - before_linear;
    area_.Commit(linear_now);
    if (!pending_.kinds.empty() && pending_.kinds.back() == rx::kHost && linear_now == static_cast<size_t>(n))
      stats_.host_bytes += linear_now;
    else stats_.linear_bytes += linear_now;
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
    // Short of the iov and of the control space: the kernel had no more for
    // this call, and the next recvmsg would most likely return EAGAIN. Stop
    // here; level-triggered readiness brings what arrives next, or the FIN
    // (recvmsg 0 on that turn).
    if (drains_on_short && static_cast<size_t>(n) < room && control_.size() - msg.msg_controllen >= kCmsgSpace &&
        !(msg.msg_flags & MSG_CTRUNC))
      break;
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
  last_batch_small_ =
      pending_.Count() < coalesce_below_ && pending_.dmabuf_bytes + pending_.linear_bytes < coalesce_below_bytes_;
  std::vector<uint32_t> tokens;
  uint64_t token_bytes = 0;
  size_t n = pending_.Count();
  tokens.reserve(n);
  uint64_t linear_bytes = 0, host_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    switch (pending_.kinds[i]) {
      case rx::kDmabuf:
      case rx::kCopied:
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
  if (borrow_linear_ && used > 0) {
    linear = LendLinear(env, seq, used);
  } else if (used >= kAdoptBytes) {
    linear = Napi::Buffer<uint8_t>::NewOrCopy(env, area_.Detach(), used,
                                              [](Napi::Env, uint8_t* p) { rx::RxArea::Recycle(p); });
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
      Napi::Number::New(env, static_cast<double>(pending_.copied_bytes)),
  };
  pending_.Clear();
  Emit("batch", args);
  *closed = closed_;
}

Napi::Buffer<uint8_t> SocketObject::LendLinear(Napi::Env env, uint64_t seq, size_t used) {
  Napi::Buffer<uint8_t> linear;
  LinearLease* lease = nullptr;
  if (used >= kAdoptBytes) {
    lease = new LinearLease{area_.Detach()};
    napi_value v;
    napi_status st = napi_create_external_buffer(env, used, lease->block, FinalizeLease, lease, &v);
    if (st == napi_ok) {
      linear = Napi::Buffer<uint8_t>(env, v);
    } else {
      // No external buffers in this runtime (a V8 sandbox): copy, as owned mode does.
      linear = Napi::Buffer<uint8_t>::Copy(env, lease->block, used);
      rx::RxArea::Recycle(lease->block);
      delete lease;
      lease = nullptr;
    }
  } else {
    // A small batch is copied out (cheaper than tying up a 2 MiB block until
    // its release), into a Buffer of its own that release detaches all the same.
    linear = Napi::Buffer<uint8_t>::Copy(env, area_.Data(), used);
    area_.Reset();
  }
  lent_.emplace(seq, Lent{Napi::Persistent(linear.ArrayBuffer()), lease});
  return linear;
}

void SocketObject::ReturnLinear(Napi::Env env, uint64_t seq) {
  auto it = lent_.find(seq);
  if (it == lent_.end()) return;
  Lent l = std::move(it->second);
  lent_.erase(it);
  uint8_t* block = l.lease ? l.lease->block : nullptr;
  // Before the detach: the finalizer may run inside it, and must then leave the block alone.
  if (l.lease) l.lease->reclaimed = true;
  if (napi_detach_arraybuffer(env, l.buffer.Value()) != napi_ok) {
    // Still readable from JS: the block stays the ArrayBuffer's, and its finalizer recycles it.
    if (l.lease) l.lease->reclaimed = false;
    return;
  }
  if (block) rx::RxArea::Recycle(block);
}

// coalesce(us, belowFragments, belowBytes): JS checked them (lib/receive-options.ts).
Napi::Value SocketObject::Coalesce(const Napi::CallbackInfo& info) {
  coalesce_us_ = info[0].As<Napi::Number>().Uint32Value();
  coalesce_below_ = info[1].As<Napi::Number>().Uint32Value();
  coalesce_below_bytes_ = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  return info.Env().Undefined();
}

// A small batch last time means the socket is read faster than data comes:
// each readiness event then pays a whole batch's cost (the JS step, the
// DONTNEED, the epoll wake-up) for a few fragments. Waiting a bounded time
// lets more arrive. Returns false, and the caller drains at once, if the
// timer cannot be made or armed.
bool SocketObject::StartCoalescing() {
  if (!coalesce_timer_) {
    coalesce_timer_ = MicroTimer::Make(
        Env(), [this] { OnCoalesced(); },
        [this] {
          js_gone_ = true;
          CloseNow();
        });
    if (!coalesce_timer_) {
      coalesce_us_ = 0;  // no timerfd: stop trying, receive as without the option
      return false;
    }
    if (!refd_) coalesce_timer_->Unref();
  }
  if (coalesce_timer_->Arm(coalesce_us_) != 0) return false;
  coalescing_ = true;
  ++stats_.coalesce_waits;
  UpdateWatch();
  return true;
}

void SocketObject::OnCoalesced() {
  coalescing_ = false;
  if (closed_) return;
  Napi::HandleScope scope(Env());
  // Straight to the drain: the socket was readable when the wait began, and
  // nothing else reads it. Paused or limited meanwhile, UpdateWatch() waits.
  if (reading_ && !eof_ && !Limited() && !connecting_) Drain();
  else UpdateWatch();
}

Napi::Value SocketObject::BorrowLinear(const Napi::CallbackInfo& info) {
  borrow_linear_ = true;
  return info.Env().Undefined();
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
  uint64_t seq = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  rx::ReleaseResult r = ReleaseBatch(seq);
  if (!lent_.empty()) ReturnLinear(env, seq);
  if (stalled_ && !Limited()) stalled_ = false;
  UpdateWatch();
  KickZcrx();
  double* out = info[1].As<Napi::Float64Array>().Data();
  out[0] = static_cast<double>(r.requested);
  out[1] = static_cast<double>(r.freed);
  out[2] = static_cast<double>(r.calls);
  out[3] = static_cast<double>(r.error);
  return env.Undefined();
}

// A zcrx socket learns of data from its queue's pump, not from poll: once
// it can read again (resumed, or released under its limits) it asks the
// queue for a turn rather than reading here, inside a JS call.
void SocketObject::KickZcrx() {
  if (zcrx_ && !closed_ && reading_ && !eof_ && !Limited() && zcrx_->HasReady()) zcrx_->Kick();
}

void SocketObject::OnZcrxReady() {
  if (closed_) return;
  Napi::HandleScope scope(Env());
  if (reading_ && !eof_) Drain();
}

// attachZcrx(queue): receive through the zcrx interface queue from now on.
Napi::Value SocketObject::AttachZcrx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (zcrx_) throw Napi::TypeError::New(env, "the socket already receives through a zcrx queue");
  if (!poller_ || closed_) throw MakeError(env, Failure{0, "", "the socket is closed", std::nullopt, "CLOSED"});
  std::shared_ptr<zcrx::Hub> hub = ZcrxQueueObject::HubOf(env, info[0]);
  if (!hub) throw Napi::Error(env, env.GetAndClearPendingException().Value());
  Failure f;
  std::unique_ptr<zcrx::Source> src = hub->Attach(
      poller_->Fd(), [this] { OnZcrxReady(); }, &f);
  if (!src) throw MakeError(env, f);
  zcrx_ = src.get();
  source_ = std::move(src);
  binding_id_ = hub->ring().ZcrxId() + 1;
  UpdateWatch();
  return env.Undefined();
}

Napi::Value SocketObject::SetBinding(const Napi::CallbackInfo& info) {
  binding_id_ = info[0].As<Napi::Number>().Uint32Value();
  return info.Env().Undefined();
}

Napi::Value SocketObject::SetLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "setLimits needs an object of limits");
  Napi::Object o = info[0].As<Napi::Object>();
  auto num = [&](const char* k, auto* field) {
    Napi::Value v = o.Get(k);
    if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 1)
      throw Napi::TypeError::New(env, std::string("setLimits: ") + k + " must be a positive number");
    *field = static_cast<std::remove_pointer_t<decltype(field)>>(v.As<Napi::Number>().DoubleValue());
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
  KickZcrx();
  return info.Env().Undefined();
}

Napi::Value SocketObject::Pause(const Napi::CallbackInfo& info) {
  reading_ = false;
  UpdateWatch();
  return info.Env().Undefined();
}

}  // namespace devmem::js

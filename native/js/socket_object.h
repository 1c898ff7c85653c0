// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_SOCKET_OBJECT_H_
#define DEVMEM_TCP_JS_SOCKET_OBJECT_H_

#include <napi.h>
#include <sys/socket.h>

#include <sys/uio.h>

#include <map>
#include <memory>
#include <vector>

#include "js/addon_data.h"
#include "js/micro_timer.h"
#include "js/uv_poller.h"
#include "rx/fragments.h"
#include "rx/rx_area.h"
#include "rx/rx_source.h"
#include "rx/token_ledger.h"
#include "zcrx/hub.h"

namespace devmem::js {

// Set from JS (RECEIVE_DEFAULTS in lib/receive-options.ts is the one
// definition of the defaults) before the first read; until then nothing is
// read at all.
struct RxLimits {
  uint32_t max_outstanding_fragments = 0;
  uint64_t max_outstanding_bytes = 0;
  uint32_t batch_fragments = 0;  // per readiness event
  uint64_t batch_bytes = 0;      // per readiness event
};

// recvmsg calls per readiness event at most: the drain loop's bound, so one
// busy socket cannot hold the event loop.
inline constexpr uint32_t kMaxRecvmsgCalls = 64;

struct RxStats {
  uint64_t bytes = 0, fragments = 0, dmabuf_bytes = 0, linear_bytes = 0, host_bytes = 0, copied_bytes = 0;
  uint64_t recvmsg_calls = 0, eagains = 0;
  uint64_t batches = 0, ctrl_grows = 0, stalls = 0;
  uint64_t coalesce_waits = 0;
  uint64_t tx_bytes = 0, tx_sends = 0, tx_completions = 0, tx_copied_completions = 0;
};

// A TCP socket owned by the addon. libuv (and so net.Socket) must never read
// a devmem-steered socket (see docs/kernel-notes.md#efault-without-msg_sock_devmem).
//
// JS gets events through one callback: ('connect', err?), ('batch', seq,
// offsets, sizes, tokens, dmabufIds, kinds, linear, dmabufBytes, linearBytes, hostBytes),
// ('end'), ('error', err), ('stall'), ('writable'), ('zerocopy', lo, hi, copied).
// A receive block lent to JS as a batch's `linear` (socket_receive.cc).
struct LinearLease;

class SocketObject : public Napi::ObjectWrap<SocketObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SocketObject(const Napi::CallbackInfo& info);
  ~SocketObject() override;

  // Takes a connected (accepted) or connecting fd.
  void Adopt(Napi::Env env, int fd, bool connecting);
  void CloseNow();
  // Environment teardown: the addon data is going away first.
  void ForgetAddonData() { addon_data_ = nullptr; }
  // Replaces the kernel as the receive source (the fragment-pipeline benchmark).
  void SetSource(std::unique_ptr<rx::RxSource> source) { source_ = std::move(source); }

 private:
  // JS methods
  Napi::Value SetCallback(const Napi::CallbackInfo& info);
  Napi::Value SetBinding(const Napi::CallbackInfo& info);
  Napi::Value AttachZcrx(const Napi::CallbackInfo& info);
  Napi::Value SetLimits(const Napi::CallbackInfo& info);
  Napi::Value BorrowLinear(const Napi::CallbackInfo& info);
  Napi::Value Coalesce(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value WaitWritable(const Napi::CallbackInfo& info);
  Napi::Value EnableZerocopy(const Napi::CallbackInfo& info);
  Napi::Value SendDmabuf(const Napi::CallbackInfo& info);
  void DrainErrorQueue();
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value RemoteAddress(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);

  void OnPoll(int status, int events);
  void OnZcrxReady();
  void KickZcrx();
  void OnConnectReady();
  void Drain();
  bool StartCoalescing();
  void OnCoalesced();
  void Deliver(bool* closed);
  Napi::Buffer<uint8_t> LendLinear(Napi::Env env, uint64_t seq, size_t used);
  void ReturnLinear(Napi::Env env, uint64_t seq);
  void UpdateWatch();
  bool Limited() const;
  rx::ReleaseResult ReleaseBatch(uint64_t seq);
  void ReleaseAll();
  void Emit(const char* type, const std::vector<napi_value>& extra);
  void EmitError(int errnum, const char* syscall, const std::string& message, const char* reason = nullptr);

  AddonData* addon_data_ = nullptr;
  std::unique_ptr<UvPoller> poller_;
  std::unique_ptr<rx::RxSource> source_ = std::make_unique<rx::KernelSource>();
  // Set when the socket receives through an io_uring zcrx queue: source_ is
  // then this Source, and the fd is never polled for reading (io_uring reads it).
  zcrx::Source* zcrx_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::Reference<Napi::Buffer<uint8_t>> empty_linear_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  bool connecting_ = false;
  bool want_writable_ = false;
  bool zc_enabled_ = false;
  uint32_t zc_next_id_ = 0;
  uint64_t zc_pending_ = 0;
  std::vector<iovec> iovecs_;
  bool reading_ = false;  // JS wants data
  bool eof_ = false;
  bool closed_ = false;
  bool stalled_ = false;
  bool js_gone_ = false;
  uint32_t binding_id_ = 0;
  RxLimits limits_;
  RxStats stats_;
  rx::FragmentColumns pending_;
  rx::RxArea area_;
  std::vector<uint8_t> control_;
  uint64_t next_seq_ = 1;
  // linearLifetime 'batch' (borrowLinear()): each batch's `linear` is lent
  // until its release, then detached so that a later read sees 0 bytes, and
  // its receive block goes straight back to the warm pool instead of waiting
  // for the garbage collector. Keyed by seq; close() detaches them all.
  bool borrow_linear_ = false;
  // Readiness coalescing (ReceiveOptions.coalesce): after a batch of fewer
  // than coalesce_below_ fragments and coalesce_below_bytes_ bytes, a
  // readable socket is left to fill for coalesce_us_ before the drain, with
  // its readiness unwatched meanwhile.
  uint32_t coalesce_us_ = 0;
  uint32_t coalesce_below_ = 0;
  uint64_t coalesce_below_bytes_ = 0;
  bool last_batch_small_ = false;  // no wait before the first batch
  bool coalescing_ = false;
  bool refd_ = true;
  std::unique_ptr<MicroTimer> coalesce_timer_;
  struct Lent {
    Napi::Reference<Napi::ArrayBuffer> buffer;
    LinearLease* lease;  // null when the bytes were copied out (a small batch)
  };
  std::map<uint64_t, Lent> lent_;
  // The tokens of delivered batches, until JS releases them by seq.
  rx::TokenLedger ledger_;
};

void InitSockets(Napi::Env env, Napi::Object exports);

// Shared by the socket's files (socket_object.cc holds the class and its
// lifetime; socket_receive.cc, socket_transmit.cc, socket_connect.cc and
// server_object.cc one concern each).
// { address, port, family } of `fd`'s end as `get` (getsockname or getpeername) reports it.
Napi::Value AddressOf(Napi::Env env, int fd, int (*get)(int, sockaddr*, socklen_t*));
// connect({ host, port, localAddress?, localPort?, bindToDevice?, receiveBufferSize? }) -> NativeSocket
Napi::Value ConnectSocket(const Napi::CallbackInfo& info);
Napi::Function DefineServerObject(Napi::Env env);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_SOCKET_OBJECT_H_

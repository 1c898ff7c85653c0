// SPDX-License-Identifier: MIT
//
// A zcrx interface queue shared by the sockets that receive through it. The
// Hub owns the Ring, arms one multishot RECV_ZC per attached socket, and on
// each pump hands every completion to its socket's Source, where the socket's
// ordinary receive path (rx::RxSource) picks it up: the drain loop, the
// batches, the token ledger and the backpressure are the devmem socket's own.
//
// Which completions the kernel filled by copying (its fallback for data that
// did not arrive in the area's buffers) the CQEs do not say. The kernel's copy
// statistics (7.2) count copied bytes for the whole queue; a pump's copies
// are attributed to a socket when they match all of that socket's bytes in
// the pump (the common cases: a flow that misses the queue, or none), and
// counted as unattributed otherwise.
#ifndef DEVMEM_TCP_ZCRX_HUB_H_
#define DEVMEM_TCP_ZCRX_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "common/failure.h"
#include "rx/rx_source.h"
#include "zcrx/ring.h"

namespace devmem::zcrx {

struct HubStats {
  uint64_t pumps = 0, completions = 0, data_completions = 0, bytes = 0, copied_bytes = 0, copied_fragments = 0;
  uint64_t unattributed_copy_bytes = 0, returned_buffers = 0, rearms = 0, pauses = 0;
  uint64_t alloc_fail_events = 0, copy_events = 0;
};

class Hub;

// One socket's side: the completions it has not yet read, and the buffers
// its delivered batches hold, by token.
//
// Flow control: once the socket holds half the area's buffers (unread plus
// unreleased), its receive is cancelled, so that new data waits in the
// socket and TCP's window closes, instead of the area running dry and the
// NIC dropping packets (which sends the peer into retransmission backoff);
// it is armed again when the socket is down to a quarter.
class Source final : public rx::RxSource {
 public:
  Source(std::shared_ptr<Hub> hub, uint64_t id, int fd, size_t budget, std::function<void()> on_ready);
  ~Source() override;

  ssize_t Recvmsg(int fd, msghdr* msg, int flags) override;
  int Dontneed(int fd, const uapi::DmabufToken* ranges, size_t count) override;
  void Refine(rx::FragmentColumns* cols, size_t first) override;

  // Gives back everything not yet returned and stops receiving: the socket is closing.
  void Detach();

  // The Hub's side.
  void Push(uint64_t off, uint32_t len);
  void End(int res);  // the request's last completion
  void MarkPumpCopied();
  void BeginPump() { pump_first_ = ready_.size(), pump_bytes_ = 0; }
  uint64_t PumpBytes() const { return pump_bytes_; }
  bool Armed() const { return armed_; }
  bool Paused() const { return paused_; }
  // Pauses the receive when the socket holds its budget of buffers.
  void Throttle();
  uint64_t Id() const { return id_; }
  int Fd() const { return fd_; }
  void NotifyReady() {
    if (on_ready_) on_ready_();
  }
  // Asks for NotifyReady on the next pump, which it causes: the socket can read again.
  void Kick();
  bool HasReady() const { return !ready_.empty() || eof_ || error_ != 0; }

 private:
  struct Entry {
    uint64_t off;
    uint32_t len;
    bool copied;
  };
  struct Slot {
    uint64_t off;
    uint32_t len;
    bool held;
  };
  void ReturnSlot(Slot* s);

  std::shared_ptr<Hub> hub_;
  uint64_t id_;
  int fd_;
  std::function<void()> on_ready_;
  std::deque<Entry> ready_;
  // Delivered buffers by token: token t is slots_[t - base_token_].
  std::deque<Slot> slots_;
  uint32_t base_token_ = 0;
  std::deque<bool> last_copied_;  // kinds of the fragments the last Recvmsg returned
  size_t pump_first_ = 0;
  uint64_t pump_bytes_ = 0;
  size_t budget_;                // buffers this socket may hold before its receive pauses
  size_t held_slots_ = 0;        // delivered and not yet released
  bool paused_ = false;          // cancelled for flow control, armed again under budget_ / 2
  bool cancel_pending_ = false;  // that cancel's -ECANCELED has not come back yet
  bool armed_ = true;
  bool rearm_ = false;      // ended for want of buffers: arm again when some come back
  bool rearm_now_ = false;  // ended for want of CQ room: arm again after the pump
  bool eof_ = false;
  bool detached_ = false;
  int error_ = 0;
  friend class Hub;
};

class Hub : public std::enable_shared_from_this<Hub> {
 public:
  static std::shared_ptr<Hub> Open(const RingConfig& config, Failure* f);
  ~Hub();

  Ring& ring() { return *ring_; }
  const HubStats& stats() const { return stats_; }
  // Attached sockets.
  size_t Sockets() const { return sources_.size(); }

  // Arms a multishot receive on `fd`; `on_ready` runs after a pump that gave it data or an end.
  std::unique_ptr<Source> Attach(int fd, std::function<void()> on_ready, Failure* f);
  // The eventfd fired: run the receive work and dispatch. Returns -errno if
  // the ring failed, after failing every attached socket with it.
  int Pump();
  void Kick(uint64_t id);
  // Unregisters the queue: attached sockets fail with `ESHUTDOWN`.
  void Close();
  bool Closed() const { return ring_->Closed(); }

 private:
  friend class Source;
  void Forget(uint64_t id) { sources_.erase(id); }
  void Rearm(Source* s);
  void OnReturned();
  void FailAll(int err);

  std::unique_ptr<Ring> ring_;
  std::map<uint64_t, Source*> sources_;
  std::vector<uint64_t> kicked_;
  uint64_t next_id_ = 1;
  uint64_t last_copy_bytes_ = 0;
  HubStats stats_;
};

}  // namespace devmem::zcrx

#endif  // DEVMEM_TCP_ZCRX_HUB_H_

// SPDX-License-Identifier: MIT
#include "zcrx/hub.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "uapi/devmem_uapi.h"

namespace devmem::zcrx {

namespace {
// Tokens count from 1 and stay below 2^31, as the kernel's devmem tokens do.
constexpr uint32_t kTokenMask = 0x7fffffffu;
uint32_t NextToken(uint32_t t) { return (t & kTokenMask) == kTokenMask ? 1 : t + 1; }

void SortUnique(std::vector<uint64_t>* ids) {
  std::sort(ids->begin(), ids->end());
  ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
}

}  // namespace

// ---- Source ------------------------------------------------------------------------

Source::Source(std::shared_ptr<Hub> hub, uint64_t id, int fd, size_t budget, std::function<void()> on_ready)
    : hub_(std::move(hub)), id_(id), fd_(fd), on_ready_(std::move(on_ready)), base_token_(1), budget_(budget) {}

void Source::Throttle() {
  if (paused_ || detached_ || held_slots_ + ready_.size() < budget_) return;
  paused_ = true;
  ++hub_->stats_.pauses;
  Failure f;
  if (armed_) cancel_pending_ = hub_->ring().CancelRecv(id_, &f);
}

Source::~Source() { Detach(); }

// What recvmsg(MSG_SOCK_DEVMEM) would have returned had the fragments come
// through a devmem binding: one SCM_DEVMEM_DMABUF per completion, its token
// naming the buffer until Dontneed gives it back to the refill ring.
ssize_t Source::Recvmsg(int, msghdr* msg, int) {
  last_copied_.clear();
  if (ready_.empty()) {
    msg->msg_controllen = 0;
    if (error_ != 0) {
      errno = error_;
      return -1;
    }
    if (eof_) return 0;
    errno = EAGAIN;
    return -1;
  }
  const size_t space = CMSG_SPACE(sizeof(uapi::DmabufCmsg));
  size_t room = msg->msg_iovlen > 0 ? msg->msg_iov[0].iov_len : 0;
  auto* control = static_cast<uint8_t*>(msg->msg_control);
  size_t at = 0, bytes = 0;
  while (!ready_.empty() && at + space <= msg->msg_controllen && bytes + ready_.front().len <= room) {
    const Entry e = ready_.front();
    ready_.pop_front();
    if (pump_first_ > 0) --pump_first_;
    uint32_t token = base_token_ + static_cast<uint32_t>(slots_.size());
    slots_.push_back({e.off, e.len, true});
    ++held_slots_;
    cmsghdr h{};
    h.cmsg_level = SOL_SOCKET;
    h.cmsg_type = uapi::kScmDevmemDmabuf;
    h.cmsg_len = CMSG_LEN(sizeof(uapi::DmabufCmsg));
    uapi::DmabufCmsg d{e.off, e.len, token & kTokenMask, static_cast<uint32_t>(hub_->ring().ZcrxId()) + 1, 0};
    std::memset(control + at, 0, space);
    std::memcpy(control + at, &h, sizeof(h));
    std::memcpy(control + at + CMSG_LEN(0), &d, sizeof(d));
    at += space;
    bytes += e.len;
    last_copied_.push_back(e.copied);
  }
  if (bytes == 0) {
    // Not even one completion fits: say so as the kernel does.
    errno = at + space > msg->msg_controllen ? uapi::kEtoosmall : ENOBUFS;
    return -1;
  }
  msg->msg_controllen = at;
  msg->msg_flags = 0;
  return static_cast<ssize_t>(bytes);
}

void Source::Refine(rx::FragmentColumns* cols, size_t first) {
  for (size_t i = 0; i < last_copied_.size() && first + i < cols->Count(); ++i) {
    if (!last_copied_[i] || cols->kinds[first + i] != rx::kDmabuf) continue;
    cols->kinds[first + i] = rx::kCopied;
    cols->dmabuf_bytes -= cols->sizes[first + i];
    cols->copied_bytes += cols->sizes[first + i];
  }
  last_copied_.clear();
}

void Source::ReturnSlot(Slot* s) {
  if (!s->held) return;
  s->held = false;
  --held_slots_;
  hub_->ring().Return(s->off, s->len);
  ++hub_->stats_.returned_buffers;
}

int Source::Dontneed(int, const uapi::DmabufToken* ranges, size_t count) {
  int freed = 0;
  for (size_t r = 0; r < count; ++r) {
    uint32_t t = ranges[r].token_start;
    for (uint32_t k = 0; k < ranges[r].token_count; ++k, t = NextToken(t)) {
      uint32_t idx = (t - base_token_) & kTokenMask;
      if (idx >= slots_.size() || !slots_[idx].held) continue;
      ReturnSlot(&slots_[idx]);
      ++freed;
    }
  }
  while (!slots_.empty() && !slots_.front().held) {
    slots_.pop_front();
    base_token_ = NextToken(base_token_);
  }
  hub_->ring().Flush();
  if (paused_ && held_slots_ + ready_.size() <= budget_ / 2) {
    paused_ = false;
    hub_->Rearm(this);
  }
  if (freed > 0) hub_->OnReturned();
  return freed;
}

void Source::Kick() {
  if (!detached_) hub_->Kick(id_);
}

void Source::Push(uint64_t off, uint32_t len) {
  ready_.push_back({off, len, false});
  pump_bytes_ += len;
}

void Source::MarkPumpCopied() {
  for (size_t i = pump_first_; i < ready_.size(); ++i) ready_[i].copied = true;
}

void Source::End(int res) {
  armed_ = false;
  if (res == 0) {
    eof_ = true;
  } else if (res == -ENOSPC || res == -EAGAIN) {
    // Out of CQ room: the data is still in the socket; receive again at once.
    rearm_ = rearm_now_ = true;
  } else if (res == -ENOMEM || res == -ENOBUFS) {
    // No area buffer for a copy: receive again once buffers come back.
    rearm_ = true;
  } else if (res == -ECANCELED && (detached_ || cancel_pending_)) {
    // Our own cancel, at close or for flow control; if the socket came back
    // under its budget before the cancel landed, receive again at once.
    cancel_pending_ = false;
    if (!detached_ && !paused_) rearm_ = rearm_now_ = true;
  } else if (error_ == 0) {
    error_ = res == -ECANCELED ? ESHUTDOWN : -res;
  }
}

void Source::Detach() {
  if (detached_) return;
  detached_ = true;
  Failure f;
  if (armed_) hub_->ring().CancelRecv(id_, &f);
  for (const Entry& e : ready_) {
    hub_->ring().Return(e.off, e.len);
    ++hub_->stats_.returned_buffers;
  }
  ready_.clear();
  for (Slot& s : slots_) ReturnSlot(&s);
  slots_.clear();
  held_slots_ = 0;
  hub_->ring().Flush();
  hub_->Forget(id_);
  hub_->OnReturned();
}

// ---- Hub ---------------------------------------------------------------------------

std::shared_ptr<Hub> Hub::Open(const RingConfig& config, Failure* f) {
  std::unique_ptr<Ring> ring = Ring::Open(config, f);
  if (!ring) return nullptr;
  auto hub = std::shared_ptr<Hub>(new Hub());
  hub->ring_ = std::move(ring);
  return hub;
}

Hub::~Hub() {
  if (ring_) ring_->Close();
}

std::unique_ptr<Source> Hub::Attach(int fd, std::function<void()> on_ready, Failure* f) {
  uint64_t id = next_id_++;
  if (!ring_->ArmRecv(fd, id, f)) return nullptr;
  const uint64_t buffers = ring_->AreaSize() / ring_->RxBufLen();
  auto s = std::make_unique<Source>(shared_from_this(), id, fd, std::max<size_t>(8, buffers / 2), std::move(on_ready));
  sources_[id] = s.get();
  return s;
}

void Hub::Rearm(Source* s) {
  if (s->armed_ || s->paused_ || s->detached_ || s->eof_ || s->error_ != 0) return;
  Failure f;
  if (ring_->ArmRecv(s->fd_, s->id_, &f)) {
    s->armed_ = true;
    s->rearm_ = s->rearm_now_ = false;
    ++stats_.rearms;
  } else {
    s->error_ = f.errnum != 0 ? f.errnum : EIO;
  }
}

void Hub::Kick(uint64_t id) {
  if (ring_->Closed()) return;
  kicked_.push_back(id);
  ::eventfd_write(ring_->EventFd(), 1);
}

void Hub::OnReturned() {
  // A receive that ended for want of buffers can go on now that some are back.
  for (auto& [id, s] : sources_)
    if (s->rearm_) Rearm(s);
}

int Hub::Pump() {
  // One read takes the whole count and clears it (the eventfd is not a semaphore).
  uint64_t counter;
  (void)!::read(ring_->EventFd(), &counter, sizeof(counter));
  ++stats_.pumps;
  for (auto& [id, s] : sources_) s->BeginPump();
  std::vector<uint64_t> touched;
  int n = ring_->Pump([&](const Completion& c) {
    ++stats_.completions;
    if (c.user_data == kEventUserData) {
      if (c.res == static_cast<int32_t>(uapi::kZcrxEventAllocFail)) ++stats_.alloc_fail_events;
      if (c.res == static_cast<int32_t>(uapi::kZcrxEventCopy)) ++stats_.copy_events;
      if (c.res >= 0) ring_->ArmEvent(static_cast<uint32_t>(c.res));
      return;
    }
    if (c.user_data == kCancelUserData) return;
    auto it = sources_.find(c.user_data);
    if (it == sources_.end()) {
      // A socket that detached: its late buffers go straight back.
      if (c.res > 0) {
        ++stats_.data_completions;
        ring_->Return(c.area_off, static_cast<uint32_t>(c.res));
        ++stats_.returned_buffers;
      }
      return;
    }
    Source* s = it->second;
    if (c.res > 0) ++stats_.data_completions;
    if (c.res > 0) {
      s->Push(c.area_off, static_cast<uint32_t>(c.res));
      stats_.bytes += static_cast<uint64_t>(c.res);
    }
    if (!c.more) s->End(c.res > 0 ? -EAGAIN : c.res);
    if (touched.empty() || touched.back() != c.user_data) touched.push_back(c.user_data);
  });
  ring_->Flush();
  // Completions of many sockets interleave: each socket is handled once below.
  SortUnique(&touched);
  if (ring_->HasStats()) {
    uapi::ZcrxStats st = ring_->Stats();
    uint64_t delta = st.copy_bytes - last_copy_bytes_;
    last_copy_bytes_ = st.copy_bytes;
    if (delta > 0) {
      uint64_t total = 0;
      std::vector<Source*> pumped;
      for (uint64_t id : touched) {
        auto it = sources_.find(id);
        if (it == sources_.end() || it->second->PumpBytes() == 0) continue;
        pumped.push_back(it->second);
        total += it->second->PumpBytes();
      }
      Source* match = nullptr;
      if (delta == total) {
        for (Source* p : pumped) p->MarkPumpCopied();
        stats_.copied_bytes += delta;
      } else {
        for (Source* p : pumped)
          if (p->PumpBytes() == delta) match = p;
        if (match) {
          match->MarkPumpCopied();
          stats_.copied_bytes += delta;
        } else {
          stats_.unattributed_copy_bytes += delta;
        }
      }
    }
  }
  for (uint64_t id : touched) {
    auto it = sources_.find(id);
    if (it != sources_.end()) it->second->Throttle();
  }
  // Go on at once after running out of CQ room, or of buffers while this
  // socket holds none (only other sockets' releases can free them then).
  for (uint64_t id : touched) {
    auto it = sources_.find(id);
    if (it == sources_.end() || !it->second->rearm_) continue;
    Source* s = it->second;
    if (s->rearm_now_ || (s->slots_.empty() && s->ready_.empty())) Rearm(s);
  }
  touched.insert(touched.end(), kicked_.begin(), kicked_.end());
  kicked_.clear();
  SortUnique(&touched);
  for (uint64_t id : touched) {
    auto it = sources_.find(id);  // a callback may have detached it
    if (it != sources_.end()) it->second->NotifyReady();
  }
  if (n < 0) FailAll(-n);
  return n < 0 ? n : 0;
}

void Hub::FailAll(int err) {
  // The ring cannot be run any more, so no socket on it will see data again:
  // each one fails with the errno, which its owner reports.
  std::vector<uint64_t> failed;
  for (auto& [id, s] : sources_) {
    if (s->error_ != 0) continue;
    s->armed_ = false;
    s->error_ = err;
    failed.push_back(id);
  }
  for (uint64_t id : failed) {
    auto it = sources_.find(id);  // a callback may have detached it
    if (it != sources_.end()) it->second->NotifyReady();
  }
}

void Hub::Close() {
  if (ring_->Closed()) return;
  std::vector<uint64_t> ids;
  for (auto& [id, s] : sources_) {
    s->armed_ = false;
    if (s->error_ == 0) s->error_ = ESHUTDOWN;
    s->ready_.clear();  // the kernel takes every buffer back with the queue
    for (auto& slot : s->slots_) slot.held = false;
    ids.push_back(id);
  }
  ring_->Close();
  for (uint64_t id : ids) {
    auto it = sources_.find(id);
    if (it != sources_.end()) it->second->NotifyReady();
  }
}

}  // namespace devmem::zcrx

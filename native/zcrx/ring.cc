// SPDX-License-Identifier: MIT
#include "zcrx/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>

#if DEVMEM_HAVE_LIBURING
#include <liburing.h>
#endif

namespace devmem::zcrx {

namespace {

size_t PageSize() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }
size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

// The refill ring's header gets a page of its own, as the kernel's selftest
// lays it out: the kernel puts the entries at offsets.rqes, within that page.
constexpr size_t kRqHeaderRoom = 4096;

bool IoUringDisabled() {
  std::ifstream in("/proc/sys/kernel/io_uring_disabled");
  int v = 0;
  // 1 lets only the io_uring_group (and CAP_SYS_ADMIN) in, which the ring set-up reports itself.
  return (in >> v) && v == 2;
}

}  // namespace

#if DEVMEM_HAVE_LIBURING

struct Ring::Impl {
  io_uring ring{};
  bool ring_ok = false;
};

namespace {
constexpr unsigned kSetupFlags =
    uapi::kIoringSetupSingleIssuer | uapi::kIoringSetupDeferTaskrun | uapi::kIoringSetupCqe32;
static_assert(IORING_SETUP_SINGLE_ISSUER == uapi::kIoringSetupSingleIssuer);
static_assert(IORING_SETUP_DEFER_TASKRUN == uapi::kIoringSetupDeferTaskrun);
static_assert(IORING_SETUP_CQE32 == uapi::kIoringSetupCqe32);
static_assert(IORING_CQE_F_MORE == uapi::kIoringCqeFMore);
static_assert(offsetof(io_uring_sqe, file_index) == uapi::kSqeZcrxIfqIdxOffset);

int QueryZcrx(uapi::QueryZcrx* out) {
  uapi::QueryHdr hdr{};
  *out = {};
  hdr.query_op = uapi::kIoUringQueryZcrx;
  hdr.query_data = reinterpret_cast<uintptr_t>(out);
  hdr.size = sizeof(*out);
  int r = io_uring_register(static_cast<unsigned>(-1), uapi::kIoringRegisterQuery, &hdr, 0);
  if (r < 0) return r;
  return hdr.result;
}
}  // namespace

Features Probe() {
  Features f;
  f.built = true;
  f.disabled = IoUringDisabled();
  io_uring ring{};
  io_uring_params p{};
  p.flags = kSetupFlags;
  if (io_uring_queue_init_params(4, &ring, &p) == 0) {
    f.ring = true;
    uapi::ZcrxIfqReg empty{};
    int e = io_uring_register(static_cast<unsigned>(ring.ring_fd), uapi::kIoringRegisterZcrxIfq, &empty, 1);
    f.zcrx_errno = e < 0 ? -e : 0;
    io_uring_queue_exit(&ring);
  }
  uapi::QueryZcrx q;
  if (QueryZcrx(&q) == 0) {
    f.query = true;
    f.rx_buf_len = (q.features & uapi::kZcrxFeatureRxPageSize) != 0;
    f.events = (q.features & uapi::kZcrxFeatureEvent) != 0;
    f.rq_hdr_size = q.rq_hdr_size;
  }
  return f;
}

std::unique_ptr<Ring> Ring::Open(const RingConfig& c, Failure* f) {
  std::unique_ptr<Ring> r(new Ring());
  r->impl_ = std::make_unique<Impl>();
  Features feat = Probe();
  if (c.rx_buf_len != 0 && !feat.rx_buf_len) {
    *f = {EOPNOTSUPP, "io_uring_register",
          "this kernel takes no rx_buf_len for zcrx (newer kernels report it in IORING_REGISTER_QUERY)", std::nullopt,
          "KERNEL_TOO_OLD"};
    return nullptr;
  }

  // CQ room for a burst of completions: one per fragment, reaped after each pump.
  io_uring_params p{};
  p.flags = kSetupFlags | IORING_SETUP_CQSIZE;
  p.cq_entries = std::max<uint32_t>(4096, std::min<uint32_t>(2 * c.rq_entries, 65536));
  int e = io_uring_queue_init_params(64, &r->impl_->ring, &p);
  if (e < 0) {
    *f = {-e, "io_uring_setup", "cannot set up an io_uring with SINGLE_ISSUER, DEFER_TASKRUN and 32-byte CQEs",
          std::nullopt, ""};
    return nullptr;
  }
  r->impl_->ring_ok = true;
  io_uring* ring = &r->impl_->ring;

  r->event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->event_fd_ < 0) {
    *f = {errno, "eventfd", "cannot create the ring's eventfd", std::nullopt, ""};
    return nullptr;
  }
  if ((e = io_uring_register_eventfd(ring, r->event_fd_)) < 0) {
    *f = {-e, "io_uring_register", "cannot register the ring's eventfd", std::nullopt, ""};
    return nullptr;
  }

  const size_t page = PageSize();
  r->area_size_ = c.area_size;
  if (c.dmabuf_fd < 0) {
    void* a = ::mmap(nullptr, c.area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) {
      *f = {errno, "mmap", "cannot map the host-memory receive area", std::nullopt, ""};
      return nullptr;
    }
    r->host_area_ = static_cast<uint8_t*>(a);
  }

  const size_t stats_off =
      AlignUp(kRqHeaderRoom + size_t{c.rq_entries} * sizeof(uapi::ZcrxRqe), alignof(uapi::ZcrxStats));
  r->region_size_ = AlignUp(stats_off + sizeof(uapi::ZcrxStats), page);
  r->region_ =
      ::mmap(nullptr, r->region_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (r->region_ == MAP_FAILED) {
    r->region_ = nullptr;
    *f = {errno, "mmap", "cannot map the refill ring", std::nullopt, ""};
    return nullptr;
  }

  uapi::ZcrxAreaReg area{};
  if (c.dmabuf_fd >= 0) {
    area.addr = 0;
    area.flags = uapi::kZcrxAreaDmabuf;
    area.dmabuf_fd = static_cast<uint32_t>(c.dmabuf_fd);
  } else {
    area.addr = reinterpret_cast<uintptr_t>(r->host_area_);
  }
  area.len = c.area_size;

  uapi::RegionDesc region{};
  region.user_addr = reinterpret_cast<uintptr_t>(r->region_);
  region.size = r->region_size_;
  region.flags = uapi::kIoringMemRegionTypeUser;

  uapi::ZcrxEventDesc events{};
  uapi::ZcrxIfqReg reg{};
  reg.if_idx = c.ifindex;
  reg.if_rxq = c.queue;
  reg.rq_entries = c.rq_entries;
  reg.area_ptr = reinterpret_cast<uintptr_t>(&area);
  reg.region_ptr = reinterpret_cast<uintptr_t>(&region);
  reg.rx_buf_len = c.rx_buf_len;
  if (feat.events) {
    events.user_data = kEventUserData;
    events.type_mask = (1u << uapi::kZcrxEventAllocFail) | (1u << uapi::kZcrxEventCopy);
    events.flags = uapi::kZcrxEventDescFlagStats;
    events.stats_offset = stats_off;
    reg.event_desc = reinterpret_cast<uintptr_t>(&events);
  }
  e = io_uring_register(static_cast<unsigned>(ring->ring_fd), uapi::kIoringRegisterZcrxIfq, &reg, 1);
  if (e < 0) {
    *f = {-e, "io_uring_register", "IORING_REGISTER_ZCRX_IFQ failed", std::nullopt, ""};
    return nullptr;
  }
  r->zcrx_id_ = reg.zcrx_id;
  r->rq_entries_ = reg.rq_entries;
  r->rx_buf_len_ = reg.rx_buf_len != 0 ? reg.rx_buf_len : static_cast<uint32_t>(page);
  r->area_token_ = area.rq_area_token;
  uint8_t* base = static_cast<uint8_t*>(r->region_);
  r->rq_head_ = reinterpret_cast<uint32_t*>(base + reg.offsets.head);
  r->rq_tail_ = reinterpret_cast<uint32_t*>(base + reg.offsets.tail);
  r->rqes_ = reinterpret_cast<uapi::ZcrxRqe*>(base + reg.offsets.rqes);
  if (feat.events) r->stats_ = reinterpret_cast<const uapi::ZcrxStats*>(base + stats_off);
  return r;
}

void Ring::Close() {
  if (closed_) return;
  closed_ = true;
  // The kernel unregisters the queue in the ring's exit work, shortly after.
  if (impl_ && impl_->ring_ok) io_uring_queue_exit(&impl_->ring);
  impl_->ring_ok = false;
  if (event_fd_ >= 0) ::close(event_fd_);
  event_fd_ = -1;
}

Ring::~Ring() {
  Close();
  // The kernel pins the area's pages itself: unmapping ours is safe at any time.
  if (region_) ::munmap(region_, region_size_);
  if (host_area_) ::munmap(host_area_, area_size_);
}

uapi::ZcrxStats Ring::Stats() const {
  if (!stats_) return {};
  uapi::ZcrxStats s;
  s.copy_count = __atomic_load_n(&stats_->copy_count, __ATOMIC_RELAXED);
  s.copy_bytes = __atomic_load_n(&stats_->copy_bytes, __ATOMIC_RELAXED);
  return s;
}

bool Ring::Submit(Failure* f) {
  int e = io_uring_submit(&impl_->ring);
  if (e < 0) {
    *f = {-e, "io_uring_enter", "cannot submit to the zcrx ring", std::nullopt, ""};
    return false;
  }
  return true;
}

// A free SQE, submitting what is queued first if the SQ is full.
io_uring_sqe* Ring::NextSqe(Failure* f) {
  io_uring_sqe* sqe = io_uring_get_sqe(&impl_->ring);
  if (sqe) return sqe;
  if (!Submit(f)) return nullptr;
  sqe = io_uring_get_sqe(&impl_->ring);
  if (!sqe) *f = {EBUSY, "io_uring_get_sqe", "the zcrx ring's submission queue is full", std::nullopt, ""};
  return sqe;
}

bool Ring::ArmRecv(int sock_fd, uint64_t user_data, Failure* f) {
  if (closed_) {
    *f = {ESHUTDOWN, "io_uring_enter", "the zcrx queue is closed", std::nullopt, "CLOSED"};
    return false;
  }
  io_uring_sqe* sqe = NextSqe(f);
  if (!sqe) return false;
  io_uring_prep_rw(uapi::kIoringOpRecvZc, sqe, sock_fd, nullptr, 0, 0);
  sqe->ioprio |= uapi::kIoringRecvMultishot;
  sqe->file_index = zcrx_id_;
  io_uring_sqe_set_data64(sqe, user_data);
  return Submit(f);
}

bool Ring::CancelRecv(uint64_t user_data, Failure* f) {
  if (closed_) return true;  // closing the ring ended every request
  io_uring_sqe* sqe = NextSqe(f);
  if (!sqe) return false;
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, kCancelUserData);
  return Submit(f);
}

void Ring::ArmEvent(uint32_t type) {
  if (closed_) return;
  uapi::ZcrxCtrl ctrl{};
  ctrl.zcrx_id = zcrx_id_;
  ctrl.op = uapi::kZcrxCtrlArmEvent;
  ctrl.event_type = type;
  io_uring_register(static_cast<unsigned>(impl_->ring.ring_fd), uapi::kIoringRegisterZcrxCtrl, &ctrl, 0);
}

int Ring::Pump(const std::function<void(const Completion&)>& fn) {
  if (closed_) return 0;
  io_uring* ring = &impl_->ring;
  // With DEFER_TASKRUN the receive work queued by the network stack runs
  // here, in this thread, and posts its completions before this returns.
  int e = io_uring_get_events(ring);
  if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY) return e;
  int total = 0;
  io_uring_cqe* cqe;
  unsigned head, n = 0;
  io_uring_for_each_cqe(ring, head, cqe) {
    Completion c{cqe->user_data, cqe->res, (cqe->flags & IORING_CQE_F_MORE) != 0, 0};
    if (c.res > 0 && c.user_data < kCancelUserData)
      c.area_off = reinterpret_cast<const uapi::ZcrxCqe*>(cqe + 1)->off & ~uapi::kZcrxAreaMask;
    fn(c);
    ++n;
  }
  io_uring_cq_advance(ring, n);
  total += static_cast<int>(n);
  return total;
}

void Ring::Return(uint64_t area_off, uint32_t len) {
  if (closed_) return;  // the kernel took every buffer back with the queue
  uint32_t head = __atomic_load_n(rq_head_, __ATOMIC_ACQUIRE);
  if (!backlog_.empty() || rq_local_tail_ - head >= rq_entries_) {
    backlog_.push_back({area_token_ | area_off, len, 0});
    return;
  }
  rqes_[rq_local_tail_ & (rq_entries_ - 1)] = {area_token_ | area_off, len, 0};
  ++rq_local_tail_;
}

void Ring::Flush() {
  if (closed_) return;
  if (!backlog_.empty()) {
    uint32_t head = __atomic_load_n(rq_head_, __ATOMIC_ACQUIRE);
    size_t i = 0;
    for (; i < backlog_.size() && rq_local_tail_ - head < rq_entries_; ++i)
      rqes_[rq_local_tail_++ & (rq_entries_ - 1)] = backlog_[i];
    backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  // The kernel reads entries up to the tail it sees: publish them after they are written.
  __atomic_store_n(rq_tail_, rq_local_tail_, __ATOMIC_RELEASE);
}

#else  // !DEVMEM_HAVE_LIBURING

struct Ring::Impl {};

Features Probe() {
  Features f;
  f.disabled = IoUringDisabled();
  return f;
}

std::unique_ptr<Ring> Ring::Open(const RingConfig&, Failure* f) {
  *f = {EOPNOTSUPP, "io_uring_setup",
        "this build of devmem-tcp has no io_uring support: install liburing-dev (2.9 or later) and rebuild (npm "
        "rebuild devmem-tcp)",
        std::nullopt, "ZCRX_UNSUPPORTED"};
  return nullptr;
}
Ring::~Ring() = default;
void Ring::Close() { closed_ = true; }
uapi::ZcrxStats Ring::Stats() const { return {}; }
bool Ring::Submit(Failure*) { return false; }
bool Ring::ArmRecv(int, uint64_t, Failure*) { return false; }
bool Ring::CancelRecv(uint64_t, Failure*) { return false; }
void Ring::ArmEvent(uint32_t) {}
int Ring::Pump(const std::function<void(const Completion&)>&) { return 0; }
void Ring::Return(uint64_t, uint32_t) {}
void Ring::Flush() {}

#endif  // DEVMEM_HAVE_LIBURING

}  // namespace devmem::zcrx

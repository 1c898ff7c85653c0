// SPDX-License-Identifier: MIT
//
// One io_uring zero-copy receive interface queue: an io_uring (liburing) set
// up SINGLE_ISSUER | DEFER_TASKRUN with 32-byte CQEs (every data completion on
// this ring is a big one, so CQE_MIXED would save nothing), an eventfd that says
// when it has work, the receive area (host memory mapped here, or a dma-buf)
// and the refill ring through which consumed buffers go back to the NIC.
//
// Everything runs on the thread that opened it, which is the only thread the
// kernel lets submit (SINGLE_ISSUER) and the one whose io_uring_enter runs
// the receive work (DEFER_TASKRUN). Closing the ring unregisters the queue:
// the kernel restarts it without the provider.
#ifndef DEVMEM_TCP_ZCRX_RING_H_
#define DEVMEM_TCP_ZCRX_RING_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/failure.h"
#include "uapi/zcrx_uapi.h"

struct io_uring_sqe;  // liburing's, included only by ring.cc

namespace devmem::zcrx {

struct RingConfig {
  uint32_t ifindex = 0;
  uint32_t queue = 0;
  uint32_t rq_entries = 0;  // a power of two, at most uapi::kZcrxMaxRqEntries
  uint32_t rx_buf_len = 0;  // 0: the kernel's default (the page size)
  int dmabuf_fd = -1;       // -1: host memory of area_size, mapped by the ring
  uint64_t area_size = 0;   // a multiple of the page size
};

// What the kernel run-time supports, found without registering anything.
struct Features {
  bool built = false;  // this addon was built with liburing
  bool ring = false;   // io_uring with SINGLE_ISSUER | DEFER_TASKRUN | CQE32 can be set up
  // What IORING_REGISTER_ZCRX_IFQ says to an empty request: EFAULT (it read
  // the null region: zcrx is there), EOPNOTSUPP (no CONFIG_IO_URING_ZCRX),
  // EINVAL (no such register opcode: before 6.15), EPERM (no CAP_NET_ADMIN).
  int zcrx_errno = 0;
  bool disabled = false;  // kernel.io_uring_disabled forbids it
  bool query = false;     // IORING_REGISTER_QUERY answered for zcrx (6.18)
  bool rx_buf_len = false;
  bool events = false;  // ZCRX_EVENT_* and copy statistics (7.2)
  uint32_t rq_hdr_size = 0;
};
Features Probe();

struct Completion {
  uint64_t user_data;
  int32_t res;
  bool more;          // IORING_CQE_F_MORE: the request goes on
  uint64_t area_off;  // with res > 0: where the bytes are, in the area
};

// Reserved user_data values; sockets use their own ids below these.
inline constexpr uint64_t kEventUserData = ~uint64_t{0};
inline constexpr uint64_t kCancelUserData = ~uint64_t{0} - 1;

class Ring {
 public:
  // Registers the interface queue. On failure nothing stays registered and
  // `f` says which step failed with the kernel's errno.
  static std::unique_ptr<Ring> Open(const RingConfig& config, Failure* f);
  // Closes the ring, which unregisters the queue; the mappings stay until
  // the Ring is destroyed, so views of the host area stay valid.
  void Close();
  bool Closed() const { return closed_; }
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  int EventFd() const { return event_fd_; }
  uint32_t ZcrxId() const { return zcrx_id_; }
  uint32_t RxBufLen() const { return rx_buf_len_; }
  uint32_t RqEntries() const { return rq_entries_; }
  uint64_t AreaSize() const { return area_size_; }
  // The host-memory area (nullptr for a dma-buf area).
  uint8_t* HostArea() const { return host_area_; }
  bool HasStats() const { return stats_ != nullptr; }
  // The kernel's cumulative copy-fallback counters (zeros without them).
  uapi::ZcrxStats Stats() const;

  // A multishot RECV_ZC on `sock_fd`; completions carry `user_data`.
  bool ArmRecv(int sock_fd, uint64_t user_data, Failure* f);
  // Asks the kernel to end the request with `user_data` (its last CQE follows).
  bool CancelRecv(uint64_t user_data, Failure* f);
  // Re-arms an event the kernel reported (it reports each type once until then).
  void ArmEvent(uint32_t type);

  // Runs the deferred receive work, then hands every completion to `fn`.
  // Returns the number of completions, or -errno.
  int Pump(const std::function<void(const Completion&)>& fn);

  // Gives one buffer back; Flush() publishes the returns to the kernel.
  // Returns the ring would take is held here and published as room appears.
  void Return(uint64_t area_off, uint32_t len);
  void Flush();
  size_t Backlog() const { return backlog_.size(); }

 private:
  Ring() = default;
  bool Submit(Failure* f);
  ::io_uring_sqe* NextSqe(Failure* f);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool closed_ = false;
  int event_fd_ = -1;
  uint32_t zcrx_id_ = 0;
  uint32_t rx_buf_len_ = 0;
  uint32_t rq_entries_ = 0;
  uint64_t area_size_ = 0;
  uint64_t area_token_ = 0;
  uint8_t* host_area_ = nullptr;
  void* region_ = nullptr;
  size_t region_size_ = 0;
  uint32_t* rq_head_ = nullptr;
  uint32_t* rq_tail_ = nullptr;
  uapi::ZcrxRqe* rqes_ = nullptr;
  uint32_t rq_local_tail_ = 0;
  const uapi::ZcrxStats* stats_ = nullptr;
  std::vector<uapi::ZcrxRqe> backlog_;
};

}  // namespace devmem::zcrx

#endif  // DEVMEM_TCP_ZCRX_RING_H_

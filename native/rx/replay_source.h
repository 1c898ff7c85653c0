// SPDX-License-Identifier: MIT
//
// A receive source that plays the kernel's part from recorded control
// buffers: each recvmsg copies the next buffer into the caller's control area
// (as put_cmsg does) and returns its byte count; DONTNEED calls are checked
// against the kernel's limits and answered with the fragments they name, or
// fail with a chosen errno from a chosen call on. Used by the
// fragment-pipeline benchmark and by tests of the release path.
#ifndef DEVMEM_TCP_RX_REPLAY_SOURCE_H_
#define DEVMEM_TCP_RX_REPLAY_SOURCE_H_

#include <cstdint>
#include <vector>

#include "rx/rx_source.h"

namespace devmem::rx {

class ReplaySource final : public RxSource {
 public:
  struct Record {
    std::vector<uint8_t> control;
    size_t nbytes;  // what recvmsg returns with this control area
  };
  // Plays `records` round-robin for `recvmsgs` calls, then reports end of stream.
  ReplaySource(std::vector<Record> records, uint64_t recvmsgs);

  // From DONTNEED call number `after` (0: the first) on, fail with `err`.
  void FailDontneedFrom(uint64_t after, int err) {
    fail_from_ = after;
    fail_errno_ = err;
  }

  ssize_t Recvmsg(int fd, msghdr* msg, int flags) override;
  int Dontneed(int fd, const uapi::DmabufToken* ranges, size_t count) override;

 private:
  std::vector<Record> records_;
  uint64_t left_;
  size_t next_ = 0;
  uint64_t dontneed_calls_ = 0;
  uint64_t fail_from_ = 0;
  int fail_errno_ = 0;
};

}  // namespace devmem::rx

#endif  // DEVMEM_TCP_RX_REPLAY_SOURCE_H_

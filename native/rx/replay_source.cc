// SPDX-License-Identifier: MIT
#include "rx/replay_source.h"

#include <errno.h>

#include <algorithm>
#include <cstring>

namespace devmem::rx {

ReplaySource::ReplaySource(std::vector<Record> records, uint64_t recvmsgs)
    : records_(std::move(records)), left_(records_.empty() ? 0 : recvmsgs) {}

ssize_t ReplaySource::Recvmsg(int, msghdr* msg, int) {
  if (left_ == 0) return 0;
  const Record& r = records_[next_];
  size_t room = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) room += msg->msg_iov[i].iov_len;
  if (r.nbytes > room) {
    // The kernel never returns more than the iov can take, dma-buf bytes included.
    errno = EMSGSIZE;
    return -1;
  }
  if (msg->msg_controllen < r.control.size()) {
    // The kernel's answer when not even one cmsg fits; the caller grows the area.
    errno = uapi::kEtoosmall;
    return -1;
  }
  std::memcpy(msg->msg_control, r.control.data(), r.control.size());
  msg->msg_controllen = r.control.size();
  msg->msg_flags = 0;
  --left_;
  next_ = (next_ + 1) % records_.size();
  return static_cast<ssize_t>(r.nbytes);
}

int ReplaySource::Dontneed(int, const uapi::DmabufToken* ranges, size_t count) {
  if (fail_errno_ != 0 && dontneed_calls_++ >= fail_from_) {
    errno = fail_errno_;
    return -1;
  }
  if (count == 0 || count > uapi::kMaxDontneedTokens) {
    errno = EINVAL;
    return -1;
  }
  // Like the kernel: stop once the fragment limit is reached.
  uint64_t freed = 0;
  for (size_t i = 0; i < count && freed < uapi::kMaxDontneedFrags; ++i)
    freed += std::min<uint64_t>(ranges[i].token_count, uapi::kMaxDontneedFrags - freed);
  return static_cast<int>(freed);
}

}  // namespace devmem::rx

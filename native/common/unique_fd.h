// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_COMMON_UNIQUE_FD_H_
#define DEVMEM_TCP_COMMON_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace devmem {

// Owns one file descriptor. Closing is the only way a netlink-owned binding
// ends, so ownership has to be explicit and move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace devmem

#endif  // DEVMEM_TCP_COMMON_UNIQUE_FD_H_

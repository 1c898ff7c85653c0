// SPDX-License-Identifier: MIT
#include "netlink/socket.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <vector>

#include "uapi/devmem_uapi.h"

namespace devmem::nl {

namespace {
// A reply the kernel has not sent within this time is not coming; without a
// bound a wedged request would pin a libuv thread-pool thread forever.
constexpr time_t kReplyTimeoutSec = 30;
// NLMSG_GOODSIZE is at most 8 KiB, but dumps may batch up to 32 KiB.
constexpr size_t kRecvBufSize = 64 * 1024;
}  // namespace

bool NetlinkSocket::Open(int protocol, Failure* f) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    *f = {errno, "socket", "cannot open a netlink socket", std::nullopt};
    return false;
  }
  fd_.Reset(fd);
  int one = 1;
  namespace ea = uapi::extack;
  // Without these the kernel echoes our whole request back and drops the
  // error strings, which are often the only explanation a bind failure has.
  if (::setsockopt(fd, ea::kSolNetlink, ea::kOptExtAck, &one, sizeof(one)) < 0 ||
      ::setsockopt(fd, ea::kSolNetlink, ea::kOptCapAck, &one, sizeof(one)) < 0) {
    *f = {errno, "setsockopt", "cannot enable netlink extended ACKs", std::nullopt};
    fd_.Reset();
    return false;
  }
  timeval tv{kReplyTimeoutSec, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) < 0) {
    *f = {errno, "bind", "cannot bind the netlink socket", std::nullopt};
    fd_.Reset();
    return false;
  }
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  seq_ = static_cast<uint32_t>(ts.tv_nsec ^ ts.tv_sec);
  return true;
}

bool NetlinkSocket::Transact(RequestBuilder& req, bool dump, ReplyCollector* out, Failure* f) {
  req.SetSeq(seq_);
  *out = ReplyCollector(seq_, dump);
  ++seq_;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const auto& bytes = req.Bytes();
  ssize_t sent;
  do {
    sent = ::sendto(fd_.Get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    *f = {errno, "sendto", "cannot send the netlink request", std::nullopt};
    return false;
  }

  std::vector<uint8_t> buf(kRecvBufSize);
  while (out->state() == ReplyCollector::State::kNeedMore) {
    sockaddr_nl from{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_.Get(), &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *f = {ETIMEDOUT, "recvmsg", "the kernel did not answer the netlink request", std::nullopt};
      } else {
        *f = {errno, "recvmsg", "cannot receive the netlink reply", std::nullopt};
      }
      return false;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      *f = {EMSGSIZE, "recvmsg", "netlink reply larger than the receive buffer", std::nullopt};
      return false;
    }
    if (from.nl_pid != 0) continue;  // only the kernel may answer
    out->Feed(buf.data(), static_cast<size_t>(n));
  }
  if (out->state() == ReplyCollector::State::kMalformed) {
    *f = {EPROTO, "recvmsg", "malformed netlink reply: " + out->malformed_reason(), std::nullopt};
    return false;
  }
  return true;
}

}  // namespace devmem::nl

// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_NETLINK_SOCKET_H_
#define DEVMEM_TCP_NETLINK_SOCKET_H_

#include <cstdint>

#include "common/failure.h"
#include "common/unique_fd.h"
#include "netlink/reply.h"
#include "netlink/request.h"

namespace devmem::nl {

// A blocking netlink socket used for one request at a time. Always
// SOCK_CLOEXEC: a binding lives as long as the socket that made it, and an
// fd inherited by a child process would silently keep the binding alive.
class NetlinkSocket {
 public:
  // protocol: NETLINK_GENERIC or NETLINK_ROUTE. Returns false and fills `f`
  // on failure.
  bool Open(int protocol, Failure* f);
  // Sends `req` (its sequence number is assigned here) and collects the
  // answer. Returns false on a local failure (syscall, timeout, malformed
  // reply); a kernel error is reported through out->error().
  bool Transact(RequestBuilder& req, bool dump, ReplyCollector* out, Failure* f);

  int Fd() const { return fd_.Get(); }
  void Close() { fd_.Reset(); }

 private:
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_SOCKET_H_

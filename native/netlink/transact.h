// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_NETLINK_TRANSACT_H_
#define DEVMEM_TCP_NETLINK_TRANSACT_H_

#include <vector>

#include "common/failure.h"
#include "netlink/reply.h"
#include "netlink/request.h"
#include "netlink/socket.h"
#include "netlink/spec.h"

namespace devmem::nl {

// One encoded request for a spec'd command, ready to run on any thread.
struct PreparedRequest {
  const FamilySpec* family;
  const CommandSpec* command;
  bool dump;
  RequestBuilder builder;
};

// Builds the fixed header for `cmd` and returns the request to fill in.
PreparedRequest Prepare(const FamilySpec& family, const CommandSpec& cmd, bool dump, int32_t ifindex_hdr);

// Runs `req` on `sock` (opened here when it is not yet open). Kernel errors
// come back as a Failure whose extack names the offending attribute.
bool Execute(NetlinkSocket* sock, PreparedRequest& req, std::vector<ReplyMessage>* replies, Failure* f);

// The attribute payload of a reply message: past genlmsghdr or ifinfomsg.
size_t FixedHeaderLength(const FamilySpec& family);

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_TRANSACT_H_

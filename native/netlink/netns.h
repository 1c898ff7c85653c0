// SPDX-License-Identifier: MIT
//
// Netlink sockets in another network namespace. A netlink socket belongs to
// the namespace its creating thread was in when it called socket(), and stays
// there; so the thread steps into the namespace for the socket() call only.
// Everything the socket then does (genl requests, rtnetlink) happens there.
#ifndef DEVMEM_TCP_NETLINK_NETNS_H_
#define DEVMEM_TCP_NETLINK_NETNS_H_

#include <cstdint>

#include "common/failure.h"
#include "netlink/socket.h"

namespace devmem::nl {

// Opens `sock` (NETLINK_GENERIC or NETLINK_ROUTE) inside the network namespace
// that `netns_fd` (an open /run/netns/NAME or /proc/PID/ns/net) refers to. The
// calling thread is back in its own namespace when this returns.
bool OpenSocketInNetns(NetlinkSocket* sock, int protocol, int netns_fd, Failure* f);

// The id the namespace `netns_fd` has for the namespace `peer_fd`, as
// RTM_GETNSID reports it, first assigning one (RTM_NEWNSID) when it has none.
bool PeerNetnsId(int netns_fd, int peer_fd, int32_t* id, Failure* f);

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_NETNS_H_

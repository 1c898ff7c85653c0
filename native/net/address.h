// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_NET_ADDRESS_H_
#define DEVMEM_TCP_NET_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace devmem::net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int Family() const { return storage.ss_family; }
};

// Parses an IPv4 or IPv6 literal (hostnames are resolved in JS first).
bool ParseAddress(const std::string& host, uint16_t port, SocketAddress* out);

// "a.b.c.d" or an IPv6 literal, and the port, of a socket address.
std::string FormatHost(const sockaddr_storage& ss);
uint16_t FormatPort(const sockaddr_storage& ss);

}  // namespace devmem::net

#endif  // DEVMEM_TCP_NET_ADDRESS_H_

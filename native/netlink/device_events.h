// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_NETLINK_DEVICE_EVENTS_H_
#define DEVMEM_TCP_NETLINK_DEVICE_EVENTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace devmem::nl {

// What one read from a socket subscribed to the netdev family's "mgmt"
// multicast group said about devices going away.
struct DeviceEvents {
  // ifindexes named by dev-del-ntf messages, in arrival order.
  std::vector<uint32_t> removed;
  // Messages that were cut short or badly formed. They are skipped, not
  // trusted: a bad length stops the walk of that datagram.
  uint32_t malformed = 0;
};

// Walks one datagram of netlink messages. Only dev-del-ntf messages of the
// family `family_id` count; dev-add, dev-change and anything else are
// ignored. Pure, so it is fed ABI-exact buffers in tests and by the fuzzer.
void ParseDeviceEvents(const uint8_t* buf, size_t len, uint16_t family_id, DeviceEvents* out);

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_DEVICE_EVENTS_H_

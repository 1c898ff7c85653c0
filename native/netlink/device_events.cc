// SPDX-License-Identifier: MIT
#include "netlink/device_events.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "netlink/attr.h"
#include "uapi/devmem_uapi.h"

namespace devmem::nl {

void ParseDeviceEvents(const uint8_t* buf, size_t len, uint16_t family_id, DeviceEvents* out) {
  size_t pos = 0;
  while (len - pos >= sizeof(nlmsghdr)) {
    nlmsghdr h = LoadUnaligned<nlmsghdr>(buf + pos);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > len - pos) {
      ++out->malformed;
      return;
    }
    const uint8_t* payload = buf + pos + NLMSG_HDRLEN;
    size_t plen = h.nlmsg_len - NLMSG_HDRLEN;
    if (h.nlmsg_type == family_id) {
      if (plen < GENL_HDRLEN) {
        ++out->malformed;
      } else if (payload[0] == uapi::netdev::kDevDelNtf) {
        bool found = false;
        bool ok = ForEachAttr(payload + GENL_HDRLEN, plen - GENL_HDRLEN, [&](const AttrView& a) {
          if (a.type == uapi::netdev::kDevIfindex && a.len == 4) {
            out->removed.push_back(LoadUnaligned<uint32_t>(a.data));
            found = true;
            return false;
          }
          return true;
        });
        if (!ok || !found) ++out->malformed;
      }
    }
    pos += NLMSG_ALIGN(h.nlmsg_len);
    if (pos > len) return;
  }
  if (pos != len) ++out->malformed;
}

}  // namespace devmem::nl

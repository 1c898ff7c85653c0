// SPDX-License-Identifier: MIT
#include "netlink/reply.h"

#include <linux/netlink.h>

#include <cstring>

#include "netlink/attr.h"
#include "uapi/devmem_uapi.h"

namespace devmem::nl {

namespace ea = devmem::uapi::extack;

ReplyCollector::State ReplyCollector::Malformed(std::string why) {
  malformed_ = std::move(why);
  state_ = State::kMalformed;
  return state_;
}

void ReplyCollector::ParseExtack(const uint8_t* tlvs, size_t len) {
  bool ok = ForEachAttr(tlvs, len, [&](const AttrView& a) {
    switch (a.type) {
      case ea::kMsg: {
        size_t n = strnlen(reinterpret_cast<const char*>(a.data), a.len);
        extack_.message.assign(reinterpret_cast<const char*>(a.data), n);
        extack_.present = true;
        break;
      }
      case ea::kOffs:
        if (a.len >= 4) extack_.offset = LoadUnaligned<uint32_t>(a.data), extack_.present = true;
        break;
      case ea::kMissType:
        if (a.len >= 4) extack_.missing_type = LoadUnaligned<uint32_t>(a.data), extack_.present = true;
        break;
      case ea::kMissNest:
        if (a.len >= 4) extack_.missing_nest = LoadUnaligned<uint32_t>(a.data), extack_.present = true;
        break;
      default: break;
    }
    return true;
  });
  // A damaged TLV area must not hide the errno we already have; keep what parsed.
  (void)ok;
}

ReplyCollector::State ReplyCollector::Feed(const uint8_t* data, size_t len) {
  if (state_ != State::kNeedMore) return state_;
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < NLMSG_HDRLEN)
      return Malformed("truncated netlink header (" + std::to_string(len - pos) + " bytes left)");
    nlmsghdr hdr;
    std::memcpy(&hdr, data + pos, sizeof(hdr));
    if (hdr.nlmsg_len < NLMSG_HDRLEN || hdr.nlmsg_len > len - pos)
      return Malformed("netlink message length " + std::to_string(hdr.nlmsg_len) + " does not fit the " +
                       std::to_string(len - pos) + " bytes received");
    const uint8_t* payload = data + pos + NLMSG_HDRLEN;
    size_t plen = hdr.nlmsg_len - NLMSG_HDRLEN;
    pos += NLMSG_ALIGN(hdr.nlmsg_len);

    if (hdr.nlmsg_seq != seq_) {
      ++skipped_;
      continue;
    }
    if (hdr.nlmsg_type == NLMSG_NOOP) continue;
    if (hdr.nlmsg_type == NLMSG_OVERRUN) return Malformed("netlink overrun: replies were lost");

    if (hdr.nlmsg_type == NLMSG_ERROR) {
      if (plen < sizeof(int32_t) + NLMSG_HDRLEN)
        return Malformed("NLMSG_ERROR too short (" + std::to_string(plen) + " bytes)");
      int32_t err = LoadUnaligned<int32_t>(payload);
      if (err > 0) return Malformed("NLMSG_ERROR with positive error " + std::to_string(err));
      error_ = err;
      if (hdr.nlmsg_flags & ea::kFlagAckTlvs) {
        // The echoed request is only its header when the ACK is capped.
        size_t echoed = NLMSG_HDRLEN;
        if (!(hdr.nlmsg_flags & ea::kFlagCapped)) {
          uint32_t orig_len = LoadUnaligned<uint32_t>(payload + sizeof(int32_t));
          echoed = NLMSG_ALIGN(orig_len);
        }
        size_t tlv_start = sizeof(int32_t) + echoed;
        if (tlv_start > plen) return Malformed("NLMSG_ERROR extack area out of bounds");
        ParseExtack(payload + tlv_start, plen - tlv_start);
      }
      // A dump only ends with NLMSG_DONE, but an error ends it early.
      if (err != 0 || !dump_) return state_ = State::kDone;
      continue;
    }

    if (hdr.nlmsg_type == NLMSG_DONE) {
      if (!dump_) return Malformed("NLMSG_DONE in reply to a non-dump request");
      if (plen >= sizeof(int32_t)) {
        int32_t err = LoadUnaligned<int32_t>(payload);
        if (err > 0) return Malformed("NLMSG_DONE with positive error " + std::to_string(err));
        error_ = err;
        if (hdr.nlmsg_flags & ea::kFlagAckTlvs) ParseExtack(payload + sizeof(int32_t), plen - sizeof(int32_t));
      }
      return state_ = State::kDone;
    }

    if (hdr.nlmsg_type < NLMSG_MIN_TYPE)
      return Malformed("unexpected netlink control message type " + std::to_string(hdr.nlmsg_type));
    messages_.push_back({hdr.nlmsg_type, hdr.nlmsg_flags, std::vector<uint8_t>(payload, payload + plen)});
  }
  return state_;
}

}  // namespace devmem::nl

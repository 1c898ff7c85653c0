// SPDX-License-Identifier: MIT
#include "rx/fragments.h"

#include <sys/socket.h>

#include <cstring>

#include "uapi/devmem_uapi.h"

namespace devmem::rx {

void FragmentColumns::Clear() {
  offsets.clear();
  sizes.clear();
  tokens.clear();
  dmabuf_ids.clear();
  kinds.clear();
  linear_bytes = 0;
  dmabuf_bytes = 0;
  copied_bytes = 0;
}

void FragmentColumns::Reserve(size_t more) {
  size_t want = kinds.size() + more;
  if (want <= kinds.capacity()) return;
  offsets.reserve(want);
  sizes.reserve(want);
  tokens.reserve(want);
  dmabuf_ids.reserve(want);
  kinds.reserve(want);
}

ParseOutcome ParseRecvmsg(const uint8_t* control, size_t controllen, int msg_flags, size_t nbytes, uint32_t expected_id,
                          FragmentColumns* out) {
  ParseOutcome o;
  size_t linear_used = 0;
  size_t dmabuf_total = 0;
  bool saw_devmem = false;
  // One reservation per recvmsg instead of five capacity checks growing per fragment.
  out->Reserve(controllen / CMSG_SPACE(sizeof(uapi::DmabufCmsg)) + 1);

  // Walk the cmsgs by hand with the same arithmetic as CMSG_NXTHDR, but
  // bounds-checked against controllen so a bad length cannot walk off.
  size_t pos = 0;
  while (controllen - pos >= sizeof(cmsghdr)) {
    cmsghdr h;
    std::memcpy(&h, control + pos, sizeof(h));
    if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > controllen - pos) {
      o.error = ParseError::kMalformed;
      o.detail = "cmsg length " + std::to_string(h.cmsg_len) + " does not fit the control buffer";
      break;
    }
    const uint8_t* data = control + pos + CMSG_LEN(0);
    size_t dlen = h.cmsg_len - CMSG_LEN(0);
    if (h.cmsg_level == SOL_SOCKET &&
        (h.cmsg_type == uapi::kScmDevmemDmabuf || h.cmsg_type == uapi::kScmDevmemLinear)) {
      if (dlen < sizeof(uapi::DmabufCmsg)) {
        o.error = ParseError::kMalformed;
        o.detail =
            "devmem cmsg of " + std::to_string(dlen) + " bytes, expected " + std::to_string(sizeof(uapi::DmabufCmsg));
        break;
      }
      uapi::DmabufCmsg d;
      std::memcpy(&d, data, sizeof(d));
      saw_devmem = true;
      if (h.cmsg_type == uapi::kScmDevmemDmabuf) {
        out->Push(kDmabuf, static_cast<double>(d.frag_offset), d.frag_size, d.frag_token, d.dmabuf_id);
        dmabuf_total += d.frag_size;
        ++o.fragments;
        if (expected_id != 0 && d.dmabuf_id != expected_id && o.error == ParseError::kNone) {
          o.error = ParseError::kFlowSteering;
          o.foreign_id = d.dmabuf_id;
        }
      } else {
        if (d.frag_size > nbytes - linear_used) {
          o.error = ParseError::kMalformed;
          o.detail = "SCM_DEVMEM_LINEAR of " + std::to_string(d.frag_size) + " bytes overruns the data returned";
          break;
        }
        out->Push(kLinear, static_cast<double>(out->linear_bytes), d.frag_size, 0, 0);
        out->linear_bytes += d.frag_size;
        linear_used += d.frag_size;
        ++o.fragments;
      }
    }
    pos += CMSG_ALIGN(h.cmsg_len);
    if (pos > controllen) break;
  }

  if (o.error == ParseError::kMalformed) {
    // Nothing after a bad cmsg can be trusted; the fragments before it stay
    // appended so that their tokens are returned.
  } else if (!saw_devmem && nbytes > 0) {
    // Ordinary data: the flow did not come through a bound queue.
    out->Push(kHost, static_cast<double>(out->linear_bytes), static_cast<uint32_t>(nbytes), 0, 0);
    out->linear_bytes += nbytes;
    ++o.fragments;
    linear_used = nbytes;
  } else if (linear_used + dmabuf_total != nbytes && o.error == ParseError::kNone) {
    o.error = ParseError::kMalformed;
    o.detail = "fragments add up to " + std::to_string(linear_used + dmabuf_total) + " bytes but recvmsg returned " +
               std::to_string(nbytes);
  }
  // A truncated area also looks malformed; the kernel's flag is the real
  // cause and wins (see docs/kernel-notes.md#truncated-control-messages).
  if (msg_flags & MSG_CTRUNC) {
    o.error = ParseError::kControlTruncated;
    o.detail = "MSG_CTRUNC: the kernel dropped control messages, and with them fragment tokens";
  }
  return o;
}

}  // namespace devmem::rx

// SPDX-License-Identifier: MIT
//
// Bounds-checked walking of netlink attribute streams. Everything the kernel
// (or a fuzzer) hands us goes through here, so no read ever trusts a length.
#ifndef DEVMEM_TCP_NETLINK_ATTR_H_
#define DEVMEM_TCP_NETLINK_ATTR_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "uapi/devmem_uapi.h"

namespace devmem::nl {

inline constexpr size_t kAlign = uapi::nla::kAlignTo;
inline constexpr size_t Align(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
inline constexpr uint16_t kNlaFNested = uapi::nla::kFNested;
inline constexpr uint16_t kNlaTypeMask = ~(uapi::nla::kFNested | uapi::nla::kFNetByteorder) & 0xffff;
inline constexpr size_t kNlaHdrLen = uapi::nla::kHdrLen;

struct AttrView {
  uint16_t type;  // without the NESTED/BYTEORDER flag bits
  bool nested_flag;
  const uint8_t* data;
  size_t len;
};

template <typename T>
inline T LoadUnaligned(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Calls fn(AttrView) for each attribute in [data, data+len). Returns false if
// the stream is malformed (a header that does not fit, a length shorter than
// the header or running past the end); fn may return false to stop early.
template <typename Fn>
bool ForEachAttr(const uint8_t* data, size_t len, Fn&& fn) {
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < kNlaHdrLen) return false;
    uint16_t nla_len = LoadUnaligned<uint16_t>(data + pos);
    uint16_t nla_type = LoadUnaligned<uint16_t>(data + pos + 2);
    if (nla_len < kNlaHdrLen || nla_len > len - pos) return false;
    AttrView a{static_cast<uint16_t>(nla_type & kNlaTypeMask), (nla_type & kNlaFNested) != 0, data + pos + kNlaHdrLen,
               static_cast<size_t>(nla_len - kNlaHdrLen)};
    if (!fn(a)) return true;
    pos += Align(nla_len);
  }
  return true;
}

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_ATTR_H_

// SPDX-License-Identifier: MIT
#include "netlink/request.h"

#include <linux/netlink.h>

#include <cstring>

#include "netlink/attr.h"

namespace devmem::nl {

RequestBuilder::RequestBuilder(uint16_t type, uint16_t flags, const void* fixed_header, size_t fixed_len) {
  buf_.resize(NLMSG_HDRLEN + Align(fixed_len), 0);
  auto* hdr = reinterpret_cast<nlmsghdr*>(buf_.data());
  hdr->nlmsg_type = type;
  hdr->nlmsg_flags = flags;
  if (fixed_len) std::memcpy(buf_.data() + NLMSG_HDRLEN, fixed_header, fixed_len);
  SyncLength();
}

void RequestBuilder::Put(uint16_t type, const void* data, size_t len, const std::string& path) {
  size_t start = buf_.size();
  uint16_t nla_len = static_cast<uint16_t>(kNlaHdrLen + len);
  buf_.resize(start + Align(nla_len), 0);
  std::memcpy(buf_.data() + start, &nla_len, 2);
  std::memcpy(buf_.data() + start + 2, &type, 2);
  if (len) std::memcpy(buf_.data() + start + kNlaHdrLen, data, len);
  locations_.push_back({static_cast<uint32_t>(start), path});
  SyncLength();
}

void RequestBuilder::PutU8(uint16_t type, uint8_t v, const std::string& path) { Put(type, &v, 1, path); }
void RequestBuilder::PutU16(uint16_t type, uint16_t v, const std::string& path) { Put(type, &v, 2, path); }
void RequestBuilder::PutU32(uint16_t type, uint32_t v, const std::string& path) { Put(type, &v, 4, path); }
void RequestBuilder::PutU64(uint16_t type, uint64_t v, const std::string& path) { Put(type, &v, 8, path); }
void RequestBuilder::PutString(uint16_t type, const std::string& v, const std::string& path) {
  Put(type, v.c_str(), v.size() + 1, path);
}
void RequestBuilder::PutFlag(uint16_t type, const std::string& path) { Put(type, nullptr, 0, path); }
void RequestBuilder::PutBinary(uint16_t type, const void* data, size_t len, const std::string& path) {
  Put(type, data, len, path);
}

size_t RequestBuilder::BeginNest(uint16_t type, const std::string& path) {
  size_t start = buf_.size();
  Put(static_cast<uint16_t>(type | kNlaFNested), nullptr, 0, path);
  return start;
}

void RequestBuilder::EndNest(size_t start) {
  uint16_t nla_len = static_cast<uint16_t>(buf_.size() - start);
  std::memcpy(buf_.data() + start, &nla_len, 2);
}

void RequestBuilder::SetType(uint16_t type) { reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_type = type; }
void RequestBuilder::SetSeq(uint32_t seq) { reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_seq = seq; }
uint16_t RequestBuilder::Flags() const { return reinterpret_cast<const nlmsghdr*>(buf_.data())->nlmsg_flags; }
void RequestBuilder::SyncLength() {
  reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = static_cast<uint32_t>(buf_.size());
}

std::string RequestBuilder::PathAt(int64_t offset) const {
  for (const auto& loc : locations_)
    if (loc.offset == offset) return loc.path;
  return "";
}

}  // namespace devmem::nl

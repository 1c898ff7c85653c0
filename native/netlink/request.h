// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_NETLINK_REQUEST_H_
#define DEVMEM_TCP_NETLINK_REQUEST_H_

#include <cstdint>
#include <string>
#include <vector>

namespace devmem::nl {

// Where an attribute sits in the request we built, so that the kernel's
// bad-attribute offset (NLMSGERR_ATTR_OFFS) can be named back to the caller.
struct AttrLocation {
  uint32_t offset;   // from the start of the nlmsghdr
  std::string path;  // e.g. "ifindex", "queues[1].id"
};

// Builds one netlink request message. The message type (a generic netlink
// family id) may be patched in later, once the family has been resolved.
class RequestBuilder {
 public:
  // `fixed_header` follows the nlmsghdr (genlmsghdr, ifinfomsg, ...).
  RequestBuilder(uint16_t type, uint16_t flags, const void* fixed_header, size_t fixed_len);

  void PutU8(uint16_t type, uint8_t v, const std::string& path);
  void PutU16(uint16_t type, uint16_t v, const std::string& path);
  void PutU32(uint16_t type, uint32_t v, const std::string& path);
  void PutU64(uint16_t type, uint64_t v, const std::string& path);
  void PutString(uint16_t type, const std::string& v, const std::string& path);
  void PutFlag(uint16_t type, const std::string& path);
  void PutBinary(uint16_t type, const void* data, size_t len, const std::string& path);
  // Nests always carry NLA_F_NESTED: strict kernel parsers reject them otherwise.
  size_t BeginNest(uint16_t type, const std::string& path);
  void EndNest(size_t start);

  void SetType(uint16_t type);
  void SetSeq(uint32_t seq);
  uint16_t Flags() const;
  const std::vector<uint8_t>& Bytes() const { return buf_; }
  const std::vector<AttrLocation>& Locations() const { return locations_; }
  // The path of the attribute starting at `offset`, or "" if none does.
  std::string PathAt(int64_t offset) const;

 private:
  void Put(uint16_t type, const void* data, size_t len, const std::string& path);
  void SyncLength();

  std::vector<uint8_t> buf_;
  std::vector<AttrLocation> locations_;
};

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_REQUEST_H_

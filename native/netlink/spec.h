// SPDX-License-Identifier: MIT
//
// Attribute specifications for the netlink families the addon speaks, in the
// spirit of the kernel's YNL specs: one table drives both request encoding
// and reply decoding, so names seen in JS always match what went on the wire.
#ifndef DEVMEM_TCP_NETLINK_SPEC_H_
#define DEVMEM_TCP_NETLINK_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace devmem::nl {

enum class Kind : uint8_t {
  kU8, kU16, kU32, kU64,
  kUint,  // NLA_UINT: 4 or 8 bytes on the wire
  kS32, kString, kFlag, kBinary, kNest,
};

struct AttrSet;

struct AttrSpec {
  uint16_t type;
  const char* name;  // camelCase, as JS sees it
  Kind kind;
  const AttrSet* nest = nullptr;
  bool multi = false;  // repeated attribute, surfaced as an array
};

struct AttrSet {
  const char* name;
  const AttrSpec* attrs;
  size_t count;

  const AttrSpec* ByType(uint16_t type) const;
  const AttrSpec* ByName(std::string_view name) const;
};

enum class Protocol : uint8_t { kGeneric, kRoute };

struct CommandSpec {
  const char* name;   // "queue-get", "bind-rx", ...
  uint16_t id;        // genl cmd, or rtnetlink message type
  const AttrSet* request;
  const AttrSet* reply;
  bool can_dump;
};

struct FamilySpec {
  const char* name;  // genl family name, or "rtnl"
  Protocol protocol;
  uint8_t version;
  const CommandSpec* commands;
  size_t count;

  const CommandSpec* Command(std::string_view name) const;
};

const FamilySpec* FindFamily(std::string_view name);

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_SPEC_H_

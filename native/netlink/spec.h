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
  kU8,
  kU16,
  kU32,
  kU64,
  kUint,  // NLA_UINT: 4 or 8 bytes on the wire
  kS32,
  kString,
  kFlag,
  kBinary,
  kNest,
};

struct AttrSet;

// A YAML `enum` or `flags` definition: the names JS sees for the values an
// attribute carries, so that no layer above re-encodes them.
struct EnumEntry {
  uint64_t value;    // the value itself; for flags, the bit's mask
  const char* name;  // as the YAML spells it: "rx", "busy-poll", ...
};

struct EnumSpec {
  const char* name;  // the YAML definition's name
  const EnumEntry* entries;
  size_t count;
  bool flags;  // the attribute carries a mask of these bits

  const char* NameOf(uint64_t value) const;  // nullptr when unknown
  bool ValueOf(std::string_view name, uint64_t* value) const;
};

struct AttrSpec {
  uint16_t type;
  const char* name;  // camelCase, as JS sees it
  Kind kind;
  const AttrSet* nest = nullptr;
  bool multi = false;                     // repeated attribute, surfaced as an array
  const EnumSpec* enumeration = nullptr;  // names for the values, when the YAML gives them
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
  const char* name;  // "queue-get", "bind-rx", ...
  uint16_t id;       // genl cmd, or rtnetlink message type
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
  // Every op's name by its id, including the ones the codec does not speak
  // (notifications, napi-set, ...), for naming what nlctrl reports.
  const char* const* op_names = nullptr;
  size_t op_count = 0;

  const CommandSpec* Command(std::string_view name) const;
  const char* OpName(uint32_t id) const;  // nullptr when unknown
};

const FamilySpec* FindFamily(std::string_view name);

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_SPEC_H_

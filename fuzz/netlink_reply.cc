// SPDX-License-Identifier: MIT
//
// libFuzzer target: the netlink reply path as the addon runs it. Datagrams go
// through ReplyCollector::Feed (acks, dumps, NLMSG_DONE, extack TLVs, stale
// sequence numbers), then every collected message is walked the way the
// decoder walks it: attribute streams by the family's reply spec, nests
// recursively, and nlctrl replies through ParseFamilyReply. Each datagram is
// also read as a multicast notification by ParseDeviceEvents (the device
// watch), with the low 16 bits of the sequence number as the family id.
//
// Input: [flags u8][seq u32 LE] then datagrams, each [len u16 LE][bytes].
// flags bit 0: the request was a dump; the other bits pick the command whose
// reply spec is used for the walk.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "netlink/attr.h"
#include "netlink/device_events.h"
#include "netlink/family.h"
#include "netlink/reply.h"
#include "netlink/spec.h"

namespace nl = devmem::nl;

namespace {

// The decoder's depth limit: deeper nests are reported as malformed.
constexpr int kMaxDepth = 8;

// Mirrors the decoder's checks so that every byte it would read is read here.
void Walk(const uint8_t* data, size_t len, const nl::AttrSet& set, int depth) {
  nl::ForEachAttr(data, len, [&](const nl::AttrView& v) {
    const nl::AttrSpec* a = set.ByType(v.type);
    if (!a) return true;
    volatile uint64_t sink = 0;
    switch (a->kind) {
      case nl::Kind::kU8:
        if (v.len == 1) sink = v.data[0];
        break;
      case nl::Kind::kU16:
        if (v.len == 2) sink = nl::LoadUnaligned<uint16_t>(v.data);
        break;
      case nl::Kind::kU32:
      case nl::Kind::kS32:
        if (v.len == 4) sink = nl::LoadUnaligned<uint32_t>(v.data);
        break;
      case nl::Kind::kU64:
        if (v.len == 8) sink = nl::LoadUnaligned<uint64_t>(v.data);
        break;
      case nl::Kind::kUint:
        if (v.len == 4) sink = nl::LoadUnaligned<uint32_t>(v.data);
        if (v.len == 8) sink = nl::LoadUnaligned<uint64_t>(v.data);
        break;
      case nl::Kind::kString: sink = strnlen(reinterpret_cast<const char*>(v.data), v.len); break;
      case nl::Kind::kFlag: break;
      case nl::Kind::kBinary:
        for (size_t i = 0; i < v.len; ++i) sink = sink + v.data[i];
        break;
      case nl::Kind::kNest:
        if (depth + 1 < kMaxDepth && a->nest) Walk(v.data, v.len, *a->nest, depth + 1);
        break;
    }
    (void)sink;
    return true;
  });
}

std::vector<const nl::CommandSpec*> AllCommands() {
  std::vector<const nl::CommandSpec*> out;
  for (const char* name : {"netdev", "ethtool", "rtnl"}) {
    const nl::FamilySpec* f = nl::FindFamily(name);
    if (!f) abort();
    for (size_t i = 0; i < f->count; ++i) out.push_back(&f->commands[i]);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<const nl::CommandSpec*> commands = AllCommands();
  if (size < 5) return 0;
  uint8_t flags = data[0];
  uint32_t seq;
  std::memcpy(&seq, data + 1, 4);
  nl::ReplyCollector rc(seq, flags & 1);

  size_t pos = 5;
  while (pos < size && rc.state() == nl::ReplyCollector::State::kNeedMore) {
    size_t n = size - pos;
    if (n >= 2) {
      uint16_t want;
      std::memcpy(&want, data + pos, 2);
      pos += 2;
      n = std::min<size_t>(want, size - pos);
    }
    // An exact-size copy, so reading one byte past a datagram is caught.
    std::vector<uint8_t> dgram(data + pos, data + pos + n);
    rc.Feed(dgram.data(), dgram.size());
    nl::DeviceEvents ev;
    nl::ParseDeviceEvents(dgram.data(), dgram.size(), static_cast<uint16_t>(seq), &ev);
    pos += n;
  }

  if (rc.error() > 0) abort();  // the collector must never report a positive errno
  if (rc.state() == nl::ReplyCollector::State::kMalformed && rc.malformed_reason().empty()) abort();
  volatile size_t sink = rc.extack().message.size() + rc.skipped_stale();
  (void)sink;

  const nl::CommandSpec* cmd = commands[(flags >> 1) % commands.size()];
  for (const nl::ReplyMessage& m : rc.messages()) {
    // genlmsghdr (4 bytes) for generic families; ifinfomsg (16) for rtnl.
    size_t hdr = m.payload.size() >= 16 && m.type >= 16 && m.type < 0x20 ? 16 : 4;
    if (m.payload.size() < hdr) continue;
    std::vector<uint8_t> body(m.payload.begin() + hdr, m.payload.end());
    if (cmd->reply) Walk(body.data(), body.size(), *cmd->reply, 0);
    nl::FamilyInfo fi;
    std::string why;
    nl::ParseFamilyReply(body.data(), body.size(), &fi, &why);
  }
  return 0;
}

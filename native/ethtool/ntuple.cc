// SPDX-License-Identifier: MIT
#include "ethtool/ntuple.h"

#include <arpa/inet.h>
#include <errno.h>

#include <cstring>
#include <memory>

#include "ethtool/ioctl.h"
#include "uapi/devmem_uapi.h"

namespace devmem::ethtool {

namespace u = uapi::ethtool;

namespace {

bool AllOnes(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0xff) return false;
  return true;
}

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// One field of a decoded rule: matched exactly (mask all ones), not matched
// (mask zero), or neither, which this library cannot represent.
enum class Field { kExact, kAny, kPartial };

Field Classify(const void* mask, size_t n) {
  auto m = static_cast<const uint8_t*>(mask);
  if (AllOnes(m, n)) return Field::kExact;
  if (AllZero(m, n)) return Field::kAny;
  return Field::kPartial;
}

// Sets one matched field: the value, and a mask of all ones over it.
void Match(void* value, void* mask, const void* from, size_t n) {
  std::memcpy(value, from, n);
  std::memset(mask, 0xff, n);
}

// The address and port fields sit at different offsets in the IPv4 and IPv6
// specs but are filled the same way.
template <typename Spec>
void FillSpec(const TcpRule& rule, size_t addr_len, Spec* h, Spec* m, void* h_src, void* m_src, void* h_dst,
              void* m_dst) {
  if (rule.src) Match(h_src, m_src, rule.src->data(), addr_len);
  if (rule.dst) Match(h_dst, m_dst, rule.dst->data(), addr_len);
  if (rule.src_port) {
    uint16_t be = htons(*rule.src_port);
    Match(&h->psrc, &m->psrc, &be, 2);
  }
  if (rule.dst_port) {
    uint16_t be = htons(*rule.dst_port);
    Match(&h->pdst, &m->pdst, &be, 2);
  }
}

}  // namespace

void EncodeTcpRule(const TcpRule& rule, ethtool_rx_flow_spec* fs) {
  std::memset(fs, 0, sizeof(*fs));
  fs->flow_type = (rule.ipv6 ? u::kFlowTcpV6 : u::kFlowTcpV4) | (rule.rss ? u::kFlowRss : 0);
  fs->ring_cookie = rule.queue;
  fs->location = rule.location;
  if (rule.ipv6) {
    auto* h = &fs->h_u.tcp_ip6_spec;
    auto* m = &fs->m_u.tcp_ip6_spec;
    FillSpec(rule, 16, h, m, h->ip6src, m->ip6src, h->ip6dst, m->ip6dst);
  } else {
    auto* h = &fs->h_u.tcp_ip4_spec;
    auto* m = &fs->m_u.tcp_ip4_spec;
    FillSpec(rule, 4, h, m, &h->ip4src, &m->ip4src, &h->ip4dst, &m->ip4dst);
  }
}

void EncodeInsert(const TcpRule& rule, ethtool_rxnfc* nfc) {
  std::memset(nfc, 0, sizeof(*nfc));
  nfc->cmd = u::kCmdSrxclsrlins;
  EncodeTcpRule(rule, &nfc->fs);
  if (rule.rss) nfc->rss_context = rule.rss_context;
}

ReportedRule DecodeRule(const ethtool_rx_flow_spec& fs, uint32_t rss_context) {
  ReportedRule r;
  r.location = fs.location;
  r.flow_type = fs.flow_type;
  r.ring_cookie = fs.ring_cookie;
  const bool rss = (fs.flow_type & u::kFlowRss) != 0;
  if (rss) r.rss_context = rss_context;
  auto bytes = reinterpret_cast<const uint8_t*>(&fs);
  r.raw.assign(bytes, bytes + sizeof(fs));
  const uint32_t type = fs.flow_type & ~u::kFlowRss;
  if (type != u::kFlowTcpV4 && type != u::kFlowTcpV6) return r;
  if (!AllZero(reinterpret_cast<const uint8_t*>(&fs.m_ext), sizeof(fs.m_ext))) return r;

  TcpRule t;
  t.ipv6 = type == u::kFlowTcpV6;
  t.rss = rss;
  t.rss_context = rss ? rss_context : 0;
  // A FLOW_RSS rule's ring_cookie is an offset; only its ring bits count.
  t.queue = rss ? (fs.ring_cookie & u::kRxFlowSpecRing) : fs.ring_cookie;
  t.location = fs.location;
  auto take_addr = [](const void* value, const void* mask, size_t n, std::optional<std::array<uint8_t, 16>>* out) {
    Field k = Classify(mask, n);
    if (k == Field::kExact) {
      std::array<uint8_t, 16> a{};
      std::memcpy(a.data(), value, n);
      *out = a;
    }
    return k != Field::kPartial;
  };
  auto take_port = [](uint16_t value, uint16_t mask, std::optional<uint16_t>* out) {
    Field k = Classify(&mask, 2);
    if (k == Field::kExact) *out = ntohs(value);
    return k != Field::kPartial;
  };
  bool ok;
  if (t.ipv6) {
    const auto& h = fs.h_u.tcp_ip6_spec;
    const auto& m = fs.m_u.tcp_ip6_spec;
    ok = take_addr(h.ip6src, m.ip6src, 16, &t.src) && take_addr(h.ip6dst, m.ip6dst, 16, &t.dst) &&
         take_port(h.psrc, m.psrc, &t.src_port) && take_port(h.pdst, m.pdst, &t.dst_port) && m.tclass == 0;
  } else {
    const auto& h = fs.h_u.tcp_ip4_spec;
    const auto& m = fs.m_u.tcp_ip4_spec;
    ok = take_addr(&h.ip4src, &m.ip4src, 4, &t.src) && take_addr(&h.ip4dst, &m.ip4dst, 4, &t.dst) &&
         take_port(h.psrc, m.psrc, &t.src_port) && take_port(h.pdst, m.pdst, &t.dst_port) && m.tos == 0;
  }
  if (ok) r.tcp = t;
  return r;
}

namespace {

// Where to insert a rule the caller did not place: RX_CLS_LOC_ANY when the
// driver places rules itself, else the lowest free location below capacity.
bool PickLocation(const std::string& ifname, uint32_t* location, Failure* f) {
  RuleTable table;
  if (!ListRules(ifname, &table, f)) {
    // A driver that cannot list its rules can only be asked to place them.
    if (f->errnum != EOPNOTSUPP) return false;
    *f = {};
    *location = u::kRxClsLocAny;
    return true;
  }
  if (table.driver_places) {
    *location = u::kRxClsLocAny;
    return true;
  }
  std::vector<bool> used(table.capacity, false);
  for (const auto& r : table.rules)
    if (r.location < table.capacity) used[r.location] = true;
  for (uint32_t i = 0; i < table.capacity; ++i)
    if (!used[i]) {
      *location = i;
      return true;
    }
  *f = {ENOSPC, "ioctl",
        "every one of the " + std::to_string(table.capacity) + " n-tuple rule locations on " + ifname + " is in use",
        std::nullopt, ""};
  return false;
}

}  // namespace

bool InsertRule(const std::string& ifname, const TcpRule& rule, uint32_t* location, Failure* f) {
  TcpRule placed = rule;
  if (placed.location == u::kRxClsLocAny && !PickLocation(ifname, &placed.location, f)) return false;
  ethtool_rxnfc nfc{};
  EncodeInsert(placed, &nfc);
  if (!EthtoolIoctl(ifname, &nfc, f, "ETHTOOL_SRXCLSRLINS")) return false;
  *location = nfc.fs.location;
  return true;
}

bool DeleteRule(const std::string& ifname, uint32_t location, Failure* f) {
  ethtool_rxnfc nfc{};
  nfc.cmd = u::kCmdSrxclsrldel;
  nfc.fs.location = location;
  return EthtoolIoctl(ifname, &nfc, f, "ETHTOOL_SRXCLSRLDEL");
}

bool ListRules(const std::string& ifname, RuleTable* out, Failure* f) {
  ethtool_rxnfc cnt{};
  cnt.cmd = u::kCmdGrxclsrlcnt;
  if (!EthtoolIoctl(ifname, &cnt, f, "ETHTOOL_GRXCLSRLCNT")) return false;
  out->capacity = static_cast<uint32_t>(cnt.data) & ~u::kRxClsLocSpecial;
  out->driver_places = (cnt.data & u::kRxClsLocSpecial) != 0;
  out->rules.clear();
  uint32_t n = cnt.rule_cnt;
  if (n == 0) return true;

  // GRXCLSRLALL writes the locations right after the fixed structure.
  size_t bytes = sizeof(ethtool_rxnfc) + size_t{n} * sizeof(uint32_t);
  std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes]());
  auto* all = reinterpret_cast<ethtool_rxnfc*>(buf.get());
  all->cmd = u::kCmdGrxclsrlall;
  all->rule_cnt = n;
  if (!EthtoolIoctl(ifname, all, f, "ETHTOOL_GRXCLSRLALL")) return false;
  uint32_t got = all->rule_cnt < n ? all->rule_cnt : n;
  for (uint32_t i = 0; i < got; ++i) {
    uint32_t loc;
    std::memcpy(&loc, buf.get() + sizeof(ethtool_rxnfc) + i * sizeof(uint32_t), sizeof(loc));
    ethtool_rxnfc one{};
    one.cmd = u::kCmdGrxclsrule;
    one.fs.location = loc;
    if (!EthtoolIoctl(ifname, &one, f, "ETHTOOL_GRXCLSRULE")) return false;
    out->rules.push_back(DecodeRule(one.fs, one.rss_context));
  }
  return true;
}

bool GetRxRings(const std::string& ifname, uint32_t* rings, Failure* f) {
  ethtool_rxnfc nfc{};
  nfc.cmd = u::kCmdGrxrings;
  if (!EthtoolIoctl(ifname, &nfc, f, "ETHTOOL_GRXRINGS")) return false;
  *rings = static_cast<uint32_t>(nfc.data);
  return true;
}

}  // namespace devmem::ethtool

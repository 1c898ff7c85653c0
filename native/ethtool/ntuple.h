// SPDX-License-Identifier: MIT
//
// n-tuple flow-steering rules through SIOCETHTOOL (there is no ethtool
// netlink message for them). Only TCP over IPv4 and IPv6 is modelled: that is
// what steering a devmem flow needs. Encoding and decoding are pure so that
// tests can check them against the documented layout byte by byte.
#ifndef DEVMEM_TCP_ETHTOOL_NTUPLE_H_
#define DEVMEM_TCP_ETHTOOL_NTUPLE_H_

#include <linux/ethtool.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/failure.h"
#include "uapi/devmem_uapi.h"

namespace devmem::ethtool {

// Addresses in network byte order; an absent field is not matched (mask 0).
struct TcpRule {
  bool ipv6 = false;
  std::optional<std::array<uint8_t, 16>> src;  // first 4 bytes used for IPv4
  std::optional<std::array<uint8_t, 16>> dst;
  std::optional<uint16_t> src_port;  // host byte order
  std::optional<uint16_t> dst_port;
  // With rss (FLOW_RSS) the flow is spread by RSS context rss_context (0:
  // the main table) and `queue` is an offset added to the table's entry.
  uint64_t queue = 0;
  bool rss = false;
  uint32_t rss_context = 0;
  uint32_t location = uapi::ethtool::kRxClsLocAny;  // InsertRule picks (see there)
};

// A rule as the driver reports it. `tcp` is set only when the rule is a plain
// TCP rule whose masks are all-or-nothing per field; anything else a driver
// holds (other flow types, partial masks) is kept as raw bytes only.
struct ReportedRule {
  uint32_t location = 0;
  uint32_t flow_type = 0;
  uint64_t ring_cookie = 0;
  std::optional<uint32_t> rss_context;  // for FLOW_RSS rules
  std::optional<TcpRule> tcp;
  std::vector<uint8_t> raw;  // the whole ethtool_rx_flow_spec
};

struct RuleTable {
  uint32_t capacity = 0;       // GRXCLSRLCNT data, without RX_CLS_LOC_SPECIAL
  bool driver_places = false;  // the driver accepts RX_CLS_LOC_ANY
  std::vector<ReportedRule> rules;
};

void EncodeTcpRule(const TcpRule& rule, ethtool_rx_flow_spec* fs);
// The whole ETHTOOL_SRXCLSRLINS request: the spec plus rss_context.
void EncodeInsert(const TcpRule& rule, ethtool_rxnfc* nfc);
// `rss_context` is what GRXCLSRULE put beside the spec (read for FLOW_RSS rules).
ReportedRule DecodeRule(const ethtool_rx_flow_spec& fs, uint32_t rss_context = 0);

// Inserts `rule`; on success *location is where the driver put it. With
// location RX_CLS_LOC_ANY the driver places the rule when GRXCLSRLCNT says it
// can (RX_CLS_LOC_SPECIAL), else the first location no rule holds is used.
bool InsertRule(const std::string& ifname, const TcpRule& rule, uint32_t* location, Failure* f);
bool DeleteRule(const std::string& ifname, uint32_t location, Failure* f);
bool ListRules(const std::string& ifname, RuleTable* out, Failure* f);
// ETHTOOL_GRXRINGS: how many RX rings RSS and rules may target.
bool GetRxRings(const std::string& ifname, uint32_t* rings, Failure* f);

}  // namespace devmem::ethtool

#endif  // DEVMEM_TCP_ETHTOOL_NTUPLE_H_

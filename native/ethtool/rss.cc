// SPDX-License-Identifier: MIT
#include "ethtool/rss.h"

#include <errno.h>
#include <linux/ethtool.h>

#include <algorithm>
#include <cstring>

#include "ethtool/ioctl.h"
#include "uapi/devmem_uapi.h"

namespace devmem::ethtool {

namespace {

// Far above any real table (drivers use 64..2048); keeps a misbehaving
// driver's size from turning into a huge allocation.
constexpr uint32_t kMaxIndirection = 1u << 16;

// struct ethtool_rxfh_indir is a header followed by the ring indices.
std::vector<uint32_t> Request(uint32_t cmd, uint32_t size) {
  std::vector<uint32_t> words(2 + size, 0);
  words[0] = cmd;
  words[1] = size;
  return words;
}

}  // namespace

bool GetIndirection(const std::string& ifname, std::vector<uint32_t>* table, Failure* f) {
  auto probe = Request(uapi::ethtool::kCmdGrxfhindir, 0);
  if (!EthtoolIoctl(ifname, probe.data(), f, "ETHTOOL_GRXFHINDIR")) return false;
  uint32_t size = probe[1];
  if (size == 0 || size > kMaxIndirection) {
    *f = {EOPNOTSUPP, "ioctl",
          "ETHTOOL_GRXFHINDIR on " + ifname + " reported a table of " + std::to_string(size) + " entries", std::nullopt,
          ""};
    return false;
  }
  auto full = Request(uapi::ethtool::kCmdGrxfhindir, size);
  if (!EthtoolIoctl(ifname, full.data(), f, "ETHTOOL_GRXFHINDIR")) return false;
  table->assign(full.begin() + 2, full.end());
  return true;
}

bool SetIndirection(const std::string& ifname, const std::vector<uint32_t>& table, Failure* f) {
  auto req = Request(uapi::ethtool::kCmdSrxfhindir, static_cast<uint32_t>(table.size()));
  std::copy(table.begin(), table.end(), req.begin() + 2);
  return EthtoolIoctl(ifname, req.data(), f, "ETHTOOL_SRXFHINDIR");
}

}  // namespace devmem::ethtool

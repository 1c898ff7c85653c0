// SPDX-License-Identifier: MIT
#include "ethtool/rss.h"

#include <errno.h>
#include <linux/ethtool.h>

#include <algorithm>
#include <cstddef>
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

namespace {

// struct ethtool_rxfh is six u32 words (cmd, rss_context, indir_size,
// key_size, hfunc + input_xfrm + 2 reserved bytes, rsvd32), then the table.
constexpr size_t kRxfhWords = sizeof(ethtool_rxfh) / sizeof(uint32_t);
static_assert(sizeof(ethtool_rxfh) % sizeof(uint32_t) == 0);

std::vector<uint32_t> Rxfh(uint32_t cmd, uint32_t context, uint32_t indir_size) {
  std::vector<uint32_t> words(kRxfhWords + (indir_size == uapi::ethtool::kRxfhIndirNoChange ? 0 : indir_size), 0);
  words[offsetof(ethtool_rxfh, cmd) / 4] = cmd;
  words[offsetof(ethtool_rxfh, rss_context) / 4] = context;
  words[offsetof(ethtool_rxfh, indir_size) / 4] = indir_size;
  // key_size 0: keep the key; hfunc ETH_RSS_HASH_NO_CHANGE (0); input_xfrm 0,
  // which kernels before 6.8 require of that byte (it was reserved there).
  return words;
}

}  // namespace

std::vector<uint32_t> EncodeContextCreate(const std::vector<uint32_t>& table) {
  auto words = Rxfh(uapi::ethtool::kCmdSrssh, uapi::ethtool::kRxfhContextAlloc, static_cast<uint32_t>(table.size()));
  std::copy(table.begin(), table.end(), words.begin() + kRxfhWords);
  return words;
}

// indir_size 0 on a context other than 0 is the kernel's "delete" (ioctl.c
// ethtool_set_rxfh sets rss_delete for it).
std::vector<uint32_t> EncodeContextDelete(uint32_t context) { return Rxfh(uapi::ethtool::kCmdSrssh, context, 0); }

bool CreateContext(const std::string& ifname, const std::vector<uint32_t>& table, uint32_t* context, Failure* f) {
  if (table.empty() || table.size() > kMaxIndirection) {
    *f = {EINVAL, "ioctl", "an RSS context needs a table of 1 to 65536 entries", std::nullopt, ""};
    return false;
  }
  auto req = EncodeContextCreate(table);
  if (!EthtoolIoctl(ifname, req.data(), f, "ETHTOOL_SRSSH (create an RSS context)")) return false;
  // The kernel writes the new ID back into rss_context.
  *context = req[offsetof(ethtool_rxfh, rss_context) / 4];
  return true;
}

bool DeleteContext(const std::string& ifname, uint32_t context, Failure* f) {
  if (context == 0 || context == uapi::ethtool::kRxfhContextAlloc) {
    *f = {EINVAL, "ioctl", "RSS context " + std::to_string(context) + " cannot be deleted", std::nullopt, ""};
    return false;
  }
  auto req = EncodeContextDelete(context);
  return EthtoolIoctl(ifname, req.data(), f, "ETHTOOL_SRSSH (delete an RSS context)");
}

bool GetContextIndirection(const std::string& ifname, uint32_t context, std::vector<uint32_t>* table, Failure* f) {
  // Sizes first (indir_size and key_size 0), then the table alone.
  auto probe = Rxfh(uapi::ethtool::kCmdGrssh, context, 0);
  if (!EthtoolIoctl(ifname, probe.data(), f, "ETHTOOL_GRSSH")) return false;
  uint32_t size = probe[offsetof(ethtool_rxfh, indir_size) / 4];
  if (size == 0 || size > kMaxIndirection) {
    *f = {EOPNOTSUPP, "ioctl",
          "ETHTOOL_GRSSH on " + ifname + " reported a table of " + std::to_string(size) + " entries", std::nullopt, ""};
    return false;
  }
  auto full = Rxfh(uapi::ethtool::kCmdGrssh, context, size);
  if (!EthtoolIoctl(ifname, full.data(), f, "ETHTOOL_GRSSH")) return false;
  table->assign(full.begin() + kRxfhWords, full.end());
  return true;
}

}  // namespace devmem::ethtool

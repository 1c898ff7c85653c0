// SPDX-License-Identifier: MIT
//
// The RSS indirection table through SIOCETHTOOL (GRXFHINDIR/SRXFHINDIR),
// which every RSS-capable driver supports, unlike ethtool netlink RSS_SET
// (6.17+).
#ifndef DEVMEM_TCP_ETHTOOL_RSS_H_
#define DEVMEM_TCP_ETHTOOL_RSS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/failure.h"

namespace devmem::ethtool {

bool GetIndirection(const std::string& ifname, std::vector<uint32_t>* table, Failure* f);
// An empty table asks the driver to go back to its default spreading.
bool SetIndirection(const std::string& ifname, const std::vector<uint32_t>& table, Failure* f);

}  // namespace devmem::ethtool

#endif  // DEVMEM_TCP_ETHTOOL_RSS_H_

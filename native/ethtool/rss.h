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

// RSS contexts through ETHTOOL_SRSSH/GRSSH: extra indirection tables that
// FLOW_RSS rules name (context 0 is the main table). Drivers without them
// fail with EOPNOTSUPP. The ethtool netlink RSS_CREATE_ACT/RSS_DELETE_ACT
// route (6.17+) is driven from JS over the generic netlink codec.
//
// Creates a context whose table is `table` (the device's full table size);
// *context is the ID the kernel chose.
bool CreateContext(const std::string& ifname, const std::vector<uint32_t>& table, uint32_t* context, Failure* f);
// Deletes a context: SRSSH with its ID and indir_size 0 (for context 0 that
// would reset the main table, so 0 is refused here). The kernel answers
// EBUSY while a rule still names the context, ENOENT when there is none.
bool DeleteContext(const std::string& ifname, uint32_t context, Failure* f);
// A context's table (GRSSH with rss_context); ENOENT when it does not exist.
bool GetContextIndirection(const std::string& ifname, uint32_t context, std::vector<uint32_t>* table, Failure* f);

// The SRSSH requests, as bytes, for CreateContext and DeleteContext (pure,
// for tests): struct ethtool_rxfh followed by the table.
std::vector<uint32_t> EncodeContextCreate(const std::vector<uint32_t>& table);
std::vector<uint32_t> EncodeContextDelete(uint32_t context);

}  // namespace devmem::ethtool

#endif  // DEVMEM_TCP_ETHTOOL_RSS_H_

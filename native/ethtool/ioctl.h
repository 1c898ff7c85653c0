// SPDX-License-Identifier: MIT
//
// The SIOCETHTOOL ioctl, for what ethtool netlink does not offer: driver
// identity and the legacy feature flags here; n-tuple rules and the RSS
// indirection table in ethtool/ntuple.h and ethtool/rss.h.
#ifndef DEVMEM_TCP_ETHTOOL_IOCTL_H_
#define DEVMEM_TCP_ETHTOOL_IOCTL_H_

#include <cstdint>
#include <string>

#include "common/failure.h"

namespace devmem::ethtool {

struct DriverInfo {
  std::string driver;
  std::string version;
  std::string firmware_version;
  std::string bus_info;
};

// Runs one SIOCETHTOOL command with `data` (whose first u32 is the command);
// `what` names the command in the failure.
bool EthtoolIoctl(const std::string& ifname, void* data, Failure* f, const char* what);

bool GetDriverInfo(const std::string& ifname, DriverInfo* out, Failure* f);

// ETH_FLAG_* bits (ETHTOOL_GFLAGS/SFLAGS). The kernel only changes the
// features whose bit differs from the active set, so a read-modify-write of
// one bit leaves the others alone.
bool GetFlags(const std::string& ifname, uint32_t* flags, Failure* f);
bool SetFlags(const std::string& ifname, uint32_t flags, Failure* f);

}  // namespace devmem::ethtool

#endif  // DEVMEM_TCP_ETHTOOL_IOCTL_H_

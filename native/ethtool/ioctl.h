// SPDX-License-Identifier: MIT
//
// The SIOCETHTOOL ioctl, for what ethtool netlink does not offer: driver
// identity here, and (later) n-tuple flow-steering rules.
#ifndef DEVMEM_TCP_ETHTOOL_IOCTL_H_
#define DEVMEM_TCP_ETHTOOL_IOCTL_H_

#include <string>

#include "common/failure.h"

namespace devmem::ethtool {

struct DriverInfo {
  std::string driver;
  std::string version;
  std::string firmware_version;
  std::string bus_info;
};

bool GetDriverInfo(const std::string& ifname, DriverInfo* out, Failure* f);

}  // namespace devmem::ethtool

#endif  // DEVMEM_TCP_ETHTOOL_IOCTL_H_

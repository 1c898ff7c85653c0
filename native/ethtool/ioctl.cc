// SPDX-License-Identifier: MIT
#include "ethtool/ioctl.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "common/unique_fd.h"
#include "uapi/devmem_uapi.h"

namespace devmem::ethtool {

namespace {

std::string Field(const char* s, size_t max) { return std::string(s, strnlen(s, max)); }

}  // namespace

bool EthtoolIoctl(const std::string& ifname, void* data, Failure* f, const char* what) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    *f = {EINVAL, "ioctl", "interface name \"" + ifname + "\" is empty or too long", std::nullopt, ""};
    return false;
  }
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.Valid()) {
    *f = {errno, "socket", "cannot open a socket for SIOCETHTOOL", std::nullopt, ""};
    return false;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
  ifr.ifr_data = static_cast<char*>(data);
  if (::ioctl(sock.Get(), uapi::ethtool::kSiocEthtool, &ifr) < 0) {
    *f = {errno, "ioctl", std::string(what) + " on " + ifname, std::nullopt, ""};
    return false;
  }
  return true;
}

bool GetDriverInfo(const std::string& ifname, DriverInfo* out, Failure* f) {
  ethtool_drvinfo info{};
  info.cmd = uapi::ethtool::kCmdGdrvinfo;
  if (!EthtoolIoctl(ifname, &info, f, "ETHTOOL_GDRVINFO")) return false;
  out->driver = Field(info.driver, sizeof(info.driver));
  out->version = Field(info.version, sizeof(info.version));
  out->firmware_version = Field(info.fw_version, sizeof(info.fw_version));
  out->bus_info = Field(info.bus_info, sizeof(info.bus_info));
  return true;
}

bool GetFlags(const std::string& ifname, uint32_t* flags, Failure* f) {
  ethtool_value v{uapi::ethtool::kCmdGflags, 0};
  if (!EthtoolIoctl(ifname, &v, f, "ETHTOOL_GFLAGS")) return false;
  *flags = v.data;
  return true;
}

bool SetFlags(const std::string& ifname, uint32_t flags, Failure* f) {
  ethtool_value v{uapi::ethtool::kCmdSflags, flags};
  return EthtoolIoctl(ifname, &v, f, "ETHTOOL_SFLAGS");
}

}  // namespace devmem::ethtool

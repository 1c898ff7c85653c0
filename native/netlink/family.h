// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_NETLINK_FAMILY_H_
#define DEVMEM_TCP_NETLINK_FAMILY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/failure.h"

namespace devmem::nl {

struct FamilyOp {
  uint32_t cmd;
  uint32_t flags;  // GENL_ADMIN_PERM, GENL_CMD_CAP_DO, ... as nlctrl reports them
};

struct McastGroup {
  std::string name;
  uint32_t id;
};

struct FamilyInfo {
  std::string name;
  uint16_t id = 0;
  uint32_t version = 0;
  uint32_t maxattr = 0;
  std::vector<FamilyOp> ops;
  std::vector<McastGroup> mcast_groups;

  const FamilyOp* Op(uint32_t cmd) const;
};

// Resolves a generic netlink family through nlctrl. Family ids are assigned
// at run time and differ between kernels, so they are never hard-coded; the
// answer is cached for the life of the process (a family's id cannot change
// while it stays registered, and the families we use are built in).
bool ResolveFamily(const std::string& name, FamilyInfo* out, Failure* f);

// Parses one CTRL_CMD_NEWFAMILY payload (after the genlmsghdr). Exposed for
// tests and the fuzzer.
bool ParseFamilyReply(const uint8_t* attrs, size_t len, FamilyInfo* out, std::string* why);

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_FAMILY_H_

// SPDX-License-Identifier: MIT
#include "netlink/transact.h"
#include "common/reasons.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "netlink/family.h"

namespace devmem::nl {

size_t FixedHeaderLength(const FamilySpec& family) {
  return family.protocol == Protocol::kRoute ? sizeof(ifinfomsg) : GENL_HDRLEN;
}

PreparedRequest Prepare(const FamilySpec& family, const CommandSpec& cmd, bool dump, int32_t ifindex_hdr) {
  uint16_t flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
  if (family.protocol == Protocol::kRoute) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = ifindex_hdr;
    return {&family, &cmd, dump, RequestBuilder(cmd.id, flags, &ifi, sizeof(ifi))};
  }
  genlmsghdr g{static_cast<uint8_t>(cmd.id), family.version, 0};
  // The family id is resolved in Execute, off the JS thread.
  return {&family, &cmd, dump, RequestBuilder(0, flags, &g, sizeof(g))};
}

namespace {

void NameExtack(const PreparedRequest& req, Extack* e) {
  if (e->offset >= 0) e->attribute = req.builder.PathAt(e->offset);
  if (e->missing_type >= 0 && req.command->request) {
    // MISS_NEST points at the nest whose member is missing; otherwise the
    // missing attribute belongs to the top-level set.
    const AttrSet* set = req.command->request;
    std::string prefix;
    if (e->missing_nest >= 0) {
      prefix = req.builder.PathAt(e->missing_nest);
      std::string top = prefix.substr(0, prefix.find_first_of("[."));
      const AttrSpec* nest = set->ByName(top);
      set = nest && nest->nest ? nest->nest : nullptr;
    }
    const AttrSpec* a = set ? set->ByType(static_cast<uint16_t>(e->missing_type)) : nullptr;
    if (a) e->missing_attribute = prefix.empty() ? a->name : prefix + "." + a->name;
  }
}

}  // namespace

bool Execute(NetlinkSocket* sock, PreparedRequest& req, std::vector<ReplyMessage>* replies, Failure* f) {
  const FamilySpec& fam = *req.family;
  if (fam.protocol == Protocol::kGeneric) {
    FamilyInfo info;
    if (!ResolveFamily(fam.name, &info, f)) {
      if (f->errnum == ENOENT) {
        f->reason = reasons::kKernelTooOld;
        f->message = "this kernel has no \"" + std::string(fam.name) + "\" generic netlink family";
      }
      return false;
    }
    const FamilyOp* op = info.Op(req.command->id);
    if (!op) {
      *f = {EOPNOTSUPP, "netlink",
            "this kernel's " + std::string(fam.name) + " family has no " + req.command->name + " operation",
            std::nullopt, "KERNEL_TOO_OLD"};
      return false;
    }
    req.builder.SetType(info.id);
  }
  if (sock->Fd() < 0) {
    int proto = fam.protocol == Protocol::kRoute ? NETLINK_ROUTE : NETLINK_GENERIC;
    if (!sock->Open(proto, f)) return false;
  }
  ReplyCollector rc(0, req.dump);
  if (!sock->Transact(req.builder, req.dump, &rc, f)) return false;
  if (rc.error() != 0) {
    Extack e = rc.extack();
    NameExtack(req, &e);
    *f = {-rc.error(), "netlink", std::string(fam.name) + " " + req.command->name + " failed",
          e.present ? std::optional<Extack>(e) : std::nullopt};
    return false;
  }
  *replies = rc.messages();
  return true;
}

}  // namespace devmem::nl

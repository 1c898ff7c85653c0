// SPDX-License-Identifier: MIT
#include "netlink/family.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <map>
#include <mutex>

#include "netlink/attr.h"
#include "netlink/request.h"
#include "netlink/socket.h"
#include "uapi/devmem_uapi.h"

namespace devmem::nl {

namespace ctrl = uapi::ctrl;

const FamilyOp* FamilyInfo::Op(uint32_t cmd) const {
  for (const auto& op : ops)
    if (op.cmd == cmd) return &op;
  return nullptr;
}

bool ParseFamilyReply(const uint8_t* attrs, size_t len, FamilyInfo* out, std::string* why) {
  bool inner_ok = true;
  bool ok = ForEachAttr(attrs, len, [&](const AttrView& a) {
    switch (a.type) {
      case ctrl::kFamilyId:
        if (a.len < 2) return inner_ok = false;
        out->id = LoadUnaligned<uint16_t>(a.data);
        break;
      case ctrl::kFamilyName:
        out->name.assign(reinterpret_cast<const char*>(a.data), strnlen(reinterpret_cast<const char*>(a.data), a.len));
        break;
      case ctrl::kVersion:
        if (a.len < 4) return inner_ok = false;
        out->version = LoadUnaligned<uint32_t>(a.data);
        break;
      case ctrl::kMaxattr:
        if (a.len < 4) return inner_ok = false;
        out->maxattr = LoadUnaligned<uint32_t>(a.data);
        break;
      case ctrl::kOps:
        // A list: each entry is a nest indexed by position, holding id and flags.
        inner_ok = ForEachAttr(a.data, a.len,
                               [&](const AttrView& entry) {
                                 FamilyOp op{0, 0};
                                 bool fields_ok = ForEachAttr(entry.data, entry.len, [&](const AttrView& f) {
                                   if (f.len < 4) return inner_ok = false;
                                   if (f.type == ctrl::kOpId) op.cmd = LoadUnaligned<uint32_t>(f.data);
                                   if (f.type == ctrl::kOpFlags) op.flags = LoadUnaligned<uint32_t>(f.data);
                                   return true;
                                 });
                                 if (!fields_ok) return inner_ok = false;
                                 out->ops.push_back(op);
                                 return inner_ok;
                               }) &&
                   inner_ok;
        if (!inner_ok) return false;
        break;
      case ctrl::kMcastGroups:
        inner_ok = ForEachAttr(a.data, a.len,
                               [&](const AttrView& entry) {
                                 McastGroup g{"", 0};
                                 bool fields_ok = ForEachAttr(entry.data, entry.len, [&](const AttrView& f) {
                                   if (f.type == ctrl::kMcastName)
                                     g.name.assign(reinterpret_cast<const char*>(f.data),
                                                   strnlen(reinterpret_cast<const char*>(f.data), f.len));
                                   if (f.type == ctrl::kMcastId) {
                                     if (f.len < 4) return inner_ok = false;
                                     g.id = LoadUnaligned<uint32_t>(f.data);
                                   }
                                   return true;
                                 });
                                 if (!fields_ok) return inner_ok = false;
                                 out->mcast_groups.push_back(g);
                                 return inner_ok;
                               }) &&
                   inner_ok;
        if (!inner_ok) return false;
        break;
      default: break;
    }
    return true;
  });
  if (!ok || !inner_ok) {
    *why = "malformed nlctrl family attributes";
    return false;
  }
  if (out->id == 0) {
    *why = "nlctrl reply carries no family id";
    return false;
  }
  return true;
}

bool ResolveFamily(const std::string& name, FamilyInfo* out, Failure* f) {
  static std::mutex mu;
  static std::map<std::string, FamilyInfo> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(name);
    if (it != cache.end()) {
      *out = it->second;
      return true;
    }
  }

  NetlinkSocket sock;
  if (!sock.Open(NETLINK_GENERIC, f)) return false;
  genlmsghdr g{ctrl::kCmdGetFamily, 1, 0};
  RequestBuilder req(ctrl::kId, NLM_F_REQUEST | NLM_F_ACK, &g, sizeof(g));
  req.PutString(ctrl::kFamilyName, name, "familyName");
  ReplyCollector rc(0, false);
  if (!sock.Transact(req, false, &rc, f)) return false;
  if (rc.error() != 0) {
    *f = {-rc.error(), "netlink", "generic netlink family \"" + name + "\" is not available", std::nullopt};
    return false;
  }
  if (rc.messages().empty() || rc.messages()[0].payload.size() < GENL_HDRLEN) {
    *f = {EPROTO, "netlink", "nlctrl answered without a family description", std::nullopt};
    return false;
  }
  const auto& p = rc.messages()[0].payload;
  FamilyInfo info;
  std::string why;
  if (!ParseFamilyReply(p.data() + GENL_HDRLEN, p.size() - GENL_HDRLEN, &info, &why)) {
    *f = {EPROTO, "netlink", why, std::nullopt};
    return false;
  }
  std::lock_guard<std::mutex> lock(mu);
  cache[name] = info;
  *out = info;
  return true;
}

}  // namespace devmem::nl

// SPDX-License-Identifier: MIT
#include "netlink/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/unique_fd.h"
#include "netlink/attr.h"
#include "netlink/request.h"
#include "uapi/devmem_uapi.h"

namespace devmem::nl {

bool OpenSocketInNetns(NetlinkSocket* sock, int protocol, int netns_fd, Failure* f) {
  // The thread's own namespace, not the process's: a thread-pool thread may
  // serve any caller, and must leave exactly as it came.
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (home.Get() < 0) {
    *f = {errno, "open", "cannot open this thread's network namespace (/proc/thread-self/ns/net)", std::nullopt};
    return false;
  }
  if (::setns(netns_fd, CLONE_NEWNET) < 0) {
    int e = errno;
    *f = {e, "setns",
          e == EINVAL ? "the netns fd does not refer to a network namespace" : "cannot enter the network namespace",
          std::nullopt};
    return false;
  }
  bool ok = sock->Open(protocol, f);
  if (::setns(home.Get(), CLONE_NEWNET) < 0) {
    // Going back into a namespace we were just in, through an fd we hold,
    // does not fail in practice; if it did, this thread would go on serving
    // later requests in the wrong namespace, which is worse than stopping.
    std::fprintf(stderr, "devmem-tcp: cannot return to the thread's network namespace (errno %d)\n", errno);
    std::abort();
  }
  return ok;
}

namespace {

namespace rt = uapi::rtnl;

// RTM_*NSID messages carry a struct rtgenmsg (one byte, padded to four).
constexpr uint8_t kRtgenmsg[4] = {0, 0, 0, 0};

bool GetNsid(NetlinkSocket* sock, int peer_fd, int32_t* id, Failure* f) {
  RequestBuilder req(rt::kGetNsid, NLM_F_REQUEST | NLM_F_ACK, kRtgenmsg, sizeof(kRtgenmsg));
  req.PutU32(rt::kNetnsaFd, static_cast<uint32_t>(peer_fd), "fd");
  ReplyCollector rc(0, false);
  if (!sock->Transact(req, false, &rc, f)) return false;
  if (rc.error() != 0) {
    *f = {-rc.error(), "netlink", "RTM_GETNSID failed", std::nullopt};
    return false;
  }
  *id = rt::kNsidNotAssigned;
  for (const auto& m : rc.messages()) {
    if (m.payload.size() < sizeof(kRtgenmsg)) continue;
    bool ok = ForEachAttr(m.payload.data() + sizeof(kRtgenmsg), m.payload.size() - sizeof(kRtgenmsg), [&](AttrView a) {
      if (a.type == rt::kNetnsaNsid && a.len == 4) *id = LoadUnaligned<int32_t>(a.data);
      return true;
    });
    if (!ok) {
      *f = {EPROTO, "netlink", "malformed RTM_NEWNSID reply", std::nullopt};
      return false;
    }
  }
  return true;
}

}  // namespace

bool PeerNetnsId(int netns_fd, int peer_fd, int32_t* id, Failure* f) {
  NetlinkSocket sock;
  if (!OpenSocketInNetns(&sock, NETLINK_ROUTE, netns_fd, f)) return false;
  if (!GetNsid(&sock, peer_fd, id, f)) return false;
  if (*id != rt::kNsidNotAssigned) return true;
  // An id of -1 asks the kernel to pick a free one. Another process may
  // assign one between our two requests (EEXIST); the second read sees it.
  RequestBuilder req(rt::kNewNsid, NLM_F_REQUEST | NLM_F_ACK, kRtgenmsg, sizeof(kRtgenmsg));
  req.PutU32(rt::kNetnsaNsid, static_cast<uint32_t>(rt::kNsidNotAssigned), "nsid");
  req.PutU32(rt::kNetnsaFd, static_cast<uint32_t>(peer_fd), "fd");
  ReplyCollector rc(0, false);
  if (!sock.Transact(req, false, &rc, f)) return false;
  if (rc.error() != 0 && rc.error() != -EEXIST) {
    *f = {-rc.error(), "netlink", "RTM_NEWNSID failed: cannot give the namespace an id", std::nullopt};
    return false;
  }
  if (!GetNsid(&sock, peer_fd, id, f)) return false;
  if (*id == rt::kNsidNotAssigned) {
    *f = {EPROTO, "netlink", "the namespace still has no id after RTM_NEWNSID", std::nullopt};
    return false;
  }
  return true;
}

}  // namespace devmem::nl

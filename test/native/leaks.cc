// SPDX-License-Identifier: MIT
//
// The native layer without Node: runs the netlink transport (family
// resolution, do and dump requests, kernel errors with extack), the recvmsg
// parser and the token release path on a real loopback TCP socket, many
// times over, under AddressSanitizer with LeakSanitizer. Node cannot run
// LSan (it never frees everything at exit), so this binary is where native
// leaks are caught. It also checks that the open-fd count is unchanged.
//
// Built and run by scripts/asan/run.mjs; exits non-zero on any failure, and
// LSan makes it exit non-zero on any leak.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ethtool/ioctl.h"
#include "net/address.h"
#include "netlink/family.h"
#include "netlink/transact.h"
#include "rx/fragments.h"
#include "rx/replay_source.h"
#include "rx/token_ledger.h"
#include "rx/token_release.h"
#include "uapi/devmem_uapi.h"

namespace nl = devmem::nl;
namespace rx = devmem::rx;

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    ++failures;
  }
}

int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory itself
}

// queue-get dump of lo: succeeds on any kernel with the netdev family.
void QueueDump() {
  const nl::FamilySpec* fam = nl::FindFamily("netdev");
  nl::PreparedRequest req = nl::Prepare(*fam, *fam->Command("queue-get"), true, 0);
  req.builder.PutU32(2, 1, "ifindex");
  nl::NetlinkSocket sock;
  std::vector<nl::ReplyMessage> replies;
  devmem::Failure f;
  Check(nl::Execute(&sock, req, &replies, &f), "queue-get dump on lo: " + f.message);
}

// bind-rx on lo fails in the kernel; the error carries extack.
void BindRxRefused() {
  const nl::FamilySpec* fam = nl::FindFamily("netdev");
  nl::PreparedRequest req = nl::Prepare(*fam, *fam->Command("bind-rx"), false, 0);
  req.builder.PutU32(1, 1, "ifindex");
  req.builder.PutU32(3, 0, "fd");
  size_t q = req.builder.BeginNest(2, "queues[0]");
  req.builder.PutU32(1, 0, "queues[0].id");
  req.builder.PutU32(3, 0, "queues[0].type");
  req.builder.EndNest(q);
  nl::NetlinkSocket sock;
  std::vector<nl::ReplyMessage> replies;
  devmem::Failure f;
  Check(!nl::Execute(&sock, req, &replies, &f) && f.errnum != 0, "bind-rx on lo must fail");
}

// A request missing required attributes: the extack names what is missing.
void BindTxMissingFd() {
  const nl::FamilySpec* fam = nl::FindFamily("netdev");
  nl::PreparedRequest req = nl::Prepare(*fam, *fam->Command("bind-tx"), false, 0);
  req.builder.PutU32(1, 1, "ifindex");
  nl::NetlinkSocket sock;
  std::vector<nl::ReplyMessage> replies;
  devmem::Failure f;
  Check(!nl::Execute(&sock, req, &replies, &f) && f.errnum != 0, "bind-tx without fd must fail");
}

void LinkDump() {
  const nl::FamilySpec* fam = nl::FindFamily("rtnl");
  nl::PreparedRequest req = nl::Prepare(*fam, fam->commands[0], true, 0);
  nl::NetlinkSocket sock;
  std::vector<nl::ReplyMessage> replies;
  devmem::Failure f;
  Check(nl::Execute(&sock, req, &replies, &f) && !replies.empty(), "rtnl link dump: " + f.message);
}

// A loopback TCP pair: the parser on what a plain recvmsg returns, and
// DONTNEED on a socket without devmem (the kernel refuses; nothing leaks).
void LoopbackReceive() {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  Check(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(ls, 1) == 0 &&
            getsockname(ls, reinterpret_cast<sockaddr*>(&a), &al) == 0,
        "listen on loopback");
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Check(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0, "connect");
  int s = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
  Check(send(c, "hello devmem", 12, 0) == 12, "send");
  std::vector<uint8_t> buf(64), ctl(CMSG_SPACE(sizeof(devmem::uapi::DmabufCmsg)) * 8);
  iovec iov{buf.data(), buf.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.data();
  m.msg_controllen = ctl.size();
  ssize_t n = recvmsg(s, &m, devmem::uapi::kMsgSockDevmem);
  Check(n == 12, "recvmsg(MSG_SOCK_DEVMEM) on loopback returns the plain bytes");
  rx::FragmentColumns cols;
  rx::ParseOutcome o = rx::ParseRecvmsg(ctl.data(), m.msg_controllen, m.msg_flags, n > 0 ? n : 0, 0, &cols);
  Check(o.error == rx::ParseError::kNone && cols.Count() == 1 && cols.kinds[0] == rx::kHost, "host data parsed");
  std::vector<uint32_t> tokens{5, 6, 7, 100};
  rx::KernelSource kernel;
  rx::ReleaseResult r = rx::ReleaseTokens(kernel, s, tokens);
  Check(r.calls == 1 && r.freed == 0, "DONTNEED on a socket that holds no tokens frees nothing");
  // The ledger the receive path keeps, released through the kernel and through a failing replay.
  rx::TokenLedger ledger;
  ledger.Hold(1, {5, 6, 7}, 3 * 4096);
  ledger.Hold(2, {9}, 4096);
  Check(ledger.tokens() == 4 && ledger.batches() == 2, "the ledger holds two batches");
  Check(ledger.Release(1, kernel, s).requested == 3 && ledger.Release(1, kernel, s).calls == 0,
        "a batch is released once");
  rx::ReplaySource failing({{{0}, 0}}, 0);
  failing.FailDontneedFrom(0, EFAULT);
  rx::ReleaseResult all = ledger.ReleaseAll(failing, s);
  Check(all.error == EFAULT && all.freed == 0 && ledger.tokens() == 0 && ledger.totals().release_errors == 1,
        "a failed release is reported and counted, and leaves nothing held");
  close(s);
  close(c);
  close(ls);
}

void DriverInfoAndAddresses() {
  devmem::ethtool::DriverInfo info;
  devmem::Failure f;
  devmem::ethtool::GetDriverInfo("lo", &info, &f);  // lo has no driver info on some kernels; either way no leak
  Check(!devmem::ethtool::GetDriverInfo("no-such-if0", &info, &f), "driver info of a missing interface fails");
  devmem::net::SocketAddress sa;
  Check(devmem::net::ParseAddress("fd77::1", 5201, &sa) && !devmem::net::ParseAddress("not an address", 1, &sa),
        "address parsing");
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 1000;
  // Warm-up: the family cache and libc allocate once, for good.
  QueueDump();
  int fds = OpenFds();
  for (int i = 0; i < rounds && failures == 0; ++i) {
    QueueDump();
    BindRxRefused();
    BindTxMissingFd();
    LinkDump();
    LoopbackReceive();
    DriverInfoAndAddresses();
  }
  int after = OpenFds();
  Check(after == fds, "open fds " + std::to_string(fds) + " before, " + std::to_string(after) + " after");
  std::printf("native leaks: %d rounds, fds %d -> %d, %d failure(s)\n", rounds, fds, after, failures);
  return failures == 0 ? 0 : 1;
}

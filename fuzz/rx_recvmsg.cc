// SPDX-License-Identifier: MIT
//
// libFuzzer target: what one recvmsg(MSG_SOCK_DEVMEM) returns, through the
// cmsg/fragment parser and then the token coalescer and DONTNEED planner,
// with the invariants the receive path relies on checked after each input.
//
// Input: [msg_flags u8][expected_id u32 LE][nbytes u32 LE][controllen u16 LE]
// [plan limits u8] then the control bytes, then the iov bytes. nbytes is
// clipped to the iov bytes present (the kernel never returns more than fit).
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "rx/fragments.h"
#include "rx/token_release.h"

namespace rx = devmem::rx;

namespace {

void CheckPlan(const std::vector<uint32_t>& tokens, unsigned max_ranges, unsigned max_frags) {
  std::vector<uint32_t> work(tokens);
  std::set<uint32_t> distinct;
  for (uint32_t t : tokens)
    if (t != 0) distinct.insert(t);
  std::vector<rx::TokenRange> ranges = rx::CoalesceTokens(work);
  std::vector<rx::DontneedCall> calls = rx::PlanDontneed(ranges, max_ranges, max_frags);
  uint64_t planned = 0;
  std::set<uint32_t> seen;
  for (const rx::DontneedCall& c : calls) {
    if (c.ranges.empty() || c.ranges.size() > max_ranges || c.fragments > max_frags) abort();
    uint64_t in_call = 0;
    for (const rx::TokenRange& r : c.ranges) {
      if (r.token_count == 0) abort();
      in_call += r.token_count;
      for (uint64_t t = r.token_start; t < uint64_t{r.token_start} + r.token_count; ++t)
        if (!distinct.count(static_cast<uint32_t>(t)) || !seen.insert(static_cast<uint32_t>(t)).second) abort();
    }
    if (in_call != c.fragments) abort();
    planned += in_call;
  }
  // Every live token is returned exactly once.
  if (planned != distinct.size()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHdr = 1 + 4 + 4 + 2 + 1;
  if (size < kHdr) return 0;
  int msg_flags = data[0] & 1 ? MSG_CTRUNC : 0;
  if (data[0] & 2) msg_flags |= MSG_TRUNC;
  uint32_t expected_id, nbytes32;
  uint16_t controllen16;
  std::memcpy(&expected_id, data + 1, 4);
  std::memcpy(&nbytes32, data + 5, 4);
  std::memcpy(&controllen16, data + 9, 2);
  uint8_t limits = data[11];
  size_t rest = size - kHdr;
  size_t controllen = std::min<size_t>(controllen16, rest);
  // The bytes a recvmsg returned already sit in the batch's linear area, so
  // only their count matters to the parser.
  size_t nbytes = std::min<size_t>(nbytes32, rest - controllen);

  // Exact-size heap copies: ASan flags any read past either area.
  std::vector<uint8_t> control(data + kHdr, data + kHdr + controllen);

  rx::FragmentColumns cols;
  rx::ParseOutcome o = rx::ParseRecvmsg(control.data(), control.size(), msg_flags, nbytes, expected_id, &cols);

  size_t n = cols.Count();
  if (cols.offsets.size() != n || cols.sizes.size() != n || cols.tokens.size() != n || cols.dmabuf_ids.size() != n)
    abort();
  if (o.fragments != n) abort();
  uint64_t dmabuf = 0, host_side = 0;
  for (size_t i = 0; i < n; ++i) {
    if (cols.kinds[i] == rx::kDmabuf) {
      dmabuf += cols.sizes[i];
    } else {
      // Linear and host fragments index bytes inside the linear area's used part.
      if (cols.offsets[i] + cols.sizes[i] > static_cast<double>(cols.linear_bytes)) abort();
      if (cols.tokens[i] != 0) abort();
      host_side += cols.sizes[i];
    }
  }
  if (dmabuf != cols.dmabuf_bytes || host_side != cols.linear_bytes) abort();
  if (o.error == rx::ParseError::kNone && dmabuf + host_side != nbytes) abort();
  if ((msg_flags & MSG_CTRUNC) && o.error != rx::ParseError::kControlTruncated) abort();
  if (o.error == rx::ParseError::kFlowSteering && (expected_id == 0 || o.foreign_id == expected_id)) abort();

  CheckPlan(cols.tokens, 128, 1024);
  // Small limits reach the splitting paths with small inputs.
  CheckPlan(cols.tokens, 1 + (limits & 7), 1 + (limits >> 3));
  return 0;
}

// SPDX-License-Identifier: MIT
//
// Returning fragment tokens with SO_DEVMEM_DONTNEED: coalesce consecutive
// tokens into ranges and split them into calls the kernel accepts (at most
// 128 ranges and 1024 fragments per call; past 1024 it silently stops).
#ifndef DEVMEM_TCP_RX_TOKEN_RELEASE_H_
#define DEVMEM_TCP_RX_TOKEN_RELEASE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rx/rx_source.h"
#include "uapi/devmem_uapi.h"

namespace devmem::rx {

using TokenRange = uapi::DmabufToken;

// One setsockopt's worth of ranges.
struct DontneedCall {
  std::vector<TokenRange> ranges;
  uint32_t fragments = 0;
};

// Sorts `tokens` in place and coalesces runs of consecutive values. Token 0
// is never valid (the kernel allocates from 1) and is dropped.
std::vector<TokenRange> CoalesceTokens(std::vector<uint32_t>& tokens);

// Splits ranges into calls within the kernel's limits, splitting a range
// that alone exceeds the fragment limit, and hands each call's ranges to
// `issue(ranges, count, fragments)` as they are formed: no allocation.
template <typename Issue>
void ForEachDontneedCall(const std::vector<TokenRange>& ranges, unsigned max_ranges, unsigned max_frags,
                         Issue&& issue) {
  TokenRange call[uapi::kMaxDontneedTokens];
  unsigned n = 0;
  uint32_t frags = 0;
  if (max_ranges > uapi::kMaxDontneedTokens) max_ranges = uapi::kMaxDontneedTokens;
  for (TokenRange r : ranges) {
    while (r.token_count > 0) {
      if (n == max_ranges || frags == max_frags) {
        issue(static_cast<const TokenRange*>(call), n, frags);
        n = 0;
        frags = 0;
      }
      uint32_t take = r.token_count < max_frags - frags ? r.token_count : max_frags - frags;
      call[n++] = {r.token_start, take};
      frags += take;
      r.token_start += take;
      r.token_count -= take;
    }
  }
  if (n > 0) issue(static_cast<const TokenRange*>(call), n, frags);
}

// The same split, collected (for the test entry point).
std::vector<DontneedCall> PlanDontneed(const std::vector<TokenRange>& ranges,
                                       unsigned max_ranges = uapi::kMaxDontneedTokens,
                                       unsigned max_frags = uapi::kMaxDontneedFrags);

struct ReleaseResult {
  uint64_t requested = 0;
  uint64_t freed = 0;  // sum of what the kernel said it freed
  uint64_t calls = 0;
  int error = 0;  // errno of a failed call, 0 if all succeeded
};

// Issues the calls on socket `fd` through `source`.
ReleaseResult ReleaseTokens(RxSource& source, int fd, std::vector<uint32_t>& tokens);

}  // namespace devmem::rx

#endif  // DEVMEM_TCP_RX_TOKEN_RELEASE_H_

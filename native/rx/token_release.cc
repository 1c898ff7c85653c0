// SPDX-License-Identifier: MIT
#include "rx/token_release.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>

namespace devmem::rx {

std::vector<TokenRange> CoalesceTokens(std::vector<uint32_t>& tokens) {
  // The kernel hands out tokens mostly in increasing order: checking is
  // linear, sorting what is already sorted is not.
  if (!std::is_sorted(tokens.begin(), tokens.end())) std::sort(tokens.begin(), tokens.end());
  std::vector<TokenRange> ranges;
  for (uint32_t t : tokens) {
    if (t == 0) continue;
    if (!ranges.empty()) {
      TokenRange& last = ranges.back();
      // A duplicate cannot happen for live tokens; folding it keeps counts honest.
      if (t == last.token_start + last.token_count - 1) continue;
      if (t == last.token_start + last.token_count) {
        ++last.token_count;
        continue;
      }
    }
    ranges.push_back({t, 1});
  }
  return ranges;
}

std::vector<DontneedCall> PlanDontneed(const std::vector<TokenRange>& ranges, unsigned max_ranges, unsigned max_frags) {
  std::vector<DontneedCall> calls;
  ForEachDontneedCall(ranges, max_ranges, max_frags, [&](const TokenRange* r, unsigned n, uint32_t frags) {
    calls.push_back({std::vector<TokenRange>(r, r + n), frags});
  });
  return calls;
}

ReleaseResult ReleaseTokens(RxSource& source, int fd, std::vector<uint32_t>& tokens) {
  ReleaseResult res;
  std::vector<TokenRange> ranges = CoalesceTokens(tokens);
  ForEachDontneedCall(ranges, uapi::kMaxDontneedTokens, uapi::kMaxDontneedFrags,
                      [&](const TokenRange* r, unsigned n, uint32_t frags) {
                        res.requested += frags;
                        int rc;
                        do {
                          rc = source.Dontneed(fd, r, n);
                        } while (rc < 0 && errno == EINTR);
                        ++res.calls;
                        if (rc < 0) {
                          res.error = errno;
                          return;  // try the rest: each call stands alone
                        }
                        res.freed += static_cast<uint64_t>(rc);
                      });
  return res;
}

}  // namespace devmem::rx

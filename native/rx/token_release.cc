// SPDX-License-Identifier: MIT
#include "rx/token_release.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>

namespace devmem::rx {

std::vector<TokenRange> CoalesceTokens(std::vector<uint32_t>& tokens) {
  std::sort(tokens.begin(), tokens.end());
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
  DontneedCall cur;
  for (TokenRange r : ranges) {
    while (r.token_count > 0) {
      if (cur.ranges.size() == max_ranges || cur.fragments == max_frags) {
        calls.push_back(std::move(cur));
        cur = DontneedCall();
      }
      uint32_t take = std::min<uint32_t>(r.token_count, max_frags - cur.fragments);
      cur.ranges.push_back({r.token_start, take});
      cur.fragments += take;
      r.token_start += take;
      r.token_count -= take;
    }
  }
  if (!cur.ranges.empty()) calls.push_back(std::move(cur));
  return calls;
}

ReleaseResult ReleaseTokens(RxSource& source, int fd, std::vector<uint32_t>& tokens) {
  ReleaseResult res;
  std::vector<TokenRange> ranges = CoalesceTokens(tokens);
  for (const DontneedCall& call : PlanDontneed(ranges)) {
    res.requested += call.fragments;
    int rc;
    do {
      rc = source.Dontneed(fd, call.ranges.data(), call.ranges.size());
    } while (rc < 0 && errno == EINTR);
    ++res.calls;
    if (rc < 0) {
      res.error = errno;
      continue;  // try the rest: each call stands alone
    }
    res.freed += static_cast<uint64_t>(rc);
  }
  return res;
}

}  // namespace devmem::rx

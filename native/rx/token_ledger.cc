// SPDX-License-Identifier: MIT
#include "rx/token_ledger.h"

#include <utility>

namespace devmem::rx {

void TokenLedger::Hold(uint64_t seq, std::vector<uint32_t> tokens, uint64_t bytes) {
  Forget(seq);  // a seq names one batch: a second Hold replaces the first
  if (tokens.empty()) return;
  tokens_ += tokens.size();
  bytes_ += bytes;
  held_.emplace(seq, Held{std::move(tokens), bytes});
}

void TokenLedger::Forget(uint64_t seq) {
  auto it = held_.find(seq);
  if (it == held_.end()) return;
  tokens_ -= it->second.tokens.size();
  bytes_ -= it->second.bytes;
  held_.erase(it);
}

ReleaseResult TokenLedger::Release(uint64_t seq, RxSource& source, int fd) {
  auto it = held_.find(seq);
  if (it == held_.end()) return {};
  Held h = std::move(it->second);
  held_.erase(it);
  tokens_ -= h.tokens.size();
  bytes_ -= h.bytes;
  ReleaseResult r = ReleaseTokens(source, fd, h.tokens);
  totals_.dontneed_calls += r.calls;
  totals_.released_tokens += r.freed;
  if (r.freed < r.requested) ++totals_.short_releases;
  // The kernel keeps what a failed call named: those buffers are lost to the
  // binding until the socket closes, so the caller must hear of it.
  if (r.error != 0) ++totals_.release_errors;
  return r;
}

ReleaseResult TokenLedger::ReleaseAll(RxSource& source, int fd) {
  ReleaseResult all;
  while (!held_.empty()) {
    ReleaseResult r = Release(held_.begin()->first, source, fd);
    all.requested += r.requested;
    all.freed += r.freed;
    all.calls += r.calls;
    if (r.error != 0) all.error = r.error;
  }
  return all;
}

}  // namespace devmem::rx

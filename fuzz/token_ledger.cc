// SPDX-License-Identifier: MIT
//
// libFuzzer target: rx::TokenLedger, the per-batch token bookkeeping of the
// receive path, driven by arbitrary sequences of holds, releases, forgets
// and release-alls, returning through a ReplaySource that can fail DONTNEED
// from a chosen call on. After every step the ledger's counters must match a
// simple model, and every release must account for what it was given.
//
// Input: [fail: u8, bit 0 set = fail DONTNEED with EFAULT from call (fail >> 1)]
// then ops, each [op u8] [seq u8] [count u8] and, for a hold, count tokens of
// u16 LE each (token values, 0 and duplicates allowed).
#include <errno.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

#include "rx/replay_source.h"
#include "rx/token_ledger.h"

namespace rx = devmem::rx;

namespace {

struct Model {
  size_t tokens;
  uint64_t bytes;
  uint64_t distinct;  // what a release asks the kernel for: token 0 dropped, duplicates merged
};

void Require(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  rx::ReplaySource source({{{0}, 0}}, 0);
  const bool failing = (data[0] & 1) != 0;
  if (failing) source.FailDontneedFrom(data[0] >> 1, EFAULT);
  rx::TokenLedger ledger;
  std::map<uint64_t, Model> model;
  uint64_t calls = 0, freed = 0;
  size_t i = 1;
  auto checkCounts = [&] {
    size_t tokens = 0;
    uint64_t bytes = 0;
    for (const auto& [seq, m] : model) {
      tokens += m.tokens;
      bytes += m.bytes;
    }
    Require(ledger.tokens() == tokens && ledger.bytes() == bytes && ledger.batches() == model.size());
    Require(ledger.totals().dontneed_calls == calls && ledger.totals().released_tokens == freed);
  };
  auto checkRelease = [&](const rx::ReleaseResult& r, uint64_t asked) {
    Require(r.requested == asked);
    Require(r.freed <= r.requested);
    // The replay frees what it is asked unless it fails; a failure says so.
    if (!failing) Require(r.freed == r.requested && r.error == 0);
    if (r.freed < r.requested) Require(r.error == EFAULT);
    calls += r.calls;
    freed += r.freed;
  };
  while (i + 3 <= size) {
    const uint8_t op = data[i] % 4, seq = data[i + 1] % 16, count = data[i + 2];
    i += 3;
    switch (op) {
      case 0: {  // hold
        std::vector<uint32_t> tokens;
        std::set<uint32_t> distinct;
        for (unsigned k = 0; k < count && i + 2 <= size; ++k, i += 2) {
          uint32_t t = data[i] | (data[i + 1] << 8);
          tokens.push_back(t);
          if (t != 0) distinct.insert(t);
        }
        const uint64_t bytes = tokens.size() * 4096ull;
        model.erase(seq);
        if (!tokens.empty()) model[seq] = {tokens.size(), bytes, distinct.size()};
        ledger.Hold(seq, std::move(tokens), bytes);
        break;
      }
      case 1: {  // release one batch
        auto it = model.find(seq);
        const uint64_t asked = it == model.end() ? 0 : it->second.distinct;
        if (it != model.end()) model.erase(it);
        checkRelease(ledger.Release(seq, source, -1), asked);
        break;
      }
      case 2:  // forget (the fd is gone)
        model.erase(seq);
        ledger.Forget(seq);
        break;
      default: {  // release everything (close)
        uint64_t asked = 0;
        for (const auto& [s, m] : model) asked += m.distinct;
        model.clear();
        checkRelease(ledger.ReleaseAll(source, -1), asked);
        break;
      }
    }
    checkCounts();
    // Backpressure reads the same counters: at either limit, and under both.
    Require(ledger.Over(ledger.tokens(), ~0ull) && ledger.Over(~0ull, ledger.bytes()));
    Require(!ledger.Over(ledger.tokens() + 1, ledger.bytes() + 1));
  }
  return 0;
}

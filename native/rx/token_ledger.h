// SPDX-License-Identifier: MIT
//
// The fragment tokens a socket has handed out and not yet returned, kept per
// delivered batch (its sequence number): JavaScript only ever names a seq, so
// it can neither return a token twice nor one it never got. Returning goes
// through an RxSource, which lets the fuzzer and the leak test drive the
// ledger with a ReplaySource; the counters are what backpressure and stats()
// read.
#ifndef DEVMEM_TCP_RX_TOKEN_LEDGER_H_
#define DEVMEM_TCP_RX_TOKEN_LEDGER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "rx/rx_source.h"
#include "rx/token_release.h"

namespace devmem::rx {

class TokenLedger {
 public:
  // What every release so far added up to.
  struct Totals {
    uint64_t dontneed_calls = 0;
    uint64_t released_tokens = 0;  // what the kernel said it freed
    uint64_t short_releases = 0;   // releases that freed fewer than asked
    uint64_t release_errors = 0;   // releases with a failed DONTNEED call
  };

  // Holds a delivered batch's dma-buf tokens under `seq` (nothing for none;
  // what `seq` held before is forgotten).
  void Hold(uint64_t seq, std::vector<uint32_t> tokens, uint64_t bytes);
  // Returns `seq`'s tokens through `source` on `fd`. All zeros when `seq`
  // holds none: released already, or never had any.
  ReleaseResult Release(uint64_t seq, RxSource& source, int fd);
  // Returns every batch's tokens, oldest first; `error` is the last failure.
  ReleaseResult ReleaseAll(RxSource& source, int fd);
  // Forgets `seq`'s tokens with no syscall (the socket's fd is gone already).
  void Forget(uint64_t seq);

  // At or over either limit: stop reading until something is released.
  bool Over(uint64_t max_tokens, uint64_t max_bytes) const { return tokens_ >= max_tokens || bytes_ >= max_bytes; }
  uint64_t tokens() const { return tokens_; }
  uint64_t bytes() const { return bytes_; }
  size_t batches() const { return held_.size(); }
  const Totals& totals() const { return totals_; }

 private:
  struct Held {
    std::vector<uint32_t> tokens;
    uint64_t bytes;
  };
  std::map<uint64_t, Held> held_;
  uint64_t tokens_ = 0;
  uint64_t bytes_ = 0;
  Totals totals_;
};

}  // namespace devmem::rx

#endif  // DEVMEM_TCP_RX_TOKEN_LEDGER_H_

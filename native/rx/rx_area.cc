// SPDX-License-Identifier: MIT
#include "rx/rx_area.h"

#include <cstdlib>
#include <mutex>
#include <vector>

namespace devmem::rx {

namespace {

// Blocks come back from Buffer finalizers of any environment (worker threads
// included), hence one pool with a lock. Bounded, so what a burst leaves
// behind is at most kMaxBlocks blocks (32 MiB); LIFO, so the block reused next
// is the warmest.
class BlockPool {
 public:
  static constexpr size_t kMaxBlocks = 16;

  uint8_t* Get() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        uint8_t* b = free_.back();
        free_.pop_back();
        return b;
      }
    }
    return static_cast<uint8_t*>(std::malloc(RxArea::kBlockBytes));
  }

  void Put(uint8_t* b) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_.size() < kMaxBlocks) {
        free_.push_back(b);
        return;
      }
    }
    std::free(b);
  }

 private:
  std::mutex mu_;
  std::vector<uint8_t*> free_;
};

// Never destroyed: finalizers may still return blocks while the process exits.
BlockPool& Pool() {
  static BlockPool* pool = new BlockPool();
  return *pool;
}

}  // namespace

RxArea::~RxArea() {
  if (block_) Pool().Put(block_);
}

uint8_t* RxArea::Tail() {
  if (!block_) {
    block_ = Pool().Get();
    used_ = 0;
    if (!block_) return nullptr;
  }
  return block_ + used_;
}

uint8_t* RxArea::Detach() {
  uint8_t* b = block_;
  block_ = nullptr;
  used_ = 0;
  return b;
}

void RxArea::Recycle(uint8_t* block) { Pool().Put(block); }

void RxArea::Release() {
  if (block_) Pool().Put(block_);
  block_ = nullptr;
  used_ = 0;
}

}  // namespace devmem::rx

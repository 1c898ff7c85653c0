// SPDX-License-Identifier: MIT
//
// The memory recvmsg writes linear and host bytes into. A batch that filled
// much of it takes the block itself as its `linear` Buffer, so the bytes are
// written once, by the kernel, and never copied; the Buffer gives the block
// back to a small process-wide pool when it is collected, so steady state
// reuses warm pages instead of faulting in fresh ones. A batch with a few
// bytes copies them out and leaves the block in place.
#ifndef DEVMEM_TCP_RX_RX_AREA_H_
#define DEVMEM_TCP_RX_RX_AREA_H_

#include <cstddef>
#include <cstdint>

namespace devmem::rx {

class RxArea {
 public:
  static constexpr size_t kBlockBytes = 2u << 20;

  RxArea() = default;
  ~RxArea();
  RxArea(const RxArea&) = delete;
  RxArea& operator=(const RxArea&) = delete;

  // Where the next recvmsg writes, and how much room is left (the iov length,
  // which also caps the dma-buf bytes one recvmsg returns). Null on ENOMEM.
  uint8_t* Tail();
  size_t Room() const { return kBlockBytes - used_; }
  size_t Used() const { return used_; }
  const uint8_t* Data() const { return block_; }
  void Commit(size_t n) { used_ += n; }
  // Forgets the bytes (they were copied out) and keeps the block.
  void Reset() { used_ = 0; }
  // Hands the block (kBlockBytes long, Used() of it valid) to the caller,
  // who gives it back with Recycle(); the next Tail() starts another block.
  uint8_t* Detach();
  // Gives the block back to the pool now, for a socket that reads no more.
  void Release();
  static void Recycle(uint8_t* block);

 private:
  uint8_t* block_ = nullptr;
  size_t used_ = 0;
};

}  // namespace devmem::rx

#endif  // DEVMEM_TCP_RX_RX_AREA_H_

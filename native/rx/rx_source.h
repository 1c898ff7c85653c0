// SPDX-License-Identifier: MIT
//
// Where a socket's receive path gets its data and returns its tokens. For a
// devmem socket that is the kernel, through the socket fd; for an io_uring
// zcrx socket it is the interface queue's completions (zcrx/hub.h), presented
// as the cmsgs devmem would have given; the fragment-pipeline benchmark
// replays recorded control buffers. Everything above this seam (drain loop,
// parser, batch delivery, token release) is the same code for all three.
#ifndef DEVMEM_TCP_RX_RX_SOURCE_H_
#define DEVMEM_TCP_RX_RX_SOURCE_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

#include "rx/fragments.h"
#include "uapi/devmem_uapi.h"

namespace devmem::rx {

class RxSource {
 public:
  virtual ~RxSource() = default;
  // recvmsg(2) semantics: bytes, 0 at end of stream, -1 with errno set.
  virtual ssize_t Recvmsg(int fd, msghdr* msg, int flags) = 0;
  // setsockopt(SO_DEVMEM_DONTNEED) semantics: fragments freed, or -1 with errno.
  virtual int Dontneed(int fd, const uapi::DmabufToken* ranges, size_t count) = 0;
  // Corrects the kinds of the fragments the last Recvmsg produced, from
  // `first` on, where the source knows more than the cmsgs say (zcrx: which
  // ones the kernel copied).
  virtual void Refine(FragmentColumns* /*cols*/, size_t /*first*/) {}
  // True when a read that came back short of its iov and its control space
  // means nothing was left to read at that moment, and anything that arrives
  // later is reported by level-triggered poll: the drain loop may then stop
  // without the recvmsg that would only return EAGAIN. A source fed by its
  // own queue (zcrx) or one that is never empty (replay) keeps reading.
  virtual bool ShortReadDrains() const { return false; }
};

class KernelSource final : public RxSource {
 public:
  ssize_t Recvmsg(int fd, msghdr* msg, int flags) override { return ::recvmsg(fd, msg, flags); }
  int Dontneed(int fd, const uapi::DmabufToken* ranges, size_t count) override {
    return ::setsockopt(fd, SOL_SOCKET, uapi::kSoDevmemDontneed, ranges,
                        static_cast<socklen_t>(count * sizeof(uapi::DmabufToken)));
  }
  // tcp_recvmsg returns short when its receive queue is empty, when segments
  // wait in the backlog (release_sock then wakes the poller), or at a FIN, an
  // urgent mark or a change between dma-buf and linear skbs; in each case the
  // socket is readable again (data, or EOF) and uv_poll reports it.
  bool ShortReadDrains() const override { return true; }
};

}  // namespace devmem::rx

#endif  // DEVMEM_TCP_RX_RX_SOURCE_H_

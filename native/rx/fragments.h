// SPDX-License-Identifier: MIT
//
// Turning what recvmsg(MSG_SOCK_DEVMEM) returned into fragment records, in
// stream order, laid out column-wise so that a whole batch crosses into JS as
// a handful of typed arrays instead of an object per fragment.
#ifndef DEVMEM_TCP_RX_FRAGMENTS_H_
#define DEVMEM_TCP_RX_FRAGMENTS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace devmem::rx {

enum FragmentKind : uint8_t {
  kDmabuf = 0,  // payload in the dma-buf at `offset`
  kLinear = 1,  // SCM_DEVMEM_LINEAR: bytes the NIC left in host memory, in `linear` at `offset`
  kHost = 2,    // ordinary data with no devmem cmsg at all (a flow not steered to a bound queue)
  kCopied = 3,  // io_uring zcrx: payload in the area at `offset`, copied there by the kernel's fallback
};

// A batch of fragments, column-wise. For kDmabuf and kCopied the offset is
// into the dma-buf (or zcrx area) and the token returns the buffer; for kLinear/kHost the offset indexes
// the batch's linear area (where recvmsg wrote those bytes, in stream order),
// token and dmabuf id are 0.
struct FragmentColumns {
  std::vector<double> offsets;  // dma-buf offsets stay far below 2^53
  std::vector<uint32_t> sizes;
  std::vector<uint32_t> tokens;
  std::vector<uint32_t> dmabuf_ids;
  std::vector<uint8_t> kinds;
  uint64_t linear_bytes = 0;  // linear and host bytes in the linear area
  uint64_t dmabuf_bytes = 0;
  uint64_t copied_bytes = 0;  // kCopied (zcrx), not in dmabuf_bytes

  size_t Count() const { return kinds.size(); }
  void Clear();
  void Reserve(size_t more);
  // Inline: it runs once per fragment.
  void Push(FragmentKind kind, double offset, uint32_t size, uint32_t token, uint32_t id) {
    offsets.push_back(offset);
    sizes.push_back(size);
    tokens.push_back(token);
    dmabuf_ids.push_back(id);
    kinds.push_back(kind);
    if (kind == kDmabuf) dmabuf_bytes += size;
  }
};

enum class ParseError {
  kNone,
  kFlowSteering,      // a dmabuf_id that is not our binding's
  kControlTruncated,  // MSG_CTRUNC: cmsgs (and their tokens) were dropped
  kMalformed,         // the cmsgs do not add up to the bytes returned
};

struct ParseOutcome {
  ParseError error = ParseError::kNone;
  std::string detail;
  uint32_t foreign_id = 0;  // with kFlowSteering
  size_t fragments = 0;     // fragments appended by this call
};

// Parses one recvmsg result: `nbytes` returned and the control area. The
// iov was the tail of the batch's linear area, so linear and host bytes are
// already in place: they are recorded at `out->linear_bytes` onwards, never
// copied. Every DMABUF fragment is appended (its token must be returned even
// when the batch is in error). expected_id 0 disables the binding check.
ParseOutcome ParseRecvmsg(const uint8_t* control, size_t controllen, int msg_flags, size_t nbytes, uint32_t expected_id,
                          FragmentColumns* out);

}  // namespace devmem::rx

#endif  // DEVMEM_TCP_RX_FRAGMENTS_H_

// SPDX-License-Identifier: MIT
//
// Turns the datagrams a netlink socket returns for one request into reply
// payloads or an error. Pure: it never touches a socket, so the same code runs
// in production, in unit tests fed with hand-built bytes, and under a fuzzer.
#ifndef DEVMEM_TCP_NETLINK_REPLY_H_
#define DEVMEM_TCP_NETLINK_REPLY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/failure.h"

namespace devmem::nl {

struct ReplyMessage {
  uint16_t type;
  uint16_t flags;
  std::vector<uint8_t> payload;  // everything after the nlmsghdr
};

class ReplyCollector {
 public:
  enum class State { kNeedMore, kDone, kMalformed };

  // `dump`: the request was NLM_F_DUMP (ends with NLMSG_DONE); otherwise it
  // carried NLM_F_ACK and ends with an NLMSG_ERROR whose error is 0.
  ReplyCollector(uint32_t seq, bool dump) : seq_(seq), dump_(dump) {}

  // Feeds one received datagram. Messages with another sequence number are
  // stale answers to an earlier request on the same socket and are skipped.
  State Feed(const uint8_t* data, size_t len);

  State state() const { return state_; }
  // Negative errno reported by the kernel, 0 on success.
  int error() const { return error_; }
  const Extack& extack() const { return extack_; }
  const std::string& malformed_reason() const { return malformed_; }
  const std::vector<ReplyMessage>& messages() const { return messages_; }
  size_t skipped_stale() const { return skipped_; }

 private:
  State Malformed(std::string why);
  void ParseExtack(const uint8_t* tlvs, size_t len);

  uint32_t seq_;
  bool dump_;
  State state_ = State::kNeedMore;
  int error_ = 0;
  Extack extack_;
  std::string malformed_;
  std::vector<ReplyMessage> messages_;
  size_t skipped_ = 0;
};

}  // namespace devmem::nl

#endif  // DEVMEM_TCP_NETLINK_REPLY_H_

// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_COMMON_FAILURE_H_
#define DEVMEM_TCP_COMMON_FAILURE_H_

#include <cstdint>
#include <optional>
#include <string>

namespace devmem {

// What the kernel's extended ACK said about a failed netlink request.
struct Extack {
  std::string message;            // NLMSGERR_ATTR_MSG, may be empty
  int64_t offset = -1;            // NLMSGERR_ATTR_OFFS into our request, -1 if absent
  std::string attribute;          // name of the attribute we sent at that offset
  int64_t missing_type = -1;      // NLMSGERR_ATTR_MISS_TYPE, -1 if absent
  std::string missing_attribute;  // its name in the request's attribute set
  int64_t missing_nest = -1;      // NLMSGERR_ATTR_MISS_NEST offset, -1 if absent
  bool present = false;
};

// A failure produced off the JS thread (worker threads cannot create JS
// values). Converted to an Error with the SystemError shape on the JS thread.
struct Failure {
  int errnum = 0;       // positive errno; 0 with a non-empty protocol message
  std::string syscall;  // "sendmsg", "recvmsg", "netlink", ...
  std::string message;  // human context: what we were doing
  std::optional<Extack> extack;
  // A stable library-level reason decided where the facts are known (for
  // example KERNEL_TOO_OLD when the kernel lacks a netlink op); empty when
  // the JS layer should classify from errno and extack.
  std::string reason;
  // A GPU library's own result code, by name ("CUDA_ERROR_OUT_OF_MEMORY"),
  // where the library and not the kernel failed; errnum is then 0.
  std::string library_code;
};

}  // namespace devmem

#endif  // DEVMEM_TCP_COMMON_FAILURE_H_

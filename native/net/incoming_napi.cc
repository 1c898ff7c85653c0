// SPDX-License-Identifier: MIT
#include "net/incoming_napi.h"

#include <errno.h>
#include <sys/socket.h>

#include "uapi/devmem_uapi.h"

namespace devmem::net {

bool IncomingNapiId(int fd, uint32_t* napi_id, Failure* f) {
  uint32_t id = 0;
  socklen_t len = sizeof(id);
  if (::getsockopt(fd, SOL_SOCKET, uapi::kSoIncomingNapiId, &id, &len) < 0) {
    *f = {errno, "getsockopt", "cannot read SO_INCOMING_NAPI_ID", std::nullopt, ""};
    return false;
  }
  *napi_id = id;
  return true;
}

}  // namespace devmem::net

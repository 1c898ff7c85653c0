// SPDX-License-Identifier: MIT
//
// Which RX queue a TCP socket's packets arrive through, as the socket itself
// reports it: SO_INCOMING_NAPI_ID, the NAPI id of the last packet received.
// The netdev queue dump maps NAPI ids to RX queues.
#ifndef DEVMEM_TCP_NET_INCOMING_NAPI_H_
#define DEVMEM_TCP_NET_INCOMING_NAPI_H_

#include <cstdint>

#include "common/failure.h"

namespace devmem::net {

// *napi_id is 0 while nothing has arrived through a NAPI instance (no data
// yet, or a device that does not mark packets with one: loopback, veth).
bool IncomingNapiId(int fd, uint32_t* napi_id, Failure* f);

}  // namespace devmem::net

#endif  // DEVMEM_TCP_NET_INCOMING_NAPI_H_

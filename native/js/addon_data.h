// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_ADDON_DATA_H_
#define DEVMEM_TCP_JS_ADDON_DATA_H_

#include <napi.h>

#include <memory>
#include <set>
#include <vector>

#include "netlink/socket.h"

namespace devmem::js {

class SocketObject;
class DeviceWatchObject;

// Per-environment state (the main thread and each worker get their own).
// Its destructor runs when the environment tears down, closing whatever the
// user left open so that a terminated worker leaks no fd and no binding.
struct AddonData {
  Napi::FunctionReference binding_ctor;
  Napi::FunctionReference socket_ctor;
  Napi::FunctionReference gpu_memory_ctor;
  Napi::FunctionReference zcrx_queue_ctor;
  std::vector<std::weak_ptr<nl::NetlinkSocket>> binding_sockets;
  // Open sockets, closed at teardown (their objects stay referenced while open).
  std::set<SocketObject*> sockets;
  // Open device watches, closed at teardown like the sockets.
  std::set<DeviceWatchObject*> device_watches;
  // dma-buf fds handed to JS (allocated, duplicated or adopted); JS closes
  // them through closeOwnedFd, teardown closes the rest: a terminated
  // worker's dma-bufs are not left open in the process.
  std::set<int> owned_fds;

  ~AddonData();

  static AddonData& Get(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }
};

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_ADDON_DATA_H_

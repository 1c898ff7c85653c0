// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_ADDON_DATA_H_
#define DEVMEM_TCP_JS_ADDON_DATA_H_

#include <napi.h>

#include <memory>
#include <vector>

#include "netlink/socket.h"

namespace devmem::js {

// Per-environment state (the main thread and each worker get their own).
// Its destructor runs when the environment tears down, closing whatever the
// user left open so that a terminated worker leaks no fd and no binding.
struct AddonData {
  Napi::FunctionReference binding_ctor;
  std::vector<std::weak_ptr<nl::NetlinkSocket>> binding_sockets;

  ~AddonData() {
    for (auto& w : binding_sockets)
      if (auto s = w.lock()) s->Close();
  }

  static AddonData& Get(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }
};

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_ADDON_DATA_H_

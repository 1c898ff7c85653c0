// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_DEVICE_WATCH_H_
#define DEVMEM_TCP_JS_DEVICE_WATCH_H_

#include <napi.h>

#include <memory>

#include "js/uv_poller.h"

namespace devmem::js {

// Listens to the netdev family's "mgmt" multicast group and reports devices
// that are unregistered (deleted, their driver unbound, or moved to another
// network namespace). The kernel tells a devmem socket nothing when the
// device its binding lives on goes away: the flow just goes quiet. This is
// how the library finds out.
//
// new NativeDeviceWatch(familyId, groupId, callback): the callback gets a
// Uint32Array of removed ifindexes, or null when the kernel dropped
// notifications (ENOBUFS) and the caller must re-check the devices it cares
// about. The poll handle is unreferenced: watching never keeps a process
// alive.
class DeviceWatchObject : public Napi::ObjectWrap<DeviceWatchObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DeviceWatchObject(const Napi::CallbackInfo& info);
  ~DeviceWatchObject() override;

  void CloseNow();
  // Environment teardown: the addon data is going away and JS cannot run.
  void Teardown() {
    js_gone_ = true;
    CloseNow();
  }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  void OnReadable();
  void Emit(napi_value arg);

  std::unique_ptr<UvPoller> poller_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  uint16_t family_id_ = 0;
  bool js_gone_ = false;
};

void InitDeviceWatch(Napi::Env env, Napi::Object exports);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_DEVICE_WATCH_H_

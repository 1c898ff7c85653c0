// SPDX-License-Identifier: MIT
//
// The JS face of a zcrx interface queue (zcrx::Hub): it pumps the ring when
// its eventfd fires, on the loop of the thread that opened it, and hands its
// Hub to the sockets that receive through it.
#ifndef DEVMEM_TCP_JS_ZCRX_OBJECT_H_
#define DEVMEM_TCP_JS_ZCRX_OBJECT_H_

#include <napi.h>

#include <memory>

#include "js/uv_poller.h"
#include "zcrx/hub.h"

namespace devmem::js {

class ZcrxQueueObject : public Napi::ObjectWrap<ZcrxQueueObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ZcrxQueueObject(const Napi::CallbackInfo& info);
  ~ZcrxQueueObject() override;

  // The open queue behind a JS NativeZcrxQueue, or nullptr (with a JS exception pending).
  static std::shared_ptr<zcrx::Hub> HubOf(Napi::Env env, Napi::Value v);

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value HostArea(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  void OnReadable();
  void CloseNow();

  std::shared_ptr<zcrx::Hub> hub_;
  std::unique_ptr<UvPoller> poller_;
};

void InitZcrx(Napi::Env env, Napi::Object exports);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_ZCRX_OBJECT_H_

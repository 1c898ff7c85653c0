// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_PROMISE_WORKER_H_
#define DEVMEM_TCP_JS_PROMISE_WORKER_H_

#include <napi.h>

#include <functional>
#include <utility>

#include "common/failure.h"
#include "js/errors.h"

namespace devmem::js {

// Runs blocking kernel work (netlink round trips, queue restarts during a
// bind) on the libuv thread pool and settles a promise on the JS thread.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Run = std::function<bool(Failure*)>;
  using Resolve = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise Start(Napi::Env env, const char* name, Run run, Resolve resolve) {
    auto* w = new PromiseWorker(env, name, std::move(run), std::move(resolve));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 private:
  PromiseWorker(Napi::Env env, const char* name, Run run, Resolve resolve)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)),
        resolve_(std::move(resolve)) {}

  void Execute() override {
    if (!run_(&failure_)) SetError("failed");
  }
  void OnOK() override {
    try {
      deferred_.Resolve(resolve_(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error&) override { deferred_.Reject(MakeError(Env(), failure_).Value()); }

  Napi::Promise::Deferred deferred_;
  Run run_;
  Resolve resolve_;
  Failure failure_;
};

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_PROMISE_WORKER_H_

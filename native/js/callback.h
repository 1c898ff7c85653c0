// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_CALLBACK_H_
#define DEVMEM_TCP_JS_CALLBACK_H_

#include <napi.h>

#include <vector>

namespace devmem::js {

enum class CallResult { kOk, kThrew, kJsGone };

// Calls `fn` from a libuv callback (no JS frame below us) with async_hooks
// context. Uses the C API on purpose: node-addon-api's wrapper turns a failed
// call into a C++ exception, and building that exception aborts the process
// when the environment (a terminating worker) can no longer run JS.
//  - kThrew: the listener threw; the error went to process 'uncaughtException'.
//  - kJsGone: the environment is shutting down; the caller should stop.
inline CallResult CallFromLoop(napi_env env, napi_value recv, napi_value fn, napi_async_context ctx,
                               const std::vector<napi_value>& args) {
  napi_value result;
  napi_status st = napi_make_callback(env, ctx, recv, fn, args.size(), args.data(), &result);
  if (st == napi_ok) return CallResult::kOk;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return CallResult::kJsGone;
  napi_value exc;
  napi_get_and_clear_last_exception(env, &exc);
  napi_fatal_exception(env, exc);
  return CallResult::kThrew;
}

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_CALLBACK_H_

// SPDX-License-Identifier: MIT
//
// Argument checks shared by the glue: what JS passed, turned into the C++
// value or a TypeError/RangeError naming the argument.
#ifndef DEVMEM_TCP_JS_ARGS_H_
#define DEVMEM_TCP_JS_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace devmem::js {

// A non-negative safe integer (sizes, offsets, lengths).
inline uint64_t SizeArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || std::floor(d) != d || d > 9007199254740991.0)
    throw Napi::RangeError::New(env, std::string(name) + " must be a non-negative safe integer");
  return static_cast<uint64_t>(d);
}

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_ARGS_H_

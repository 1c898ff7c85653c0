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

// A Uint8Array (or Buffer) argument.
inline Napi::Uint8Array BytesArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, std::string(name) + " must be a Uint8Array or Buffer");
  return v.As<Napi::Uint8Array>();
}

// [offset, offset + length) must lie within `size` bytes of the dma-buf.
inline void CheckRange(Napi::Env env, uint64_t offset, uint64_t length, uint64_t size) {
  if (offset > size || length > size - offset)
    throw Napi::RangeError::New(env, "range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                                         ") lies outside the " + std::to_string(size) + "-byte dma-buf");
}

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_ARGS_H_

// SPDX-License-Identifier: MIT
//
// Test entry points into the production receive code: the cmsg parser and
// the token coalescer/DONTNEED planner, fed with ABI-exact bytes from JS.
#include <napi.h>

#include <cstring>

#include "rx/fragments.h"
#include "rx/token_release.h"

namespace devmem::js {

namespace {

// parseRecvmsg(control: Uint8Array, msgFlags, nbytes, iov: Uint8Array, expectedId)
Napi::Value ParseRecvmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto control = info[0].As<Napi::Uint8Array>();
  int flags = info[1].As<Napi::Number>().Int32Value();
  size_t nbytes = info[2].As<Napi::Number>().Uint32Value();
  auto iov = info[3].As<Napi::Uint8Array>();
  if (iov.ByteLength() < nbytes) throw Napi::RangeError::New(env, "iov shorter than nbytes");
  rx::FragmentColumns cols;
  rx::ParseOutcome o = rx::ParseRecvmsg(control.Data(), control.ByteLength(), flags, nbytes, iov.Data(),
                                        info[4].As<Napi::Number>().Uint32Value(), &cols);
  static const char* kErrors[] = {"", "FLOW_STEERING", "CONTROL_TRUNCATED", "MALFORMED"};
  Napi::Object r = Napi::Object::New(env);
  r.Set("error", kErrors[static_cast<int>(o.error)]);
  r.Set("detail", o.detail);
  r.Set("foreignId", o.foreign_id);
  size_t n = cols.Count();
  auto f64 = Napi::Float64Array::New(env, n);
  auto sizes = Napi::Uint32Array::New(env, n);
  auto tokens = Napi::Uint32Array::New(env, n);
  auto ids = Napi::Uint32Array::New(env, n);
  auto kinds = Napi::Uint8Array::New(env, n);
  for (size_t i = 0; i < n; ++i) {
    f64[i] = cols.offsets[i];
    sizes[i] = cols.sizes[i];
    tokens[i] = cols.tokens[i];
    ids[i] = cols.dmabuf_ids[i];
    kinds[i] = cols.kinds[i];
  }
  r.Set("offsets", f64);
  r.Set("sizes", sizes);
  r.Set("tokens", tokens);
  r.Set("dmabufIds", ids);
  r.Set("kinds", kinds);
  r.Set("linear", Napi::Buffer<uint8_t>::Copy(env, cols.linear.data(), cols.linear.size()));
  return r;
}

// planDontneed(tokens: Uint32Array) -> [{ ranges: Uint32Array (start,count pairs), fragments }]
Napi::Value PlanDontneed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto in = info[0].As<Napi::Uint32Array>();
  std::vector<uint32_t> tokens(in.Data(), in.Data() + in.ElementLength());
  auto calls = rx::PlanDontneed(rx::CoalesceTokens(tokens));
  Napi::Array out = Napi::Array::New(env, calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    auto ranges = Napi::Uint32Array::New(env, calls[i].ranges.size() * 2);
    std::memcpy(ranges.Data(), calls[i].ranges.data(), calls[i].ranges.size() * sizeof(rx::TokenRange));
    Napi::Object c = Napi::Object::New(env);
    c.Set("ranges", ranges);
    c.Set("fragments", calls[i].fragments);
    out.Set(static_cast<uint32_t>(i), c);
  }
  return out;
}

}  // namespace

void InitRxTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("parseRecvmsg", Napi::Function::New(env, ParseRecvmsg, "parseRecvmsg"));
  testing.Set("planDontneed", Napi::Function::New(env, PlanDontneed, "planDontneed"));
}

}  // namespace devmem::js

// SPDX-License-Identifier: MIT
//
// Test entry points into the production receive code: the cmsg parser and
// the token coalescer/DONTNEED planner, fed with ABI-exact bytes from JS.
#include <napi.h>

#include <errno.h>
#include <sys/eventfd.h>

#include <cstring>

#include "common/reasons.h"
#include "js/addon_data.h"
#include "js/errors.h"
#include "js/socket_object.h"
#include "rx/fragments.h"
#include "rx/replay_source.h"
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
  rx::ParseOutcome o = rx::ParseRecvmsg(control.Data(), control.ByteLength(), flags, nbytes,
                                        info[4].As<Napi::Number>().Uint32Value(), &cols);
  // The reasons production gives each parse error (socket_object.cc).
  static const char* kErrors[] = {"", reasons::kFlowSteering, reasons::kControlTruncated, reasons::kProtocolError};
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
  // The linear bytes sit at the front of the iov, where recvmsg put them.
  r.Set("linear", Napi::Buffer<uint8_t>::Copy(env, iov.Data(), cols.linear_bytes));
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

// replaySocket(controls: Uint8Array[], nbytes: number[], recvmsgs, failDontneed?)
//   -> NativeSocket
// A NativeSocket whose receive source replays `controls` round-robin for
// `recvmsgs` calls and then ends the stream; with failDontneed = { errno,
// fromCall }, DONTNEED calls fail with that errno from that call on. It is watched through an eventfd
// that stays readable, so uv_poll drives its drain loop exactly as it drives
// a TCP socket's.
Napi::Value ReplaySocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto controls = info[0].As<Napi::Array>();
  auto nbytes = info[1].As<Napi::Array>();
  double recvmsgs = info[2].As<Napi::Number>().DoubleValue();
  if (controls.Length() == 0 || controls.Length() != nbytes.Length())
    throw Napi::RangeError::New(env, "one nbytes per control buffer, at least one");
  std::vector<rx::ReplaySource::Record> records;
  for (uint32_t i = 0; i < controls.Length(); ++i) {
    auto c = controls.Get(i).As<Napi::Uint8Array>();
    records.push_back({std::vector<uint8_t>(c.Data(), c.Data() + c.ByteLength()),
                       static_cast<size_t>(nbytes.Get(i).As<Napi::Number>().DoubleValue())});
  }
  int fd = ::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw MakeError(env, {errno, "eventfd", "cannot create the replay socket's eventfd", std::nullopt, ""});
  Napi::Object sock = AddonData::Get(env).socket_ctor.New({});
  SocketObject* obj = SocketObject::Unwrap(sock);
  auto source = std::make_unique<rx::ReplaySource>(std::move(records), static_cast<uint64_t>(recvmsgs));
  if (info.Length() > 3 && info[3].IsObject()) {
    auto fail = info[3].As<Napi::Object>();
    source->FailDontneedFrom(static_cast<uint64_t>(fail.Get("fromCall").As<Napi::Number>().DoubleValue()),
                             fail.Get("errno").As<Napi::Number>().Int32Value());
  }
  obj->SetSource(std::move(source));
  obj->Adopt(env, fd, false);
  return sock;
}

}  // namespace

void InitRxTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("parseRecvmsg", Napi::Function::New(env, ParseRecvmsg, "parseRecvmsg"));
  testing.Set("planDontneed", Napi::Function::New(env, PlanDontneed, "planDontneed"));
  testing.Set("replaySocket", Napi::Function::New(env, ReplaySocket, "replaySocket"));
}

}  // namespace devmem::js

// SPDX-License-Identifier: MIT
//
// JS entry points for the SIOCETHTOOL ioctl: driver identity, feature flags,
// n-tuple rules and the RSS indirection table. They are synchronous: each is
// one short ioctl, and NIC restore must be able to run from a process 'exit'
// handler, where nothing asynchronous can.
#include <napi.h>

#include <cstring>

#include "ethtool/ioctl.h"
#include "ethtool/ntuple.h"
#include "ethtool/rss.h"
#include "js/errors.h"

namespace devmem::js {

namespace {

std::string Ifname(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "ifname must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

uint32_t U32Arg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(env, std::string(name) + " must be an integer from 0 to 2^32-1");
  return static_cast<uint32_t>(d);
}

// driverInfo(ifname) -> { driver, version, firmwareVersion, busInfo }
Napi::Value DriverInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = Ifname(info);
  ethtool::DriverInfo di;
  Failure f;
  if (!ethtool::GetDriverInfo(ifname, &di, &f)) throw MakeError(env, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("driver", di.driver);
  o.Set("version", di.version);
  o.Set("firmwareVersion", di.firmware_version);
  o.Set("busInfo", di.bus_info);
  return o;
}

Napi::Value Flags(const Napi::CallbackInfo& info) {
  uint32_t flags = 0;
  Failure f;
  if (!ethtool::GetFlags(Ifname(info), &flags, &f)) throw MakeError(info.Env(), f);
  return Napi::Number::New(info.Env(), flags);
}

Napi::Value SetFlags(const Napi::CallbackInfo& info) {
  std::string ifname = Ifname(info);
  uint32_t flags = U32Arg(info.Env(), info[1], "flags");
  Failure f;
  if (!ethtool::SetFlags(ifname, flags, &f)) throw MakeError(info.Env(), f);
  return info.Env().Undefined();
}

std::optional<std::array<uint8_t, 16>> AddressArg(Napi::Env env, Napi::Value v, size_t len, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, std::string(name) + " must be a Uint8Array");
  auto a = v.As<Napi::Uint8Array>();
  if (a.ByteLength() != len)
    throw Napi::RangeError::New(env, std::string(name) + " must have " + std::to_string(len) + " bytes");
  std::array<uint8_t, 16> out{};
  std::memcpy(out.data(), a.Data(), len);
  return out;
}

std::optional<uint16_t> PortArg(Napi::Env env, Napi::Value v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  uint32_t p = U32Arg(env, v, name);
  if (p > 65535) throw Napi::RangeError::New(env, std::string(name) + " must be a port from 0 to 65535");
  return static_cast<uint16_t>(p);
}

ethtool::TcpRule RuleFromJs(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "rule must be an object");
  Napi::Object r = v.As<Napi::Object>();
  ethtool::TcpRule rule;
  rule.ipv6 = r.Get("ipv6").ToBoolean();
  size_t alen = rule.ipv6 ? 16 : 4;
  rule.src = AddressArg(env, r.Get("src"), alen, "src");
  rule.dst = AddressArg(env, r.Get("dst"), alen, "dst");
  rule.src_port = PortArg(env, r.Get("srcPort"), "srcPort");
  rule.dst_port = PortArg(env, r.Get("dstPort"), "dstPort");
  rule.queue = U32Arg(env, r.Get("queue"), "queue");
  rule.rss = r.Get("rss").ToBoolean();
  if (!r.Get("rssContext").IsUndefined()) rule.rss_context = U32Arg(env, r.Get("rssContext"), "rssContext");
  if (!r.Get("location").IsUndefined()) rule.location = U32Arg(env, r.Get("location"), "location");
  return rule;
}

// flowRuleInsert(ifname, { ipv6, src?, dst?, srcPort?, dstPort?, queue, rss?, rssContext?, location? }) -> location
Napi::Value FlowRuleInsert(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = Ifname(info);
  ethtool::TcpRule rule = RuleFromJs(env, info[1]);
  uint32_t location = 0;
  Failure f;
  if (!ethtool::InsertRule(ifname, rule, &location, &f)) throw MakeError(env, f);
  return Napi::Number::New(env, location);
}

Napi::Value FlowRuleDelete(const Napi::CallbackInfo& info) {
  std::string ifname = Ifname(info);
  uint32_t location = U32Arg(info.Env(), info[1], "location");
  Failure f;
  if (!ethtool::DeleteRule(ifname, location, &f)) throw MakeError(info.Env(), f);
  return info.Env().Undefined();
}

Napi::Object RuleToJs(Napi::Env env, const ethtool::ReportedRule& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("location", r.location);
  o.Set("flowType", r.flow_type);
  // ring_cookie is a u64 whose all-ones value means "drop"; queue indices fit a double.
  o.Set("queue", r.ring_cookie == ~uint64_t{0} ? Napi::Number::New(env, -1)
                                               : Napi::Number::New(env, static_cast<double>(r.ring_cookie)));
  o.Set("raw", Napi::Buffer<uint8_t>::Copy(env, r.raw.data(), r.raw.size()));
  if (r.rss_context) o.Set("rssContext", *r.rss_context);
  if (r.tcp) {
    const auto& t = *r.tcp;
    size_t alen = t.ipv6 ? 16 : 4;
    Napi::Object tcp = Napi::Object::New(env);
    tcp.Set("ipv6", t.ipv6);
    if (t.rss) tcp.Set("rss", true);
    if (t.src) tcp.Set("src", Napi::Buffer<uint8_t>::Copy(env, t.src->data(), alen));
    if (t.dst) tcp.Set("dst", Napi::Buffer<uint8_t>::Copy(env, t.dst->data(), alen));
    if (t.src_port) tcp.Set("srcPort", *t.src_port);
    if (t.dst_port) tcp.Set("dstPort", *t.dst_port);
    o.Set("tcp", tcp);
  }
  return o;
}

// flowRules(ifname) -> { capacity, driverPlaces, rules: [...] }
Napi::Value FlowRules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ethtool::RuleTable table;
  Failure f;
  if (!ethtool::ListRules(Ifname(info), &table, &f)) throw MakeError(env, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("capacity", table.capacity);
  o.Set("driverPlaces", table.driver_places);
  Napi::Array rules = Napi::Array::New(env, table.rules.size());
  for (size_t i = 0; i < table.rules.size(); ++i) rules.Set(static_cast<uint32_t>(i), RuleToJs(env, table.rules[i]));
  o.Set("rules", rules);
  return o;
}

Napi::Value RxRings(const Napi::CallbackInfo& info) {
  uint32_t rings = 0;
  Failure f;
  if (!ethtool::GetRxRings(Ifname(info), &rings, &f)) throw MakeError(info.Env(), f);
  return Napi::Number::New(info.Env(), rings);
}

Napi::Value RssIndirection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<uint32_t> table;
  Failure f;
  if (!ethtool::GetIndirection(Ifname(info), &table, &f)) throw MakeError(env, f);
  auto out = Napi::Uint32Array::New(env, table.size());
  std::memcpy(out.Data(), table.data(), table.size() * sizeof(uint32_t));
  return out;
}

// setRssIndirection(ifname, Uint32Array | null): null restores the driver default.
Napi::Value SetRssIndirection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = Ifname(info);
  std::vector<uint32_t> table;
  if (!info[1].IsNull()) {
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
      throw Napi::TypeError::New(env, "table must be a Uint32Array or null");
    auto a = info[1].As<Napi::Uint32Array>();
    if (a.ElementLength() == 0) throw Napi::RangeError::New(env, "table must not be empty; pass null for the default");
    table.assign(a.Data(), a.Data() + a.ElementLength());
  }
  Failure f;
  if (!ethtool::SetIndirection(ifname, table, &f)) throw MakeError(env, f);
  return env.Undefined();
}

std::vector<uint32_t> TableArg(Napi::Env env, Napi::Value v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "table must be a Uint32Array");
  auto a = v.As<Napi::Uint32Array>();
  return std::vector<uint32_t>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Value Words(Napi::Env env, const std::vector<uint32_t>& words) {
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(words.data()), words.size() * 4);
}

// rssContextCreate(ifname, Uint32Array) -> the new context's ID
Napi::Value RssContextCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = Ifname(info);
  std::vector<uint32_t> table = TableArg(env, info[1]);
  uint32_t context = 0;
  Failure f;
  if (!ethtool::CreateContext(ifname, table, &context, &f)) throw MakeError(env, f);
  return Napi::Number::New(env, context);
}

Napi::Value RssContextDelete(const Napi::CallbackInfo& info) {
  std::string ifname = Ifname(info);
  uint32_t context = U32Arg(info.Env(), info[1], "context");
  Failure f;
  if (!ethtool::DeleteContext(ifname, context, &f)) throw MakeError(info.Env(), f);
  return info.Env().Undefined();
}

Napi::Value RssContextIndirection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = Ifname(info);
  uint32_t context = U32Arg(env, info[1], "context");
  std::vector<uint32_t> table;
  Failure f;
  if (!ethtool::GetContextIndirection(ifname, context, &table, &f)) throw MakeError(env, f);
  auto out = Napi::Uint32Array::New(env, table.size());
  std::memcpy(out.Data(), table.data(), table.size() * sizeof(uint32_t));
  return out;
}

// Test entry points: the production encoders and decoder over plain bytes.
Napi::Value TestEncodeFlowRuleInsert(const Napi::CallbackInfo& info) {
  ethtool_rxnfc nfc;
  ethtool::EncodeInsert(RuleFromJs(info.Env(), info[0]), &nfc);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<const uint8_t*>(&nfc), sizeof(nfc));
}

Napi::Value TestEncodeRssContextCreate(const Napi::CallbackInfo& info) {
  return Words(info.Env(), ethtool::EncodeContextCreate(TableArg(info.Env(), info[0])));
}

Napi::Value TestEncodeRssContextDelete(const Napi::CallbackInfo& info) {
  return Words(info.Env(), ethtool::EncodeContextDelete(U32Arg(info.Env(), info[0], "context")));
}

Napi::Value TestEncodeFlowRule(const Napi::CallbackInfo& info) {
  ethtool_rx_flow_spec fs;
  ethtool::EncodeTcpRule(RuleFromJs(info.Env(), info[0]), &fs);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<const uint8_t*>(&fs), sizeof(fs));
}

Napi::Value TestDecodeFlowRule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      info[0].As<Napi::Uint8Array>().ByteLength() != sizeof(ethtool_rx_flow_spec))
    throw Napi::TypeError::New(env, "decodeFlowRule needs a Uint8Array of sizeof(struct ethtool_rx_flow_spec)");
  ethtool_rx_flow_spec fs;
  std::memcpy(&fs, info[0].As<Napi::Uint8Array>().Data(), sizeof(fs));
  // The rss_context GRXCLSRULE reports beside the spec, for FLOW_RSS rules.
  uint32_t rss_context = info[1].IsUndefined() ? 0 : U32Arg(env, info[1], "rssContext");
  return RuleToJs(env, ethtool::DecodeRule(fs, rss_context));
}

}  // namespace

void InitEthtool(Napi::Env env, Napi::Object exports) {
  exports.Set("ethtoolDriverInfo", Napi::Function::New(env, DriverInfo, "ethtoolDriverInfo"));
  exports.Set("ethtoolFlags", Napi::Function::New(env, Flags, "ethtoolFlags"));
  exports.Set("ethtoolSetFlags", Napi::Function::New(env, SetFlags, "ethtoolSetFlags"));
  exports.Set("ethtoolFlowRuleInsert", Napi::Function::New(env, FlowRuleInsert, "ethtoolFlowRuleInsert"));
  exports.Set("ethtoolFlowRuleDelete", Napi::Function::New(env, FlowRuleDelete, "ethtoolFlowRuleDelete"));
  exports.Set("ethtoolFlowRules", Napi::Function::New(env, FlowRules, "ethtoolFlowRules"));
  exports.Set("ethtoolRxRings", Napi::Function::New(env, RxRings, "ethtoolRxRings"));
  exports.Set("ethtoolRssIndirection", Napi::Function::New(env, RssIndirection, "ethtoolRssIndirection"));
  exports.Set("ethtoolSetRssIndirection", Napi::Function::New(env, SetRssIndirection, "ethtoolSetRssIndirection"));
  exports.Set("ethtoolRssContextCreate", Napi::Function::New(env, RssContextCreate, "ethtoolRssContextCreate"));
  exports.Set("ethtoolRssContextDelete", Napi::Function::New(env, RssContextDelete, "ethtoolRssContextDelete"));
  exports.Set("ethtoolRssContextIndirection",
              Napi::Function::New(env, RssContextIndirection, "ethtoolRssContextIndirection"));
  Napi::Object testing =
      exports.Get("testing").IsObject() ? exports.Get("testing").As<Napi::Object>() : Napi::Object::New(env);
  testing.Set("encodeFlowRule", Napi::Function::New(env, TestEncodeFlowRule, "encodeFlowRule"));
  testing.Set("decodeFlowRule", Napi::Function::New(env, TestDecodeFlowRule, "decodeFlowRule"));
  testing.Set("encodeFlowRuleInsert", Napi::Function::New(env, TestEncodeFlowRuleInsert, "encodeFlowRuleInsert"));
  testing.Set("encodeRssContextCreate", Napi::Function::New(env, TestEncodeRssContextCreate, "encodeRssContextCreate"));
  testing.Set("encodeRssContextDelete", Napi::Function::New(env, TestEncodeRssContextDelete, "encodeRssContextDelete"));
  exports.Set("testing", testing);
}

}  // namespace devmem::js

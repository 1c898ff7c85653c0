// SPDX-License-Identifier: MIT
#include "js/codec.h"

#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/failure.h"
#include "js/errors.h"
#include "netlink/attr.h"

namespace devmem::js {

namespace {

constexpr int kMaxDepth = 8;

[[noreturn]] void BadValue(Napi::Env env, const std::string& path, const char* expected) {
  throw Napi::TypeError::New(env, "netlink attribute \"" + path + "\" must be " + expected);
}

uint64_t ToUnsigned(Napi::Env env, Napi::Value v, const std::string& path, uint64_t max) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless || u > max) BadValue(env, path, "an unsigned integer within the attribute's range");
    return u;
  }
  if (!v.IsNumber()) BadValue(env, path, "a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || std::floor(d) != d || d > static_cast<double>(max) || d > 9007199254740991.0)
    BadValue(env, path, "an unsigned integer within the attribute's range");
  return static_cast<uint64_t>(d);
}

std::string EntryList(const nl::EnumSpec& e) {
  std::string out;
  for (size_t i = 0; i < e.count; ++i) out += (i ? ", " : "") + std::string("'") + e.entries[i].name + "'";
  return out;
}

// A named attribute takes its YAML names (a string; for flags, an array of
// them); a number still passes as the raw value, for values newer than the
// table (and for writing back what a newer kernel reported).
Napi::Value FromNames(Napi::Env env, Napi::Value v, const nl::AttrSpec& a, const std::string& path) {
  const nl::EnumSpec& e = *a.enumeration;
  auto one = [&](Napi::Value name) -> uint64_t {
    uint64_t u = 0;
    if (!name.IsString())
      BadValue(env, path, (std::string(e.flags ? "an array of " : "one of ") + EntryList(e)).c_str());
    std::string n = name.As<Napi::String>().Utf8Value();
    // The right type with a value the spec does not name: a RangeError, which
    // the JS layer reports as INVALID_ARGUMENT.
    if (!e.ValueOf(n, &u))
      throw Napi::RangeError::New(env, "netlink attribute \"" + path + "\" must be " +
                                           (e.flags ? "an array of " : "one of ") + EntryList(e) + ", got '" + n + "'");
    return u;
  };
  if (!e.flags && v.IsString()) return Napi::BigInt::New(env, one(v));
  if (e.flags && v.IsArray()) {
    Napi::Array arr = v.As<Napi::Array>();
    uint64_t mask = 0;
    for (uint32_t i = 0; i < arr.Length(); ++i) mask |= one(arr.Get(i));
    return Napi::BigInt::New(env, mask);
  }
  if (v.IsNumber() || v.IsBigInt()) return v;
  BadValue(env, path, (std::string(e.flags ? "an array of " : "one of ") + EntryList(e)).c_str());
}

void EncodeOne(Napi::Env env, Napi::Value v, const nl::AttrSpec& a, nl::RequestBuilder& b, const std::string& path,
               int depth) {
  using nl::Kind;
  if (a.enumeration) v = FromNames(env, v, a, path);
  switch (a.kind) {
    case Kind::kU8: b.PutU8(a.type, static_cast<uint8_t>(ToUnsigned(env, v, path, 0xff)), path); break;
    case Kind::kU16: b.PutU16(a.type, static_cast<uint16_t>(ToUnsigned(env, v, path, 0xffff)), path); break;
    case Kind::kU32: b.PutU32(a.type, static_cast<uint32_t>(ToUnsigned(env, v, path, 0xffffffffULL)), path); break;
    case Kind::kU64: b.PutU64(a.type, ToUnsigned(env, v, path, UINT64_MAX), path); break;
    case Kind::kUint: {
      uint64_t u = ToUnsigned(env, v, path, UINT64_MAX);
      if (u <= 0xffffffffULL) b.PutU32(a.type, static_cast<uint32_t>(u), path);
      else b.PutU64(a.type, u, path);
      break;
    }
    case Kind::kS32: {
      if (!v.IsNumber()) BadValue(env, path, "a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || std::floor(d) != d || d < -2147483648.0 || d > 2147483647.0)
        BadValue(env, path, "a 32-bit signed integer");
      int32_t s = static_cast<int32_t>(d);
      b.PutBinary(a.type, &s, sizeof(s), path);
      break;
    }
    case Kind::kString:
      if (!v.IsString()) BadValue(env, path, "a string");
      b.PutString(a.type, v.As<Napi::String>().Utf8Value(), path);
      break;
    case Kind::kFlag:
      if (!v.IsBoolean()) BadValue(env, path, "a boolean");
      if (v.As<Napi::Boolean>().Value()) b.PutFlag(a.type, path);
      break;
    case Kind::kBinary: {
      if (!v.IsTypedArray() && !v.IsBuffer()) BadValue(env, path, "a Uint8Array");
      auto u8 = v.As<Napi::Uint8Array>();
      b.PutBinary(a.type, u8.Data(), u8.ByteLength(), path);
      break;
    }
    case Kind::kNest: {
      if (depth >= kMaxDepth) BadValue(env, path, "nested less deeply");
      size_t start = b.BeginNest(a.type, path);
      EncodeAttrs(env, v, *a.nest, b, path);
      b.EndNest(start);
      break;
    }
  }
}

}  // namespace

void EncodeAttrs(Napi::Env env, Napi::Value value, const nl::AttrSet& set, nl::RequestBuilder& b,
                 const std::string& prefix) {
  if (!value.IsObject() || value.IsArray())
    throw Napi::TypeError::New(
        env, "netlink attributes" + (prefix.empty() ? "" : " \"" + prefix + "\"") + " must be a plain object");
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Array keys = obj.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    if (!set.ByName(key))
      throw Napi::TypeError::New(env, "unknown netlink attribute \"" + (prefix.empty() ? key : prefix + "." + key) +
                                          "\" for the " + set.name + " attribute set");
  }
  int depth = 0;
  for (char c : prefix) depth += (c == '.');
  for (size_t i = 0; i < set.count; ++i) {
    const nl::AttrSpec& a = set.attrs[i];
    Napi::Value v = obj.Get(a.name);
    if (v.IsUndefined()) continue;
    std::string path = prefix.empty() ? a.name : prefix + "." + a.name;
    if (a.multi) {
      if (!v.IsArray()) BadValue(env, path, "an array");
      Napi::Array arr = v.As<Napi::Array>();
      for (uint32_t j = 0; j < arr.Length(); ++j)
        EncodeOne(env, arr.Get(j), a, b, path + "[" + std::to_string(j) + "]", depth);
    } else {
      EncodeOne(env, v, a, b, path, depth);
    }
  }
}

namespace {

[[noreturn]] void Malformed(Napi::Env env, const std::string& what) {
  Failure f{EPROTO, "netlink", "malformed netlink reply: " + what, std::nullopt, ""};
  throw MakeError(env, f);
}

Napi::Value Unsigned64(Napi::Env env, uint64_t u) {
  if (u <= 9007199254740991ULL) return Napi::Number::New(env, static_cast<double>(u));
  return Napi::BigInt::New(env, u);
}

Napi::Object Decode(Napi::Env env, const uint8_t* data, size_t len, const nl::AttrSet& set, int depth);

// An enum value becomes its name (a value newer than the table stays a
// number); a flags mask becomes the names of its bits, an unnamed bit "bit-N".
Napi::Value ToNames(Napi::Env env, const nl::EnumSpec& e, uint64_t u) {
  if (!e.flags) {
    const char* n = e.NameOf(u);
    return n ? Napi::String::New(env, n) : Unsigned64(env, u);
  }
  Napi::Array out = Napi::Array::New(env);
  for (unsigned bit = 0; bit < 64; ++bit) {
    uint64_t m = uint64_t{1} << bit;
    if (!(u & m)) continue;
    const char* n = e.NameOf(m);
    out.Set(out.Length(), Napi::String::New(env, n ? std::string(n) : "bit-" + std::to_string(bit)));
  }
  return out;
}

Napi::Value DecodeOne(Napi::Env env, const nl::AttrView& v, const nl::AttrSpec& a, int depth) {
  using nl::Kind;
  auto need = [&](size_t n, bool exact) {
    if (exact ? v.len != n : v.len < n)
      Malformed(env, std::string("attribute \"") + a.name + "\" has " + std::to_string(v.len) + " bytes, expected " +
                         std::to_string(n));
  };
  if (a.enumeration) {
    uint64_t u = 0;
    switch (a.kind) {
      case Kind::kU8:
        need(1, true);
        u = v.data[0];
        break;
      case Kind::kU16:
        need(2, true);
        u = nl::LoadUnaligned<uint16_t>(v.data);
        break;
      case Kind::kU32:
        need(4, true);
        u = nl::LoadUnaligned<uint32_t>(v.data);
        break;
      case Kind::kU64:
        need(8, true);
        u = nl::LoadUnaligned<uint64_t>(v.data);
        break;
      case Kind::kUint:
        if (v.len == 4) u = nl::LoadUnaligned<uint32_t>(v.data);
        else if (v.len == 8) u = nl::LoadUnaligned<uint64_t>(v.data);
        else
          Malformed(env, std::string("uint attribute \"") + a.name + "\" is " + std::to_string(v.len) +
                             " bytes; only 4 or 8 are valid");
        break;
      default: Malformed(env, std::string("attribute \"") + a.name + "\" has names but is not unsigned");
    }
    return ToNames(env, *a.enumeration, u);
  }
  switch (a.kind) {
    case Kind::kU8: need(1, true); return Napi::Number::New(env, v.data[0]);
    case Kind::kU16: need(2, true); return Napi::Number::New(env, nl::LoadUnaligned<uint16_t>(v.data));
    case Kind::kU32: need(4, true); return Napi::Number::New(env, nl::LoadUnaligned<uint32_t>(v.data));
    case Kind::kS32: need(4, true); return Napi::Number::New(env, nl::LoadUnaligned<int32_t>(v.data));
    case Kind::kU64: need(8, true); return Unsigned64(env, nl::LoadUnaligned<uint64_t>(v.data));
    case Kind::kUint:
      if (v.len == 4) return Napi::Number::New(env, nl::LoadUnaligned<uint32_t>(v.data));
      if (v.len == 8) return Unsigned64(env, nl::LoadUnaligned<uint64_t>(v.data));
      Malformed(env, std::string("uint attribute \"") + a.name + "\" is " + std::to_string(v.len) +
                         " bytes; only 4 or 8 are valid");
    case Kind::kString:
      return Napi::String::New(env, reinterpret_cast<const char*>(v.data),
                               strnlen(reinterpret_cast<const char*>(v.data), v.len));
    case Kind::kFlag: return Napi::Boolean::New(env, true);
    case Kind::kBinary: return Napi::Buffer<uint8_t>::Copy(env, v.data, v.len);
    case Kind::kNest:
      if (depth + 1 >= kMaxDepth) Malformed(env, std::string("attribute \"") + a.name + "\" is nested too deeply");
      return Decode(env, v.data, v.len, *a.nest, depth + 1);
  }
  return env.Undefined();
}

Napi::Object Decode(Napi::Env env, const uint8_t* data, size_t len, const nl::AttrSet& set, int depth) {
  Napi::Object out = Napi::Object::New(env);
  bool ok = nl::ForEachAttr(data, len, [&](const nl::AttrView& v) {
    const nl::AttrSpec* a = set.ByType(v.type);
    if (!a) return true;  // newer kernels add attributes; ignore what we do not know
    if (v.nested_flag && a->kind != nl::Kind::kNest)
      Malformed(env, std::string("attribute \"") + a->name + "\" is a nest where a scalar was expected");
    Napi::Value val = DecodeOne(env, v, *a, depth);
    if (a->multi) {
      Napi::Value cur = out.Get(a->name);
      Napi::Array arr = cur.IsArray() ? cur.As<Napi::Array>() : Napi::Array::New(env);
      arr.Set(arr.Length(), val);
      out.Set(a->name, arr);
    } else {
      out.Set(a->name, val);
    }
    return true;
  });
  if (!ok) Malformed(env, std::string("attribute lengths in the ") + set.name + " set overrun the message");
  return out;
}

}  // namespace

Napi::Object DecodeAttrs(Napi::Env env, const uint8_t* data, size_t len, const nl::AttrSet& set) {
  return Decode(env, data, len, set, 0);
}

}  // namespace devmem::js

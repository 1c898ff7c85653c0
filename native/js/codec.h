// SPDX-License-Identifier: MIT
//
// Spec-driven conversion between JS objects and netlink attributes. Encoding
// validates every value (a wrong type or range is a TypeError naming the
// attribute, raised before anything reaches the kernel); decoding never
// trusts a length.
#ifndef DEVMEM_TCP_JS_CODEC_H_
#define DEVMEM_TCP_JS_CODEC_H_

#include <napi.h>

#include <string>

#include "netlink/request.h"
#include "netlink/spec.h"

namespace devmem::js {

void EncodeAttrs(Napi::Env env, Napi::Value value, const nl::AttrSet& set, nl::RequestBuilder& b,
                 const std::string& prefix);

// Decodes an attribute stream. Throws a JS Error (code EPROTO) on malformed
// input: a bad length, a fixed-size attribute of the wrong size, nesting
// deeper than the spec allows.
Napi::Object DecodeAttrs(Napi::Env env, const uint8_t* data, size_t len, const nl::AttrSet& set);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_CODEC_H_

// SPDX-License-Identifier: MIT
#include "js/errors.h"

#include <uv.h>

#include <cstring>
#include <string>

#include "uapi/devmem_uapi.h"

namespace devmem::js {

std::string ErrnoName(int errnum) {
  if (errnum == uapi::kEtoosmall) return "ETOOSMALL";  // kernel-internal, unknown to libc
  char buf[64];
  uv_err_name_r(-errnum, buf, sizeof(buf));
  return buf;
}

Napi::Error MakeError(Napi::Env env, const Failure& f) {
  // A library failure (errnum 0, a reason) has no errno to report: none was set.
  const bool no_errno = f.errnum == 0 && !f.reason.empty();
  std::string code = f.errnum ? ErrnoName(f.errnum) : no_errno ? "ERR_DEVMEM_" + f.reason : "EPROTO";
  std::string text = f.message;
  if (f.errnum) {
    const char* desc = f.errnum == uapi::kEtoosmall ? "Buffer too small" : std::strerror(f.errnum);
    text += ": " + std::string(desc) + " (" + code + ")";
  }
  if (f.extack && !f.extack->message.empty()) text += ": kernel says \"" + f.extack->message + "\"";
  Napi::Error err = Napi::Error::New(env, text);
  Napi::Object o = err.Value();
  if (!no_errno) o.Set("errno", Napi::Number::New(env, -(f.errnum ? f.errnum : EPROTO)));
  if (!f.library_code.empty()) o.Set("libraryCode", Napi::String::New(env, f.library_code));
  o.Set("code", Napi::String::New(env, code));
  o.Set("syscall", Napi::String::New(env, f.syscall));
  if (f.extack) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("message", f.extack->message.empty() ? env.Undefined() : Napi::String::New(env, f.extack->message));
    e.Set("offset", f.extack->offset >= 0 ? Napi::Number::New(env, f.extack->offset) : env.Undefined());
    e.Set("attribute", f.extack->attribute.empty() ? env.Undefined() : Napi::String::New(env, f.extack->attribute));
    e.Set("missingType",
          f.extack->missing_type >= 0 ? Napi::Number::New(env, f.extack->missing_type) : env.Undefined());
    e.Set("missingAttribute",
          f.extack->missing_attribute.empty() ? env.Undefined() : Napi::String::New(env, f.extack->missing_attribute));
    o.Set("extack", e);
  }
  if (!f.reason.empty()) o.Set("reasonHint", Napi::String::New(env, f.reason));
  return err;
}

}  // namespace devmem::js

// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_ERRORS_H_
#define DEVMEM_TCP_JS_ERRORS_H_

#include <napi.h>

#include "common/failure.h"

namespace devmem::js {

// Builds an Error in the shape of Node's SystemError: `errno` (negative, as
// Node reports it), `code` (libuv's name for it), `syscall`, plus `extack`
// and a `reasonHint` when the native side already knows the reason. The JS
// layer turns it into a DevmemError.
Napi::Error MakeError(Napi::Env env, const Failure& f);

// Name of an errno as Node names it ("ENOTSUP" for 95, "ETOOSMALL" for 525).
std::string ErrnoName(int errnum);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_ERRORS_H_

// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_NETLINK_EXPORTS_H_
#define DEVMEM_TCP_JS_NETLINK_EXPORTS_H_

#include <napi.h>

#include <vector>

#include "netlink/reply.h"
#include "netlink/spec.h"
#include "netlink/transact.h"

namespace devmem::js {

void InitNetlink(Napi::Env env, Napi::Object exports);

// Looks up family/command by name and encodes `attrs`; throws TypeError on
// unknown names or bad values.
nl::PreparedRequest PrepareFromJs(Napi::Env env, Napi::Value family, Napi::Value command, Napi::Value attrs, bool dump);

Napi::Array DecodeReplies(Napi::Env env, const nl::FamilySpec& family, const nl::CommandSpec& command,
                          const std::vector<nl::ReplyMessage>& replies);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_NETLINK_EXPORTS_H_

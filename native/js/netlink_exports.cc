// SPDX-License-Identifier: MIT
//
// JS entry points for netlink: one-shot requests on a fresh socket each, and
// family introspection. Bindings, which must keep their socket, live in
// js/binding_object.cc.
#include "js/netlink_exports.h"

#include <linux/rtnetlink.h>

#include <memory>

#include "js/codec.h"
#include "js/errors.h"
#include "js/promise_worker.h"
#include "netlink/family.h"
#include "netlink/netns.h"
#include "netlink/socket.h"
#include "uapi/devmem_uapi.h"

namespace devmem::js {

nl::PreparedRequest PrepareFromJs(Napi::Env env, Napi::Value family, Napi::Value command, Napi::Value attrs,
                                  bool dump) {
  if (!family.IsString() || !command.IsString()) throw Napi::TypeError::New(env, "family and command must be strings");
  std::string fname = family.As<Napi::String>().Utf8Value();
  std::string cname = command.As<Napi::String>().Utf8Value();
  const nl::FamilySpec* fam = nl::FindFamily(fname);
  if (!fam) throw Napi::TypeError::New(env, "unknown netlink family \"" + fname + "\"");
  const nl::CommandSpec* cmd = fam->Command(cname);
  if (!cmd) throw Napi::TypeError::New(env, "unknown " + fname + " command \"" + cname + "\"");
  if (dump && !cmd->can_dump) throw Napi::TypeError::New(env, fname + " " + cname + " cannot be dumped");

  int32_t ifindex_hdr = 0;
  Napi::Value body = attrs.IsUndefined() ? Napi::Object::New(env) : attrs;
  if (fam->protocol == nl::Protocol::kRoute && body.IsObject()) {
    // rtnetlink carries the ifindex in its fixed header, not as an attribute.
    Napi::Object copy = Napi::Object::New(env);
    Napi::Object src = body.As<Napi::Object>();
    Napi::Array keys = src.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      if (k == "ifindex") {
        Napi::Value v = src.Get(k);
        if (!v.IsNumber()) throw Napi::TypeError::New(env, "ifindex must be a number");
        ifindex_hdr = v.As<Napi::Number>().Int32Value();
      } else {
        copy.Set(k, src.Get(k));
      }
    }
    body = copy;
  }
  nl::PreparedRequest req = nl::Prepare(*fam, *cmd, dump, ifindex_hdr);
  EncodeAttrs(env, body, *cmd->request, req.builder, "");
  return req;
}

Napi::Array DecodeReplies(Napi::Env env, const nl::FamilySpec& family, const nl::CommandSpec& command,
                          const std::vector<nl::ReplyMessage>& replies) {
  size_t hdr = nl::FixedHeaderLength(family);
  Napi::Array out = Napi::Array::New(env);
  for (const auto& m : replies) {
    if (m.payload.size() < hdr) {
      Failure f{EPROTO, "netlink", "malformed netlink reply: message shorter than its fixed header", std::nullopt, ""};
      throw MakeError(env, f);
    }
    Napi::Object o = DecodeAttrs(env, m.payload.data() + hdr, m.payload.size() - hdr, *command.reply);
    if (family.protocol == nl::Protocol::kRoute) {
      ifinfomsg ifi;
      std::memcpy(&ifi, m.payload.data(), sizeof(ifi));
      o.Set("ifindex", Napi::Number::New(env, ifi.ifi_index));
      o.Set("flags", Napi::Number::New(env, ifi.ifi_flags));
      o.Set("type", Napi::Number::New(env, ifi.ifi_type));
    }
    out.Set(out.Length(), o);
  }
  return out;
}

namespace {

// The optional netns fd argument: -1 (this thread's namespace) when absent.
int NetnsFdArg(const Napi::Env& env, const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return -1;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "the netns fd must be a number");
  int fd = v.As<Napi::Number>().Int32Value();
  if (fd < 0) throw Napi::TypeError::New(env, "the netns fd must be non-negative");
  return fd;
}

// Opens the socket inside `netns_fd`'s namespace first, when there is one;
// Execute then runs the request there.
bool ExecuteIn(int netns_fd, nl::PreparedRequest& req, std::vector<nl::ReplyMessage>* replies, Failure* f) {
  nl::NetlinkSocket sock;
  if (netns_fd >= 0) {
    int proto = req.family->protocol == nl::Protocol::kRoute ? NETLINK_ROUTE : NETLINK_GENERIC;
    if (!nl::OpenSocketInNetns(&sock, proto, netns_fd, f)) return false;
  }
  return nl::Execute(&sock, req, replies, f);
}

// request(family, command, attrs, dump, netnsFd?) -> Promise<object[]>
Napi::Value Request(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool dump = info[3].ToBoolean();
  int netns_fd = NetnsFdArg(env, info[4]);
  auto req = std::make_shared<nl::PreparedRequest>(PrepareFromJs(env, info[0], info[1], info[2], dump));
  auto replies = std::make_shared<std::vector<nl::ReplyMessage>>();
  return PromiseWorker::Start(
      env, "devmem:netlink",
      [req, replies, netns_fd](Failure* f) { return ExecuteIn(netns_fd, *req, replies.get(), f); },
      [req, replies](Napi::Env e) -> Napi::Value { return DecodeReplies(e, *req->family, *req->command, *replies); });
}

// requestSync(family, command, attrs, netnsFd?) -> object[]: the same
// transaction on the calling thread, for NIC changes that must be made and
// recorded in one JS turn and for NIC restore from a process 'exit' handler.
Napi::Value RequestSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int netns_fd = NetnsFdArg(env, info[3]);
  nl::PreparedRequest req = PrepareFromJs(env, info[0], info[1], info[2], false);
  std::vector<nl::ReplyMessage> replies;
  Failure f;
  if (!ExecuteIn(netns_fd, req, &replies, &f)) throw MakeError(env, f);
  return DecodeReplies(env, *req.family, *req.command, replies);
}

// netnsPeerId(netnsFd, peerFd) -> number: the id namespace `netnsFd` has for
// namespace `peerFd`, assigned if it had none (rtnetlink, two round trips).
Napi::Value NetnsPeerId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int netns_fd = NetnsFdArg(env, info[0]);
  int peer_fd = NetnsFdArg(env, info[1]);
  if (netns_fd < 0 || peer_fd < 0) throw Napi::TypeError::New(env, "netnsPeerId needs two netns fds");
  int32_t id = -1;
  Failure f;
  if (!nl::PeerNetnsId(netns_fd, peer_fd, &id, &f)) throw MakeError(env, f);
  return Napi::Number::New(env, id);
}

Napi::Object FamilyToJs(Napi::Env env, const nl::FamilyInfo& fi) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", fi.name);
  o.Set("id", fi.id);
  o.Set("version", fi.version);
  o.Set("maxattr", fi.maxattr);
  namespace ctrl = uapi::ctrl;
  const nl::FamilySpec* spec = nl::FindFamily(fi.name);
  Napi::Array ops = Napi::Array::New(env, fi.ops.size());
  for (size_t i = 0; i < fi.ops.size(); ++i) {
    const nl::FamilyOp& f = fi.ops[i];
    Napi::Object op = Napi::Object::New(env);
    op.Set("cmd", f.cmd);
    if (const char* n = spec ? spec->OpName(f.cmd) : nullptr) op.Set("name", n);
    op.Set("admin", (f.flags & ctrl::kOpAdminPerm) != 0);
    op.Set("userNamespaceAdmin", (f.flags & ctrl::kOpUnsAdminPerm) != 0);
    op.Set("do", (f.flags & ctrl::kOpCmdCapDo) != 0);
    op.Set("dump", (f.flags & ctrl::kOpCmdCapDump) != 0);
    ops.Set(static_cast<uint32_t>(i), op);
  }
  o.Set("ops", ops);
  Napi::Array groups = Napi::Array::New(env, fi.mcast_groups.size());
  for (size_t i = 0; i < fi.mcast_groups.size(); ++i) {
    Napi::Object g = Napi::Object::New(env);
    g.Set("name", fi.mcast_groups[i].name);
    g.Set("id", fi.mcast_groups[i].id);
    groups.Set(static_cast<uint32_t>(i), g);
  }
  o.Set("mcastGroups", groups);
  return o;
}

// family(name) -> Promise<FamilyInfo>
Napi::Value Family(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "family name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  auto fi = std::make_shared<nl::FamilyInfo>();
  return PromiseWorker::Start(
      env, "devmem:netlink", [name, fi](Failure* f) { return nl::ResolveFamily(name, fi.get(), f); },
      [fi](Napi::Env e) -> Napi::Value { return FamilyToJs(e, *fi); });
}

// Test entry point: run the production reply path over hand-built datagrams.
// decodeReplies(family, command, dump, seq, datagrams: Uint8Array[])
//   -> { error: number, extack?, messages: object[] }
Napi::Value TestDecodeReplies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string fname = info[0].As<Napi::String>().Utf8Value();
  std::string cname = info[1].As<Napi::String>().Utf8Value();
  const nl::FamilySpec* fam = nl::FindFamily(fname);
  const nl::CommandSpec* cmd = fam ? fam->Command(cname) : nullptr;
  if (!cmd) throw Napi::TypeError::New(env, "unknown family or command");
  bool dump = info[2].ToBoolean();
  uint32_t seq = info[3].As<Napi::Number>().Uint32Value();
  Napi::Array grams = info[4].As<Napi::Array>();
  nl::ReplyCollector rc(seq, dump);
  for (uint32_t i = 0; i < grams.Length(); ++i) {
    auto u8 = grams.Get(i).As<Napi::Uint8Array>();
    rc.Feed(u8.Data(), u8.ByteLength());
  }
  if (rc.state() == nl::ReplyCollector::State::kMalformed) {
    Failure f{EPROTO, "recvmsg", "malformed netlink reply: " + rc.malformed_reason(), std::nullopt, ""};
    throw MakeError(env, f);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("complete", rc.state() == nl::ReplyCollector::State::kDone);
  out.Set("error", rc.error());
  out.Set("skippedStale", static_cast<double>(rc.skipped_stale()));
  if (rc.extack().present) {
    Failure f{-rc.error(), "netlink", "test", rc.extack(), ""};
    out.Set("extack", MakeError(env, f).Value().Get("extack"));
  }
  out.Set("messages", DecodeReplies(env, *fam, *cmd, rc.messages()));
  return out;
}

// Test entry point: the bytes we would send for a request.
Napi::Value TestEncodeRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nl::PreparedRequest req = PrepareFromJs(env, info[0], info[1], info[2], info[3].ToBoolean());
  const auto& bytes = req.builder.Bytes();
  Napi::Object out = Napi::Object::New(env);
  out.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
  Napi::Array locs = Napi::Array::New(env);
  for (const auto& l : req.builder.Locations()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("offset", l.offset);
    o.Set("path", l.path);
    locs.Set(locs.Length(), o);
  }
  out.Set("locations", locs);
  return out;
}

}  // namespace

namespace {

const char* KindName(nl::Kind k) {
  switch (k) {
    case nl::Kind::kU8: return "u8";
    case nl::Kind::kU16: return "u16";
    case nl::Kind::kU32: return "u32";
    case nl::Kind::kU64: return "u64";
    case nl::Kind::kUint: return "uint";
    case nl::Kind::kS32: return "s32";
    case nl::Kind::kString: return "string";
    case nl::Kind::kFlag: return "flag";
    case nl::Kind::kBinary: return "binary";
    case nl::Kind::kNest: return "nest";
  }
  return "?";
}

void DumpEnum(Napi::Env env, const nl::EnumSpec& e, Napi::Object enums) {
  if (enums.Has(e.name)) return;
  Napi::Object o = Napi::Object::New(env);
  o.Set("flags", e.flags);
  Napi::Array entries = Napi::Array::New(env, e.count);
  for (size_t i = 0; i < e.count; ++i) {
    Napi::Object x = Napi::Object::New(env);
    x.Set("name", e.entries[i].name);
    x.Set("value", Napi::Number::New(env, static_cast<double>(e.entries[i].value)));
    entries.Set(static_cast<uint32_t>(i), x);
  }
  o.Set("entries", entries);
  enums.Set(e.name, o);
}

void DumpSet(Napi::Env env, const nl::AttrSet* set, Napi::Object sets, Napi::Object enums) {
  if (!set || sets.Has(set->name)) return;
  Napi::Array attrs = Napi::Array::New(env, set->count);
  sets.Set(set->name, attrs);
  for (size_t i = 0; i < set->count; ++i) {
    const nl::AttrSpec& a = set->attrs[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", a.type);
    o.Set("name", a.name);
    o.Set("kind", KindName(a.kind));
    o.Set("multi", a.multi);
    if (a.enumeration) {
      o.Set("enum", a.enumeration->name);
      DumpEnum(env, *a.enumeration, enums);
    }
    if (a.nest) {
      o.Set("nest", a.nest->name);
      DumpSet(env, a.nest, sets, enums);
    }
    attrs.Set(static_cast<uint32_t>(i), o);
  }
}

// netlinkSpec(family) -> { name, version, commands, sets, enums, ops }: the tables the
// codec encodes and decodes with, for checking them against the kernel's YAML.
Napi::Value NetlinkSpec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const nl::FamilySpec* fam = nl::FindFamily(info[0].As<Napi::String>().Utf8Value());
  if (!fam) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", fam->name);
  out.Set("version", fam->version);
  Napi::Array commands = Napi::Array::New(env, fam->count);
  Napi::Object sets = Napi::Object::New(env);
  Napi::Object enums = Napi::Object::New(env);
  for (size_t i = 0; i < fam->count; ++i) {
    const nl::CommandSpec& c = fam->commands[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", c.name);
    o.Set("id", c.id);
    o.Set("canDump", c.can_dump);
    if (c.request) o.Set("request", c.request->name);
    if (c.reply) o.Set("reply", c.reply->name);
    DumpSet(env, c.request, sets, enums);
    DumpSet(env, c.reply, sets, enums);
    commands.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("commands", commands);
  out.Set("sets", sets);
  out.Set("enums", enums);
  Napi::Object op_names = Napi::Object::New(env);
  for (size_t id = 0; id < fam->op_count; ++id)
    if (fam->op_names[id]) op_names.Set(fam->op_names[id], static_cast<uint32_t>(id));
  out.Set("ops", op_names);
  return out;
}

}  // namespace

void InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkRequest", Napi::Function::New(env, Request, "netlinkRequest"));
  exports.Set("netlinkRequestSync", Napi::Function::New(env, RequestSync, "netlinkRequestSync"));
  exports.Set("netlinkFamily", Napi::Function::New(env, Family, "netlinkFamily"));
  exports.Set("netnsPeerId", Napi::Function::New(env, NetnsPeerId, "netnsPeerId"));
  Napi::Object testing =
      exports.Get("testing").IsObject() ? exports.Get("testing").As<Napi::Object>() : Napi::Object::New(env);
  testing.Set("decodeReplies", Napi::Function::New(env, TestDecodeReplies, "decodeReplies"));
  testing.Set("encodeRequest", Napi::Function::New(env, TestEncodeRequest, "encodeRequest"));
  testing.Set("netlinkSpec", Napi::Function::New(env, NetlinkSpec, "netlinkSpec"));
  exports.Set("testing", testing);
}

}  // namespace devmem::js

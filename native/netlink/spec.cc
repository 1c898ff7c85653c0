// SPDX-License-Identifier: MIT
#include "netlink/spec.h"

#include <iterator>

#include "uapi/devmem_uapi.h"

namespace devmem::nl {

const AttrSpec* AttrSet::ByType(uint16_t type) const {
  for (size_t i = 0; i < count; ++i)
    if (attrs[i].type == type) return &attrs[i];
  return nullptr;
}

const AttrSpec* AttrSet::ByName(std::string_view n) const {
  for (size_t i = 0; i < count; ++i)
    if (n == attrs[i].name) return &attrs[i];
  return nullptr;
}

const CommandSpec* FamilySpec::Command(std::string_view n) const {
  for (size_t i = 0; i < count; ++i)
    if (n == commands[i].name) return &commands[i];
  return nullptr;
}

// Families without a full op table (ethtool) are named by the commands the
// codec speaks, which is what callers check for.
const char* FamilySpec::OpName(uint32_t id) const {
  if (id < op_count) return op_names[id];
  for (size_t i = 0; i < count; ++i)
    if (commands[i].id == id) return commands[i].name;
  return nullptr;
}

const char* EnumSpec::NameOf(uint64_t value) const {
  for (size_t i = 0; i < count; ++i)
    if (entries[i].value == value) return entries[i].name;
  return nullptr;
}

bool EnumSpec::ValueOf(std::string_view n, uint64_t* value) const {
  for (size_t i = 0; i < count; ++i)
    if (n == entries[i].name) {
      *value = entries[i].value;
      return true;
    }
  return false;
}

namespace {

#define SET(var, label, ...)                    \
  const AttrSpec var##_attrs[] = {__VA_ARGS__}; \
  const AttrSet var = {label, var##_attrs, std::size(var##_attrs)}

#define ENUM(var, label, is_flags, ...)            \
  const EnumEntry var##_entries[] = {__VA_ARGS__}; \
  const EnumSpec var = {label, var##_entries, std::size(var##_entries), is_flags}

// An attribute whose values have names.
constexpr AttrSpec Named(uint16_t type, const char* name, Kind kind, const EnumSpec* e) {
  return AttrSpec{type, name, kind, nullptr, false, e};
}

namespace nd = uapi::netdev;
namespace et = uapi::ethtool;
namespace rt = uapi::rtnl;

// The tables are laid out by hand, one attribute or entry per line as in the
// kernel's YAML, so clang-format leaves them alone.
// clang-format off
// ---- netdev: enum and flags definitions -----------------------------------
ENUM(kNdQueueType, "queue-type", false, {nd::kQueueTypeRx, "rx"}, {nd::kQueueTypeTx, "tx"});
ENUM(kNdNapiThreaded, "napi-threaded", false,
     {nd::kNapiThreadedDisabled, "disabled"}, {nd::kNapiThreadedEnabled, "enabled"},
     {nd::kNapiThreadedBusyPoll, "busy-poll"});
ENUM(kNdXdpAct, "xdp-act", true,
     {nd::kXdpActBasic, "basic"}, {nd::kXdpActRedirect, "redirect"}, {nd::kXdpActNdoXmit, "ndo-xmit"},
     {nd::kXdpActXskZerocopy, "xsk-zerocopy"}, {nd::kXdpActHwOffload, "hw-offload"},
     {nd::kXdpActRxSg, "rx-sg"}, {nd::kXdpActNdoXmitSg, "ndo-xmit-sg"});
ENUM(kNdXdpRxMetadata, "xdp-rx-metadata", true,
     {nd::kXdpRxMetaTimestamp, "timestamp"}, {nd::kXdpRxMetaHash, "hash"}, {nd::kXdpRxMetaVlanTag, "vlan-tag"});
ENUM(kNdXskFlags, "xsk-flags", true,
     {nd::kXskTxTimestamp, "tx-timestamp"}, {nd::kXskTxChecksum, "tx-checksum"},
     {nd::kXskTxLaunchTimeFifo, "tx-launch-time-fifo"});
ENUM(kNdQstatsScope, "qstats-scope", true, {nd::kQstatsScopeQueue, "queue"});

// Every netdev op by id, notifications included, as nlctrl lists them.
constexpr const char* kNdOpNames[] = {
    nullptr, "dev-get", "dev-add-ntf", "dev-del-ntf", "dev-change-ntf",
    "page-pool-get", "page-pool-add-ntf", "page-pool-del-ntf", "page-pool-change-ntf",
    "page-pool-stats-get", "queue-get", "napi-get", "qstats-get", "bind-rx", "napi-set", "bind-tx",
    "queue-create",
};
static_assert(std::size(kNdOpNames) == nd::kQueueCreate + 1);

// A netdev command, named by the op table so that each name is written once.
constexpr CommandSpec NdCommand(nd::Cmd id, const AttrSet* request, const AttrSet* reply, bool can_dump) {
  return CommandSpec{kNdOpNames[id], id, request, reply, can_dump};
}

// ---- ethtool: enum and flags definitions ----------------------------------
// bind-rx needs `enabled`, whatever the driver's default: docs/kernel-notes.md#header-split.
ENUM(kEtTcpDataSplit, "tcp-data-split", false,
     {et::kTdsUnknown, "unknown"}, {et::kTdsDisabled, "disabled"}, {et::kTdsEnabled, "enabled"});
ENUM(kEtHeaderFlags, "header-flags", true,
     {et::kFlagCompactBitsets, "compact-bitsets"}, {et::kFlagOmitReply, "omit-reply"}, {et::kFlagStats, "stats"});

// ---- netdev ----------------------------------------------------------------
SET(kNdDev, "dev",
    {nd::kDevIfindex, "ifindex", Kind::kU32},
    Named(nd::kDevXdpFeatures, "xdpFeatures", Kind::kU64, &kNdXdpAct),
    {nd::kDevXdpZcMaxSegs, "xdpZcMaxSegs", Kind::kU32},
    Named(nd::kDevXdpRxMetadataFeatures, "xdpRxMetadataFeatures", Kind::kU64, &kNdXdpRxMetadata),
    Named(nd::kDevXskFeatures, "xskFeatures", Kind::kU64, &kNdXskFlags));
SET(kNdIoUring, "io-uring-provider-info", {nd::kIoUringRxBufLen, "rxBufLen", Kind::kUint});
SET(kNdPagePool, "page-pool",
    {nd::kPpId, "id", Kind::kUint},
    {nd::kPpIfindex, "ifindex", Kind::kU32},
    {nd::kPpNapiId, "napiId", Kind::kUint},
    {nd::kPpInflight, "inflight", Kind::kUint},
    {nd::kPpInflightMem, "inflightMem", Kind::kUint},
    {nd::kPpDetachTime, "detachTime", Kind::kUint},
    {nd::kPpDmabuf, "dmabuf", Kind::kU32},
    {nd::kPpIoUring, "ioUring", Kind::kNest, &kNdIoUring});
SET(kNdPagePoolInfo, "page-pool-info",
    {nd::kPpId, "id", Kind::kUint},
    {nd::kPpIfindex, "ifindex", Kind::kU32});
SET(kNdPagePoolStats, "page-pool-stats",
    {nd::kPpsInfo, "info", Kind::kNest, &kNdPagePoolInfo},
    {nd::kPpsAllocFast, "allocFast", Kind::kUint},
    {nd::kPpsAllocSlow, "allocSlow", Kind::kUint},
    {nd::kPpsAllocSlowHighOrder, "allocSlowHighOrder", Kind::kUint},
    {nd::kPpsAllocEmpty, "allocEmpty", Kind::kUint},
    {nd::kPpsAllocRefill, "allocRefill", Kind::kUint},
    {nd::kPpsAllocWaive, "allocWaive", Kind::kUint},
    {nd::kPpsRecycleCached, "recycleCached", Kind::kUint},
    {nd::kPpsRecycleCacheFull, "recycleCacheFull", Kind::kUint},
    {nd::kPpsRecycleRing, "recycleRing", Kind::kUint},
    {nd::kPpsRecycleRingFull, "recycleRingFull", Kind::kUint},
    {nd::kPpsRecycleReleasedRefcnt, "recycleReleasedRefcnt", Kind::kUint});
SET(kNdNapi, "napi",
    {nd::kNapiIfindex, "ifindex", Kind::kU32},
    {nd::kNapiId, "id", Kind::kU32},
    {nd::kNapiIrq, "irq", Kind::kU32},
    {nd::kNapiPid, "pid", Kind::kU32},
    {nd::kNapiDeferHardIrqs, "deferHardIrqs", Kind::kU32},
    {nd::kNapiGroFlushTimeout, "groFlushTimeout", Kind::kUint},
    {nd::kNapiIrqSuspendTimeout, "irqSuspendTimeout", Kind::kUint},
    Named(nd::kNapiThreaded, "threaded", Kind::kU32, &kNdNapiThreaded));
SET(kNdQueueId, "queue-id",
    {nd::kQueueIdId, "id", Kind::kU32},
    Named(nd::kQueueIdType, "type", Kind::kU32, &kNdQueueType));
SET(kNdLease, "lease",
    {nd::kLeaseIfindex, "ifindex", Kind::kU32},
    {nd::kLeaseQueue, "queue", Kind::kNest, &kNdQueueId},
    {nd::kLeaseNetnsId, "netnsId", Kind::kS32});
// Empty in the kernel's spec: the nest's presence is the information.
const AttrSet kNdXsk = {"xsk-info", nullptr, 0};
SET(kNdQueue, "queue",
    {nd::kQueueId, "id", Kind::kU32},
    {nd::kQueueIfindex, "ifindex", Kind::kU32},
    Named(nd::kQueueType, "type", Kind::kU32, &kNdQueueType),
    {nd::kQueueNapiId, "napiId", Kind::kU32},
    {nd::kQueueDmabuf, "dmabuf", Kind::kU32},
    {nd::kQueueIoUring, "ioUring", Kind::kNest, &kNdIoUring},
    {nd::kQueueXsk, "xsk", Kind::kNest, &kNdXsk},
    {nd::kQueueLease, "lease", Kind::kNest, &kNdLease});
SET(kNdQstats, "qstats",
    {nd::kQstatsIfindex, "ifindex", Kind::kU32},
    Named(nd::kQstatsQueueType, "queueType", Kind::kU32, &kNdQueueType),
    {nd::kQstatsQueueId, "queueId", Kind::kU32},
    Named(nd::kQstatsScope, "scope", Kind::kUint, &kNdQstatsScope),
    {nd::kQstatsRxPackets, "rxPackets", Kind::kUint},
    {nd::kQstatsRxBytes, "rxBytes", Kind::kUint},
    {nd::kQstatsTxPackets, "txPackets", Kind::kUint},
    {nd::kQstatsTxBytes, "txBytes", Kind::kUint},
    {nd::kQstatsRxAllocFail, "rxAllocFail", Kind::kUint},
    {nd::kQstatsRxHwDrops, "rxHwDrops", Kind::kUint},
    {nd::kQstatsRxHwDropOverruns, "rxHwDropOverruns", Kind::kUint},
    {nd::kQstatsRxCsumComplete, "rxCsumComplete", Kind::kUint},
    {nd::kQstatsRxCsumUnnecessary, "rxCsumUnnecessary", Kind::kUint},
    {nd::kQstatsRxCsumNone, "rxCsumNone", Kind::kUint},
    {nd::kQstatsRxCsumBad, "rxCsumBad", Kind::kUint},
    {nd::kQstatsRxHwGroPackets, "rxHwGroPackets", Kind::kUint},
    {nd::kQstatsRxHwGroBytes, "rxHwGroBytes", Kind::kUint},
    {nd::kQstatsRxHwGroWirePackets, "rxHwGroWirePackets", Kind::kUint},
    {nd::kQstatsRxHwGroWireBytes, "rxHwGroWireBytes", Kind::kUint},
    {nd::kQstatsRxHwDropRatelimits, "rxHwDropRatelimits", Kind::kUint},
    {nd::kQstatsTxHwDrops, "txHwDrops", Kind::kUint},
    {nd::kQstatsTxHwDropErrors, "txHwDropErrors", Kind::kUint},
    {nd::kQstatsTxCsumNone, "txCsumNone", Kind::kUint},
    {nd::kQstatsTxNeedsCsum, "txNeedsCsum", Kind::kUint},
    {nd::kQstatsTxHwGsoPackets, "txHwGsoPackets", Kind::kUint},
    {nd::kQstatsTxHwGsoBytes, "txHwGsoBytes", Kind::kUint},
    {nd::kQstatsTxHwGsoWirePackets, "txHwGsoWirePackets", Kind::kUint},
    {nd::kQstatsTxHwGsoWireBytes, "txHwGsoWireBytes", Kind::kUint},
    {nd::kQstatsTxHwDropRatelimits, "txHwDropRatelimits", Kind::kUint},
    {nd::kQstatsTxStop, "txStop", Kind::kUint},
    {nd::kQstatsTxWake, "txWake", Kind::kUint});
SET(kNdDmabuf, "dmabuf",
    {nd::kDmabufIfindex, "ifindex", Kind::kU32},
    {nd::kDmabufQueues, "queues", Kind::kNest, &kNdQueueId, true},
    {nd::kDmabufFd, "fd", Kind::kU32},
    {nd::kDmabufId, "id", Kind::kU32},
    {nd::kDmabufRxPageSize, "rxPageSize", Kind::kU32});

const CommandSpec kNetdevCommands[] = {
    NdCommand(nd::kDevGet, &kNdDev, &kNdDev, true),
    NdCommand(nd::kPagePoolGet, &kNdPagePool, &kNdPagePool, true),
    NdCommand(nd::kPagePoolStatsGet, &kNdPagePoolStats, &kNdPagePoolStats, true),
    NdCommand(nd::kQueueGet, &kNdQueue, &kNdQueue, true),
    NdCommand(nd::kNapiGet, &kNdNapi, &kNdNapi, true),
    NdCommand(nd::kQstatsGet, &kNdQstats, &kNdQstats, true),
    NdCommand(nd::kBindRx, &kNdDmabuf, &kNdDmabuf, false),
    NdCommand(nd::kBindTx, &kNdDmabuf, &kNdDmabuf, false),
    // Request: the virtual device's ifindex, type rx and the lease; reply: the new queue's id.
    NdCommand(nd::kQueueCreate, &kNdQueue, &kNdQueue, false),
};

// ---- ethtool ---------------------------------------------------------------
SET(kEtHeader, "header",
    {et::kHeaderDevIndex, "devIndex", Kind::kU32},
    {et::kHeaderDevName, "devName", Kind::kString},
    Named(et::kHeaderFlags, "flags", Kind::kU32, &kEtHeaderFlags),
    {et::kHeaderPhyIndex, "phyIndex", Kind::kU32});
SET(kEtRings, "rings",
    {et::kRingsHeader, "header", Kind::kNest, &kEtHeader},
    {et::kRingsRxMax, "rxMax", Kind::kU32},
    {et::kRingsRxMiniMax, "rxMiniMax", Kind::kU32},
    {et::kRingsRxJumboMax, "rxJumboMax", Kind::kU32},
    {et::kRingsTxMax, "txMax", Kind::kU32},
    {et::kRingsRx, "rx", Kind::kU32},
    {et::kRingsRxMini, "rxMini", Kind::kU32},
    {et::kRingsRxJumbo, "rxJumbo", Kind::kU32},
    {et::kRingsTx, "tx", Kind::kU32},
    {et::kRingsRxBufLen, "rxBufLen", Kind::kU32},
    Named(et::kRingsTcpDataSplit, "tcpDataSplit", Kind::kU8, &kEtTcpDataSplit),
    {et::kRingsCqeSize, "cqeSize", Kind::kU32},
    {et::kRingsTxPush, "txPush", Kind::kU8},
    {et::kRingsRxPush, "rxPush", Kind::kU8},
    {et::kRingsTxPushBufLen, "txPushBufLen", Kind::kU32},
    {et::kRingsTxPushBufLenMax, "txPushBufLenMax", Kind::kU32},
    {et::kRingsHdsThresh, "hdsThresh", Kind::kU32},
    {et::kRingsHdsThreshMax, "hdsThreshMax", Kind::kU32});
SET(kEtChannels, "channels",
    {et::kChannelsHeader, "header", Kind::kNest, &kEtHeader},
    {et::kChannelsRxMax, "rxMax", Kind::kU32},
    {et::kChannelsTxMax, "txMax", Kind::kU32},
    {et::kChannelsOtherMax, "otherMax", Kind::kU32},
    {et::kChannelsCombinedMax, "combinedMax", Kind::kU32},
    {et::kChannelsRxCount, "rxCount", Kind::kU32},
    {et::kChannelsTxCount, "txCount", Kind::kU32},
    {et::kChannelsOtherCount, "otherCount", Kind::kU32},
    {et::kChannelsCombinedCount, "combinedCount", Kind::kU32});

// RSS_GET (dump: one reply per context), RSS_CREATE_ACT and RSS_DELETE_ACT
// (6.17); the indirection table is u32s in host order.
SET(kEtRss, "rss",
    {et::kRssHeader, "header", Kind::kNest, &kEtHeader},
    {et::kRssContext, "context", Kind::kU32},
    {et::kRssHfunc, "hfunc", Kind::kU32},
    {et::kRssIndir, "indir", Kind::kBinary},
    {et::kRssHkey, "hkey", Kind::kBinary},
    {et::kRssStartContext, "startContext", Kind::kU32});

const CommandSpec kEthtoolCommands[] = {
    {"rings-get", et::kRingsGet, &kEtRings, &kEtRings, true},
    {"rings-set", et::kRingsSet, &kEtRings, &kEtRings, false},
    {"channels-get", et::kChannelsGet, &kEtChannels, &kEtChannels, true},
    {"channels-set", et::kChannelsSet, &kEtChannels, &kEtChannels, false},
    {"rss-get", et::kRssGet, &kEtRss, &kEtRss, true},
    {"rss-create-act", et::kRssCreateAct, &kEtRss, &kEtRss, false},
    {"rss-delete-act", et::kRssDeleteAct, &kEtRss, &kEtRss, false},
};

// ---- rtnetlink links (only what probe needs: XDP state and queue counts) ---
SET(kRtXdp, "xdp",
    {rt::kXdpFd, "fd", Kind::kS32},
    {rt::kXdpAttached, "attached", Kind::kU8},
    {rt::kXdpFlags, "flags", Kind::kU32},
    {rt::kXdpProgId, "progId", Kind::kU32});
// Only the kind: IFLA_INFO_DATA's layout differs from kind to kind.
SET(kRtLinkinfo, "linkinfo", {rt::kInfoKind, "kind", Kind::kString});
SET(kRtLink, "link",
    {rt::kIfname, "ifname", Kind::kString},
    {rt::kMtu, "mtu", Kind::kU32},
    {rt::kOperstate, "operstate", Kind::kU8},
    {rt::kExtMask, "extMask", Kind::kU32},
    {rt::kNumTxQueues, "numTxQueues", Kind::kU32},
    {rt::kNumRxQueues, "numRxQueues", Kind::kU32},
    {rt::kXdp, "xdp", Kind::kNest, &kRtXdp},
    {rt::kLinkinfo, "linkinfo", Kind::kNest, &kRtLinkinfo});

const CommandSpec kRtnlCommands[] = {
    {"link-get", rt::kGetLink, &kRtLink, &kRtLink, true},
};

const FamilySpec kFamilies[] = {
    {uapi::netdev::kFamilyName, Protocol::kGeneric, 1, kNetdevCommands, std::size(kNetdevCommands), kNdOpNames,
     std::size(kNdOpNames)},
    {uapi::ethtool::kFamilyName, Protocol::kGeneric, 1, kEthtoolCommands, std::size(kEthtoolCommands)},
    {"rtnl", Protocol::kRoute, 0, kRtnlCommands, std::size(kRtnlCommands)},
};

// clang-format on

#undef SET
#undef ENUM

}  // namespace

const FamilySpec* FindFamily(std::string_view name) {
  for (const auto& f : kFamilies)
    if (name == f.name) return &f;
  return nullptr;
}

}  // namespace devmem::nl

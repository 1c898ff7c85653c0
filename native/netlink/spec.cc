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

namespace {

#define SET(var, label, ...)                          \
  const AttrSpec var##_attrs[] = {__VA_ARGS__};       \
  const AttrSet var = {label, var##_attrs, std::size(var##_attrs)}

namespace nd = uapi::netdev;
namespace et = uapi::ethtool;

// ---- netdev ----------------------------------------------------------------
SET(kNdDev, "dev",
    {nd::kDevIfindex, "ifindex", Kind::kU32},
    {nd::kDevXdpFeatures, "xdpFeatures", Kind::kU64},
    {nd::kDevXdpZcMaxSegs, "xdpZcMaxSegs", Kind::kU32},
    {nd::kDevXdpRxMetadataFeatures, "xdpRxMetadataFeatures", Kind::kU64},
    {nd::kDevXskFeatures, "xskFeatures", Kind::kU64});
SET(kNdIoUring, "io-uring-provider-info", {1, "rxBufLen", Kind::kUint});
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
    {nd::kNapiThreaded, "threaded", Kind::kU32});
SET(kNdQueueId, "queue-id",
    {nd::kQueueIdId, "id", Kind::kU32},
    {nd::kQueueIdType, "type", Kind::kU32});
SET(kNdLease, "lease",
    {1, "ifindex", Kind::kU32},
    {2, "queue", Kind::kNest, &kNdQueueId},
    {3, "netnsId", Kind::kS32});
// Empty in the kernel's spec: the nest's presence is the information.
const AttrSet kNdXsk = {"xsk-info", nullptr, 0};
SET(kNdQueue, "queue",
    {nd::kQueueId, "id", Kind::kU32},
    {nd::kQueueIfindex, "ifindex", Kind::kU32},
    {nd::kQueueType, "type", Kind::kU32},
    {nd::kQueueNapiId, "napiId", Kind::kU32},
    {nd::kQueueDmabuf, "dmabuf", Kind::kU32},
    {nd::kQueueIoUring, "ioUring", Kind::kNest, &kNdIoUring},
    {nd::kQueueXsk, "xsk", Kind::kNest, &kNdXsk},
    {nd::kQueueLease, "lease", Kind::kNest, &kNdLease});
SET(kNdQstats, "qstats",
    {nd::kQstatsIfindex, "ifindex", Kind::kU32},
    {nd::kQstatsQueueType, "queueType", Kind::kU32},
    {nd::kQstatsQueueId, "queueId", Kind::kU32},
    {nd::kQstatsScope, "scope", Kind::kUint},
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
    {"dev-get", nd::kDevGet, &kNdDev, &kNdDev, true},
    {"page-pool-get", nd::kPagePoolGet, &kNdPagePool, &kNdPagePool, true},
    {"page-pool-stats-get", nd::kPagePoolStatsGet, &kNdPagePoolStats, &kNdPagePoolStats, true},
    {"queue-get", nd::kQueueGet, &kNdQueue, &kNdQueue, true},
    {"napi-get", nd::kNapiGet, &kNdNapi, &kNdNapi, true},
    {"qstats-get", nd::kQstatsGet, &kNdQstats, &kNdQstats, true},
    {"bind-rx", nd::kBindRx, &kNdDmabuf, &kNdDmabuf, false},
    {"bind-tx", nd::kBindTx, &kNdDmabuf, &kNdDmabuf, false},
};

// ---- ethtool ---------------------------------------------------------------
SET(kEtHeader, "header",
    {et::kHeaderDevIndex, "devIndex", Kind::kU32},
    {et::kHeaderDevName, "devName", Kind::kString},
    {et::kHeaderFlags, "flags", Kind::kU32},
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
    {et::kRingsTcpDataSplit, "tcpDataSplit", Kind::kU8},
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

const CommandSpec kEthtoolCommands[] = {
    {"rings-get", et::kRingsGet, &kEtRings, &kEtRings, true},
    {"rings-set", et::kRingsSet, &kEtRings, &kEtRings, false},
    {"channels-get", et::kChannelsGet, &kEtChannels, &kEtChannels, true},
    {"channels-set", et::kChannelsSet, &kEtChannels, &kEtChannels, false},
};

// ---- rtnetlink links (only what probe needs: XDP state and queue counts) ---
SET(kRtXdp, "xdp",
    {1, "fd", Kind::kS32},
    {2, "attached", Kind::kU8},
    {3, "flags", Kind::kU32},
    {4, "progId", Kind::kU32});
SET(kRtLink, "link",
    {3, "ifname", Kind::kString},
    {4, "mtu", Kind::kU32},
    {16, "operstate", Kind::kU8},
    {29, "extMask", Kind::kU32},
    {31, "numTxQueues", Kind::kU32},
    {32, "numRxQueues", Kind::kU32},
    {43, "xdp", Kind::kNest, &kRtXdp});

const CommandSpec kRtnlCommands[] = {
    {"link-get", 18 /* RTM_GETLINK */, &kRtLink, &kRtLink, true},
};

const FamilySpec kFamilies[] = {
    {uapi::netdev::kFamilyName, Protocol::kGeneric, 1, kNetdevCommands, std::size(kNetdevCommands)},
    {uapi::ethtool::kFamilyName, Protocol::kGeneric, 1, kEthtoolCommands, std::size(kEthtoolCommands)},
    {"rtnl", Protocol::kRoute, 0, kRtnlCommands, std::size(kRtnlCommands)},
};

#undef SET

}  // namespace

const FamilySpec* FindFamily(std::string_view name) {
  for (const auto& f : kFamilies)
    if (name == f.name) return &f;
  return nullptr;
}

}  // namespace devmem::nl

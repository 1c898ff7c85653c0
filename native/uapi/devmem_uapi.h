// SPDX-License-Identifier: MIT
//
// Every kernel constant and struct layout the addon relies on, in one place.
//
// Build hosts commonly carry uapi headers older than devmem (Debian 12 ships
// 6.1: no linux/netdev.h, no SO_DEVMEM_*, no struct dmabuf_cmsg), and
// MSG_SOCK_DEVMEM is not exported by any uapi header at all. Including
// <linux/uio.h> next to glibc's <sys/socket.h> redefines struct iovec, so the
// structs are re-declared here under our own names and pinned with
// static_asserts to the layouts documented in include/uapi/linux/uio.h.
//
// Values are those of asm-generic (x86-64, arm64, riscv, ...). parisc and
// sparc number the socket options differently; see the per-arch block.
#ifndef DEVMEM_TCP_UAPI_H_
#define DEVMEM_TCP_UAPI_H_

#include <linux/ethtool.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <cstddef>
#include <cstdint>

namespace devmem::uapi {

// ---- socket options and cmsg types (SOL_SOCKET level) -----------------------
#if defined(__hppa__)
// Fixed upstream in fd87b7783802 (v6.15, backported to 6.12.y); 6.12.0 on
// parisc shipped the generic numbers by mistake.
inline constexpr int kSoDevmemLinear = 0x404E;
inline constexpr int kSoDevmemDmabuf = 0x404F;
inline constexpr int kSoDevmemDontneed = 0x4050;
#elif defined(__sparc__)
inline constexpr int kSoDevmemLinear = 0x0057;
inline constexpr int kSoDevmemDmabuf = 0x0058;
inline constexpr int kSoDevmemDontneed = 0x0059;
#else
inline constexpr int kSoDevmemLinear = 78;
inline constexpr int kSoDevmemDmabuf = 79;
inline constexpr int kSoDevmemDontneed = 80;
#endif
inline constexpr int kScmDevmemLinear = kSoDevmemLinear;
inline constexpr int kScmDevmemDmabuf = kSoDevmemDmabuf;

// include/linux/socket.h (kernel-internal, never exported).
inline constexpr int kMsgSockDevmem = 0x2000000;
inline constexpr int kMsgZerocopy = 0x4000000;
inline constexpr int kMsgErrqueue = 0x2000;
inline constexpr int kSoZerocopy = 60;
// SO_INCOMING_NAPI_ID (4.12): the NAPI id of the last packet the socket
// received, which names the RX queue it came through.
#if defined(__hppa__)
inline constexpr int kSoIncomingNapiId = 0x4031;
#elif defined(__sparc__)
inline constexpr int kSoIncomingNapiId = 0x003a;
#else
inline constexpr int kSoIncomingNapiId = 56;
#endif
#ifdef SO_INCOMING_NAPI_ID
static_assert(kSoIncomingNapiId == SO_INCOMING_NAPI_ID);
#endif
inline constexpr int kSoEeOriginZerocopy = 5;
inline constexpr int kSoEeCodeZerocopyCopied = 1;
// Not in glibc: the kernel's "buffer or request is too small" errno.
inline constexpr int kEtoosmall = 525;

// SO_DEVMEM_DONTNEED limits (net/core/sock.c).
inline constexpr unsigned kMaxDontneedTokens = 128;
inline constexpr unsigned kMaxDontneedFrags = 1024;

// struct dmabuf_cmsg, include/uapi/linux/uio.h
struct DmabufCmsg {
  uint64_t frag_offset;  // offset into the dma-buf, not into a page
  uint32_t frag_size;
  uint32_t frag_token;  // 1 .. 2^31-1
  uint32_t dmabuf_id;   // binding id (NETDEV_A_DMABUF_ID)
  uint32_t flags;       // reserved, 0
};
static_assert(sizeof(DmabufCmsg) == 24, "struct dmabuf_cmsg is 24 bytes");
static_assert(alignof(DmabufCmsg) == 8, "struct dmabuf_cmsg is 8-aligned");
static_assert(offsetof(DmabufCmsg, frag_offset) == 0);
static_assert(offsetof(DmabufCmsg, frag_size) == 8);
static_assert(offsetof(DmabufCmsg, frag_token) == 12);
static_assert(offsetof(DmabufCmsg, dmabuf_id) == 16);
static_assert(offsetof(DmabufCmsg, flags) == 20);

// struct dmabuf_token, include/uapi/linux/uio.h
struct DmabufToken {
  uint32_t token_start;
  uint32_t token_count;
};
static_assert(sizeof(DmabufToken) == 8, "struct dmabuf_token is 8 bytes");
static_assert(offsetof(DmabufToken, token_count) == 4);

// ---- netlink attributes (include/uapi/linux/netlink.h) ---------------------
namespace nla {
inline constexpr size_t kAlignTo = 4;               // NLA_ALIGNTO
inline constexpr size_t kHdrLen = 4;                // NLA_HDRLEN: struct nlattr
inline constexpr uint16_t kFNested = 0x8000;        // NLA_F_NESTED
inline constexpr uint16_t kFNetByteorder = 0x4000;  // NLA_F_NET_BYTEORDER
static_assert(kAlignTo == NLA_ALIGNTO && kHdrLen == NLA_HDRLEN);
static_assert(kFNested == NLA_F_NESTED && kFNetByteorder == NLA_F_NET_BYTEORDER);
}  // namespace nla

// ---- generic netlink: nlctrl -------------------------------------------------
namespace ctrl {
inline constexpr uint16_t kId = 16;  // GENL_ID_CTRL
inline constexpr uint8_t kCmdGetFamily = 3;
enum Attr : uint16_t {
  kFamilyId = 1,
  kFamilyName = 2,
  kVersion = 3,
  kHdrsize = 4,
  kMaxattr = 5,
  kOps = 6,
  kMcastGroups = 7,
};
enum OpAttr : uint16_t { kOpId = 1, kOpFlags = 2 };
enum McastAttr : uint16_t { kMcastName = 1, kMcastId = 2 };
// GENL_* op flags as reported in CTRL_ATTR_OP_FLAGS.
inline constexpr uint32_t kOpAdminPerm = 0x01;
inline constexpr uint32_t kOpCmdCapDo = 0x02;
inline constexpr uint32_t kOpCmdCapDump = 0x04;
inline constexpr uint32_t kOpCmdCapHaspol = 0x08;
inline constexpr uint32_t kOpUnsAdminPerm = 0x10;
}  // namespace ctrl

// Extended-ACK TLVs inside NLMSG_ERROR / NLMSG_DONE (linux/netlink.h); 6.1
// headers have them, but re-stating keeps this file the single reference.
namespace extack {
inline constexpr int kSolNetlink = 270;
inline constexpr int kOptCapAck = 10;
inline constexpr int kOptExtAck = 11;
inline constexpr uint16_t kFlagCapped = 0x100;
inline constexpr uint16_t kFlagAckTlvs = 0x200;
enum Attr : uint16_t { kMsg = 1, kOffs = 2, kCookie = 3, kPolicy = 4, kMissType = 5, kMissNest = 6 };
}  // namespace extack

// ---- netdev family (Documentation/netlink/specs/netdev.yaml) ---------------
namespace netdev {
inline constexpr const char* kFamilyName = "netdev";
enum Cmd : uint8_t {
  kDevGet = 1,
  kDevAddNtf = 2,
  kDevDelNtf = 3,
  kDevChangeNtf = 4,
  kPagePoolGet = 5,
  kPagePoolAddNtf = 6,
  kPagePoolDelNtf = 7,
  kPagePoolChangeNtf = 8,
  kPagePoolStatsGet = 9,
  kQueueGet = 10,
  kNapiGet = 11,
  kQstatsGet = 12,
  kBindRx = 13,  // 6.12
  kNapiSet = 14,
  kBindTx = 15,       // 6.16
  kQueueCreate = 16,  // 7.1
};
enum DevAttr : uint16_t {
  kDevIfindex = 1,
  kDevPad = 2,
  kDevXdpFeatures = 3,
  kDevXdpZcMaxSegs = 4,
  kDevXdpRxMetadataFeatures = 5,
  kDevXskFeatures = 6,
};
enum PagePoolAttr : uint16_t {
  kPpId = 1,
  kPpIfindex = 2,
  kPpNapiId = 3,
  kPpInflight = 4,
  kPpInflightMem = 5,
  kPpDetachTime = 6,
  kPpDmabuf = 7,
  kPpIoUring = 8,
};
enum PagePoolStatsAttr : uint16_t {
  kPpsInfo = 1,
  kPpsAllocFast = 8,
  kPpsAllocSlow = 9,
  kPpsAllocSlowHighOrder = 10,
  kPpsAllocEmpty = 11,
  kPpsAllocRefill = 12,
  kPpsAllocWaive = 13,
  kPpsRecycleCached = 14,
  kPpsRecycleCacheFull = 15,
  kPpsRecycleRing = 16,
  kPpsRecycleRingFull = 17,
  kPpsRecycleReleasedRefcnt = 18,
};
enum NapiAttr : uint16_t {
  kNapiIfindex = 1,
  kNapiId = 2,
  kNapiIrq = 3,
  kNapiPid = 4,
  kNapiDeferHardIrqs = 5,
  kNapiGroFlushTimeout = 6,
  kNapiIrqSuspendTimeout = 7,
  kNapiThreaded = 8,
};
enum QueueAttr : uint16_t {
  kQueueId = 1,
  kQueueIfindex = 2,
  kQueueType = 3,
  kQueueNapiId = 4,
  kQueueDmabuf = 5,
  kQueueIoUring = 6,
  kQueueXsk = 7,
  kQueueLease = 8,
};
enum QueueType : uint32_t { kQueueTypeRx = 0, kQueueTypeTx = 1 };
enum NapiThreaded : uint32_t { kNapiThreadedDisabled = 0, kNapiThreadedEnabled = 1, kNapiThreadedBusyPoll = 2 };
// Flags definitions: each entry is one bit, in the YAML's order from bit 0.
enum XdpAct : uint64_t {
  kXdpActBasic = 1u << 0,
  kXdpActRedirect = 1u << 1,
  kXdpActNdoXmit = 1u << 2,
  kXdpActXskZerocopy = 1u << 3,
  kXdpActHwOffload = 1u << 4,
  kXdpActRxSg = 1u << 5,
  kXdpActNdoXmitSg = 1u << 6,
};
enum XdpRxMetadata : uint64_t { kXdpRxMetaTimestamp = 1u << 0, kXdpRxMetaHash = 1u << 1, kXdpRxMetaVlanTag = 1u << 2 };
enum XskFlags : uint64_t { kXskTxTimestamp = 1u << 0, kXskTxChecksum = 1u << 1, kXskTxLaunchTimeFifo = 1u << 2 };
enum QstatsScope : uint64_t { kQstatsScopeQueue = 1u << 0 };
enum IoUringProviderInfoAttr : uint16_t { kIoUringRxBufLen = 1 };                     // 7.2
enum LeaseAttr : uint16_t { kLeaseIfindex = 1, kLeaseQueue = 2, kLeaseNetnsId = 3 };  // 7.1
enum QstatsAttr : uint16_t {
  kQstatsIfindex = 1,
  kQstatsQueueType = 2,
  kQstatsQueueId = 3,
  kQstatsScope = 4,
  kQstatsRxPackets = 8,
  kQstatsRxBytes = 9,
  kQstatsTxPackets = 10,
  kQstatsTxBytes = 11,
  kQstatsRxAllocFail = 12,
  kQstatsRxHwDrops = 13,
  kQstatsRxHwDropOverruns = 14,
  kQstatsRxCsumComplete = 15,
  kQstatsRxCsumUnnecessary = 16,
  kQstatsRxCsumNone = 17,
  kQstatsRxCsumBad = 18,
  kQstatsRxHwGroPackets = 19,
  kQstatsRxHwGroBytes = 20,
  kQstatsRxHwGroWirePackets = 21,
  kQstatsRxHwGroWireBytes = 22,
  kQstatsRxHwDropRatelimits = 23,
  kQstatsTxHwDrops = 24,
  kQstatsTxHwDropErrors = 25,
  kQstatsTxCsumNone = 26,
  kQstatsTxNeedsCsum = 27,
  kQstatsTxHwGsoPackets = 28,
  kQstatsTxHwGsoBytes = 29,
  kQstatsTxHwGsoWirePackets = 30,
  kQstatsTxHwGsoWireBytes = 31,
  kQstatsTxHwDropRatelimits = 32,
  kQstatsTxStop = 33,
  kQstatsTxWake = 34,
};
enum DmabufAttr : uint16_t {
  kDmabufIfindex = 1,
  kDmabufQueues = 2,
  kDmabufFd = 3,
  kDmabufId = 4,
  kDmabufRxPageSize = 5,  // 7.3
};
// The queue-id subset used inside NETDEV_A_DMABUF_QUEUES nests.
enum QueueIdAttr : uint16_t { kQueueIdId = 1, kQueueIdType = 3 };
}  // namespace netdev

// ---- ethtool family (include/uapi/linux/ethtool_netlink*.h) ----------------
namespace ethtool {
inline constexpr const char* kFamilyName = "ethtool";
enum Msg : uint8_t {
  kRingsGet = 15,
  kRingsSet = 16,
  kChannelsGet = 17,
  kChannelsSet = 18,
  kFeaturesGet = 11,
  kFeaturesSet = 12,
  kRssGet = 38,
  kRssCreateAct = 49,  // 6.17
  kRssDeleteAct = 50,  // 6.17
};
// ETHTOOL_A_RSS_*: what RSS_CREATE_ACT and RSS_DELETE_ACT take and reply.
enum RssAttr : uint16_t {
  kRssHeader = 1,
  kRssContext = 2,
  kRssHfunc = 3,
  kRssIndir = 4,  // u32s in host order
  kRssHkey = 5,
  kRssStartContext = 7,
};
enum HeaderAttr : uint16_t { kHeaderDevIndex = 1, kHeaderDevName = 2, kHeaderFlags = 3, kHeaderPhyIndex = 4 };
enum HeaderFlags : uint32_t { kFlagCompactBitsets = 1u << 0, kFlagOmitReply = 1u << 1, kFlagStats = 1u << 2 };
enum RingsAttr : uint16_t {
  kRingsHeader = 1,
  kRingsRxMax = 2,
  kRingsRxMiniMax = 3,
  kRingsRxJumboMax = 4,
  kRingsTxMax = 5,
  kRingsRx = 6,
  kRingsRxMini = 7,
  kRingsRxJumbo = 8,
  kRingsTx = 9,
  kRingsRxBufLen = 10,
  kRingsTcpDataSplit = 11,
  kRingsCqeSize = 12,
  kRingsTxPush = 13,
  kRingsRxPush = 14,
  kRingsTxPushBufLen = 15,
  kRingsTxPushBufLenMax = 16,
  kRingsHdsThresh = 17,     // 6.14
  kRingsHdsThreshMax = 18,  // 6.14
};
enum TcpDataSplit : uint8_t { kTdsUnknown = 0, kTdsDisabled = 1, kTdsEnabled = 2 };
enum ChannelsAttr : uint16_t {
  kChannelsHeader = 1,
  kChannelsRxMax = 2,
  kChannelsTxMax = 3,
  kChannelsOtherMax = 4,
  kChannelsCombinedMax = 5,
  kChannelsRxCount = 6,
  kChannelsTxCount = 7,
  kChannelsOtherCount = 8,
  kChannelsCombinedCount = 9,
};
// SIOCETHTOOL ioctl commands (include/uapi/linux/ethtool.h). n-tuple rules have
// no ethtool netlink message at all, so these stay on the ioctl.
inline constexpr unsigned long kSiocEthtool = 0x8946;
inline constexpr uint32_t kCmdGdrvinfo = 0x00000003;
inline constexpr uint32_t kCmdGflags = 0x00000025;
inline constexpr uint32_t kCmdSflags = 0x00000026;
inline constexpr uint32_t kCmdGrxrings = 0x0000002d;
inline constexpr uint32_t kCmdGrxclsrlcnt = 0x0000002e;
inline constexpr uint32_t kCmdGrxclsrule = 0x0000002f;
inline constexpr uint32_t kCmdGrxclsrlall = 0x00000030;
inline constexpr uint32_t kCmdSrxclsrldel = 0x00000031;
inline constexpr uint32_t kCmdSrxclsrlins = 0x00000032;
inline constexpr uint32_t kCmdGrxfhindir = 0x00000038;
inline constexpr uint32_t kCmdSrxfhindir = 0x00000039;
inline constexpr uint32_t kFlagNtuple = 1u << 27;     // ETH_FLAG_NTUPLE
inline constexpr uint32_t kFlowTcpV4 = 0x01;          // TCP_V4_FLOW
inline constexpr uint32_t kFlowTcpV6 = 0x05;          // TCP_V6_FLOW
inline constexpr uint32_t kFlowExtMask = 0xe0000000;  // FLOW_EXT | FLOW_MAC_EXT | FLOW_RSS
inline constexpr uint32_t kRxClsLocAny = 0xffffffff;
inline constexpr uint32_t kRxClsLocSpecial = 0x80000000;
inline constexpr uint64_t kRxClsFlowDisc = ~uint64_t{0};
// RSS contexts (SRSSH/GRSSH, struct ethtool_rxfh) and rules that name one
// (FLOW_RSS in flow_type, the context in ethtool_rxnfc.rss_context).
inline constexpr uint32_t kCmdGrssh = 0x00000046;
inline constexpr uint32_t kCmdSrssh = 0x00000047;
inline constexpr uint32_t kFlowRss = 0x20000000;            // FLOW_RSS
inline constexpr uint32_t kRxfhContextAlloc = 0xffffffff;   // ETH_RXFH_CONTEXT_ALLOC
inline constexpr uint32_t kRxfhIndirNoChange = 0xffffffff;  // ETH_RXFH_INDIR_NO_CHANGE
inline constexpr uint64_t kRxFlowSpecRing = 0xffffffff;     // ETHTOOL_RX_FLOW_SPEC_RING
static_assert(kCmdGrssh == ETHTOOL_GRSSH && kCmdSrssh == ETHTOOL_SRSSH && kFlowRss == FLOW_RSS);
static_assert(kRxfhContextAlloc == ETH_RXFH_CONTEXT_ALLOC && kRxfhIndirNoChange == ETH_RXFH_INDIR_NO_CHANGE);
// Layouts from reference section 4.3; the ioctl ABI has not changed since
// these structures were introduced, and the 6.1 headers here carry them.
static_assert(sizeof(::ethtool_rxnfc) == 192);
static_assert(offsetof(::ethtool_rxnfc, flow_type) == 4 && offsetof(::ethtool_rxnfc, data) == 8);
static_assert(offsetof(::ethtool_rxnfc, fs) == 16 && offsetof(::ethtool_rxnfc, rule_cnt) == 184);
static_assert(sizeof(::ethtool_rx_flow_spec) == 168);
static_assert(offsetof(::ethtool_rx_flow_spec, h_u) == 4 && offsetof(::ethtool_rx_flow_spec, h_ext) == 56);
static_assert(offsetof(::ethtool_rx_flow_spec, m_u) == 76 && offsetof(::ethtool_rx_flow_spec, m_ext) == 128);
static_assert(offsetof(::ethtool_rx_flow_spec, ring_cookie) == 152);
static_assert(offsetof(::ethtool_rx_flow_spec, location) == 160);
static_assert(offsetof(::ethtool_tcpip4_spec, ip4dst) == 4 && offsetof(::ethtool_tcpip4_spec, psrc) == 8);
static_assert(offsetof(::ethtool_tcpip4_spec, pdst) == 10 && offsetof(::ethtool_tcpip4_spec, tos) == 12);
static_assert(offsetof(::ethtool_tcpip6_spec, ip6dst) == 16 && offsetof(::ethtool_tcpip6_spec, psrc) == 32);
static_assert(offsetof(::ethtool_tcpip6_spec, pdst) == 34 && offsetof(::ethtool_tcpip6_spec, tclass) == 36);
static_assert(sizeof(::ethtool_rxfh_indir) == 8 && offsetof(::ethtool_rxfh_indir, ring_index) == 8);
// struct ethtool_rxfh: 6.8 renamed rsvd8[0] to input_xfrm (0 there: leave it).
static_assert(sizeof(::ethtool_rxfh) == 24 && offsetof(::ethtool_rxfh, rss_context) == 4);
static_assert(offsetof(::ethtool_rxfh, indir_size) == 8 && offsetof(::ethtool_rxfh, key_size) == 12);
static_assert(offsetof(::ethtool_rxfh, hfunc) == 16 && offsetof(::ethtool_rxfh, rsvd32) == 20);
static_assert(offsetof(::ethtool_rxfh, rss_config) == 24);
// rss_context shares its place with rule_cnt (a union).
static_assert(offsetof(::ethtool_rxnfc, rss_context) == 184);
static_assert(sizeof(::ethtool_value) == 8);
}  // namespace ethtool

// ---- rtnetlink links (include/uapi/linux/{rtnetlink,if_link,if}.h) ---------
// Only what probe reads: the name, MTU, state, queue counts and XDP.
namespace rtnl {
inline constexpr uint16_t kGetLink = 18;  // RTM_GETLINK
enum LinkAttr : uint16_t {
  kIfname = 3,
  kMtu = 4,
  kOperstate = 16,
  kExtMask = 29,
  kNumTxQueues = 31,
  kNumRxQueues = 32,
  kXdp = 43,
};
enum XdpAttr : uint16_t { kXdpFd = 1, kXdpAttached = 2, kXdpFlags = 3, kXdpProgId = 4 };
inline constexpr uint32_t kIffLoopback = 0x8;  // IFF_LOOPBACK, in ifinfomsg.ifi_flags
// These predate the 6.1 headers, which pin them; <linux/if.h> is left out
// because it clashes with glibc's <net/if.h>.
static_assert(+kGetLink == +RTM_GETLINK && +kIfname == +IFLA_IFNAME && +kMtu == +IFLA_MTU);
static_assert(+kOperstate == +IFLA_OPERSTATE && +kExtMask == +IFLA_EXT_MASK && +kXdp == +IFLA_XDP);
static_assert(+kNumTxQueues == +IFLA_NUM_TX_QUEUES && +kNumRxQueues == +IFLA_NUM_RX_QUEUES);
static_assert(+kXdpFd == +IFLA_XDP_FD && +kXdpAttached == +IFLA_XDP_ATTACHED && +kXdpFlags == +IFLA_XDP_FLAGS);
static_assert(+kXdpProgId == +IFLA_XDP_PROG_ID);
// IFLA_LINKINFO and its IFLA_INFO_KIND ("netkit", "veth", ...): what kind of
// virtual device a link is; devices without rtnl_link_ops report none.
inline constexpr uint16_t kLinkinfo = 18;
enum LinkinfoAttr : uint16_t { kInfoKind = 1 };
static_assert(+kLinkinfo == +IFLA_LINKINFO && +kInfoKind == +IFLA_INFO_KIND);
// Network namespace ids (include/uapi/linux/net_namespace.h, in the 6.1
// headers too): the number one namespace gives another, which netdev
// queue-create's lease needs when the two devices live in different ones.
inline constexpr uint16_t kNewNsid = 88;  // RTM_NEWNSID
inline constexpr uint16_t kGetNsid = 90;  // RTM_GETNSID
enum NetnsAttr : uint16_t { kNetnsaNsid = 1, kNetnsaFd = 3 };
inline constexpr int32_t kNsidNotAssigned = -1;  // NETNSA_NSID_NOT_ASSIGNED
static_assert(+kNewNsid == +RTM_NEWNSID && +kGetNsid == +RTM_GETNSID);
static_assert(+kNetnsaNsid == +NETNSA_NSID && +kNetnsaFd == +NETNSA_FD && kNsidNotAssigned == NETNSA_NSID_NOT_ASSIGNED);
}  // namespace rtnl

// ---- udmabuf, dma-buf and dma-heap ioctls -----------------------------------
struct UdmabufCreate {  // struct udmabuf_create, include/uapi/linux/udmabuf.h
  uint32_t memfd;
  uint32_t flags;
  uint64_t offset;
  uint64_t size;
};
static_assert(sizeof(UdmabufCreate) == 24);
static_assert(offsetof(UdmabufCreate, offset) == 8 && offsetof(UdmabufCreate, size) == 16);
inline constexpr uint32_t kUdmabufFlagsCloexec = 0x01;
inline constexpr unsigned long kUdmabufCreate = _IOW('u', 0x42, UdmabufCreate);
static_assert(kUdmabufCreate == 0x40187542UL);

struct DmaBufSync {  // struct dma_buf_sync, include/uapi/linux/dma-buf.h
  uint64_t flags;
};
static_assert(sizeof(DmaBufSync) == 8);
inline constexpr unsigned long kDmaBufIoctlSync = _IOW('b', 0, DmaBufSync);
static_assert(kDmaBufIoctlSync == 0x40086200UL);
inline constexpr uint64_t kDmaBufSyncRead = 1;
inline constexpr uint64_t kDmaBufSyncWrite = 2;
inline constexpr uint64_t kDmaBufSyncStart = 0;
inline constexpr uint64_t kDmaBufSyncEnd = 4;

struct DmaHeapAllocationData {  // struct dma_heap_allocation_data, linux/dma-heap.h
  uint64_t len;
  uint32_t fd;
  uint32_t fd_flags;
  uint64_t heap_flags;
};
static_assert(sizeof(DmaHeapAllocationData) == 24);
static_assert(offsetof(DmaHeapAllocationData, fd) == 8 && offsetof(DmaHeapAllocationData, heap_flags) == 16);
inline constexpr unsigned long kDmaHeapIoctlAlloc = _IOWR('H', 0x0, DmaHeapAllocationData);
static_assert(kDmaHeapIoctlAlloc == 0xc0184800UL);

// ---- DRM: dumb buffers and PRIME export (include/uapi/drm/drm{,_mode}.h) -----
// Debian's 6.1 headers carry these only in libdrm-dev, which a build host may
// lack, so they are restated here.
namespace drm {
struct Version {  // struct drm_version
  int32_t version_major;
  int32_t version_minor;
  int32_t version_patchlevel;
  uint64_t name_len;  // __kernel_size_t
  uint64_t name;      // char __user *
  uint64_t date_len;
  uint64_t date;
  uint64_t desc_len;
  uint64_t desc;
};
static_assert(sizeof(void*) == 8, "struct drm_version below is the 64-bit layout");
static_assert(sizeof(Version) == 64 && offsetof(Version, name_len) == 16 && offsetof(Version, desc) == 56);
struct GetCap {  // struct drm_get_cap
  uint64_t capability;
  uint64_t value;
};
static_assert(sizeof(GetCap) == 16);
struct GemClose {  // struct drm_gem_close
  uint32_t handle;
  uint32_t pad;
};
static_assert(sizeof(GemClose) == 8);
struct PrimeHandle {  // struct drm_prime_handle
  uint32_t handle;
  uint32_t flags;
  int32_t fd;
};
static_assert(sizeof(PrimeHandle) == 12 && offsetof(PrimeHandle, fd) == 8);
struct ModeCreateDumb {  // struct drm_mode_create_dumb
  uint32_t height;
  uint32_t width;
  uint32_t bpp;
  uint32_t flags;
  uint32_t handle;  // out
  uint32_t pitch;   // out
  uint64_t size;    // out
};
static_assert(sizeof(ModeCreateDumb) == 32 && offsetof(ModeCreateDumb, handle) == 16 &&
              offsetof(ModeCreateDumb, size) == 24);
inline constexpr unsigned long kIoctlVersion = _IOWR('d', 0x00, Version);
inline constexpr unsigned long kIoctlGemClose = _IOW('d', 0x09, GemClose);
inline constexpr unsigned long kIoctlGetCap = _IOWR('d', 0x0c, GetCap);
inline constexpr unsigned long kIoctlPrimeHandleToFd = _IOWR('d', 0x2d, PrimeHandle);
inline constexpr unsigned long kIoctlModeCreateDumb = _IOWR('d', 0xb2, ModeCreateDumb);
static_assert(kIoctlVersion == 0xc0406400UL && kIoctlGemClose == 0x40086409UL);
static_assert(kIoctlGetCap == 0xc010640cUL && kIoctlPrimeHandleToFd == 0xc00c642dUL);
static_assert(kIoctlModeCreateDumb == 0xc02064b2UL);
inline constexpr uint64_t kCapDumbBuffer = 0x1;   // DRM_CAP_DUMB_BUFFER
inline constexpr uint64_t kCapPrime = 0x5;        // DRM_CAP_PRIME
inline constexpr uint64_t kPrimeCapExport = 0x2;  // DRM_PRIME_CAP_EXPORT
inline constexpr uint32_t kCloexec = 02000000;    // DRM_CLOEXEC: O_CLOEXEC
inline constexpr uint32_t kRdwr = 02;             // DRM_RDWR: O_RDWR
inline constexpr unsigned kCharMajor = 226;       // DRM_MAJOR
}  // namespace drm

}  // namespace devmem::uapi

#endif  // DEVMEM_TCP_UAPI_H_

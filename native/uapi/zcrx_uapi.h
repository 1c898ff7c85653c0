// SPDX-License-Identifier: MIT
//
// The io_uring zero-copy receive (zcrx) ABI, beside devmem_uapi.h and for the
// same reason: the build hosts' uapi headers (6.1) and liburing (2.9) predate
// most of it. Layouts are those of include/uapi/linux/io_uring.h,
// io_uring/zcrx.h and io_uring/query.h in Linux 7.3, pinned with
// static_asserts; where a field appeared later than zcrx itself (6.15) the
// comment says when, and the code detects it at run time.
#ifndef DEVMEM_TCP_UAPI_ZCRX_UAPI_H_
#define DEVMEM_TCP_UAPI_ZCRX_UAPI_H_

#include <cstddef>
#include <cstdint>

namespace devmem::uapi {

// ---- ring set-up flags (io_uring_params.flags) -------------------------------
inline constexpr uint32_t kIoringSetupCqe32 = 1u << 11;
inline constexpr uint32_t kIoringSetupSingleIssuer = 1u << 12;
inline constexpr uint32_t kIoringSetupDeferTaskrun = 1u << 13;

// ---- opcodes -------------------------------------------------------------------
inline constexpr uint8_t kIoringOpAsyncCancel = 14;
inline constexpr uint8_t kIoringOpRecvZc = 58;  // 6.15
inline constexpr unsigned kIoringRegisterZcrxIfq = 32;
inline constexpr unsigned kIoringRegisterQuery = 35;     // 6.18
inline constexpr unsigned kIoringRegisterZcrxCtrl = 36;  // 6.19

// ---- sqe / cqe flags -------------------------------------------------------------
inline constexpr uint16_t kIoringRecvMultishot = 1u << 1;  // sqe->ioprio
inline constexpr uint32_t kIoringCqeFMore = 1u << 1;
inline constexpr uint32_t kIoringAsyncCancelUserdata = 1u << 4;  // sqe->cancel_flags (the default key)
// Offset of sqe->file_index, which RECV_ZC reads as zcrx_ifq_idx.
inline constexpr size_t kSqeZcrxIfqIdxOffset = 44;

// ---- refill ring and completions -------------------------------------------------
struct ZcrxRqe {  // struct io_uring_zcrx_rqe
  uint64_t off;   // area token | offset in the area
  uint32_t len;
  uint32_t pad;
};
static_assert(sizeof(ZcrxRqe) == 16);

struct ZcrxCqe {  // struct io_uring_zcrx_cqe: the second half of a 32-byte CQE
  uint64_t off;
  uint64_t pad;
};
static_assert(sizeof(ZcrxCqe) == 16);

// The area id lives above bit 48 of every offset the kernel hands out or takes back.
inline constexpr unsigned kZcrxAreaShift = 48;
inline constexpr uint64_t kZcrxAreaMask = ~((uint64_t{1} << kZcrxAreaShift) - 1);

struct ZcrxOffsets {  // struct io_uring_zcrx_offsets
  uint32_t head;
  uint32_t tail;
  uint32_t rqes;
  uint32_t resv2;
  uint64_t resv[2];
};
static_assert(sizeof(ZcrxOffsets) == 32);

inline constexpr uint32_t kZcrxAreaDmabuf = 1;  // 6.16

struct ZcrxAreaReg {  // struct io_uring_zcrx_area_reg
  uint64_t addr;
  uint64_t len;
  uint64_t rq_area_token;  // out
  uint32_t flags;
  uint32_t dmabuf_fd;
  uint64_t resv2[2];
};
static_assert(sizeof(ZcrxAreaReg) == 48);
static_assert(offsetof(ZcrxAreaReg, dmabuf_fd) == 28);

// Events and copy statistics (7.2).
inline constexpr uint32_t kZcrxEventAllocFail = 0;
inline constexpr uint32_t kZcrxEventCopy = 1;
inline constexpr uint32_t kZcrxEventDescFlagStats = 1;

struct ZcrxEventDesc {  // struct zcrx_event_desc
  uint64_t user_data;   // of the NOP CQE that reports an event (res = the event type)
  uint32_t type_mask;   // 1 << kZcrxEvent*
  uint32_t flags;
  uint64_t stats_offset;  // into the refill ring's region, for ZcrxStats
  uint64_t resv2[9];
};
static_assert(sizeof(ZcrxEventDesc) == 96);
static_assert(offsetof(ZcrxEventDesc, stats_offset) == 16);

struct ZcrxStats {      // struct zcrx_stats, written by the kernel
  uint64_t copy_count;  // copy-fallback fragments
  uint64_t copy_bytes;
};
static_assert(sizeof(ZcrxStats) == 16);

struct ZcrxIfqReg {  // struct io_uring_zcrx_ifq_reg
  uint32_t if_idx;
  uint32_t if_rxq;
  uint32_t rq_entries;
  uint32_t flags;
  uint64_t area_ptr;    // ZcrxAreaReg*
  uint64_t region_ptr;  // RegionDesc*
  ZcrxOffsets offsets;  // out
  uint32_t zcrx_id;     // out
  uint32_t rx_buf_len;  // in (0 = the page size) and out; honoured from 6.19
  uint64_t event_desc;  // ZcrxEventDesc*, 7.2 (reserved, so 0, before)
  uint64_t resv[2];
};
static_assert(sizeof(ZcrxIfqReg) == 96);
static_assert(offsetof(ZcrxIfqReg, offsets) == 32);
static_assert(offsetof(ZcrxIfqReg, zcrx_id) == 64);
static_assert(offsetof(ZcrxIfqReg, event_desc) == 72);

inline constexpr uint32_t kZcrxCtrlArmEvent = 2;

struct ZcrxCtrl {  // struct zcrx_ctrl with its zc_arm_event member
  uint32_t zcrx_id;
  uint32_t op;
  uint64_t resv[2];
  uint32_t event_type;  // zc_arm_event.event_type
  uint32_t union_resv[11];
};
static_assert(sizeof(ZcrxCtrl) == 72);

inline constexpr uint32_t kIoringMemRegionTypeUser = 1;

struct RegionDesc {  // struct io_uring_region_desc
  uint64_t user_addr;
  uint64_t size;
  uint32_t flags;
  uint32_t id;
  uint64_t mmap_offset;
  uint64_t resv[4];
};
static_assert(sizeof(RegionDesc) == 64);

// ---- IORING_REGISTER_QUERY (6.18), which needs no ring (fd -1) --------------------
inline constexpr uint32_t kIoUringQueryZcrx = 1;
inline constexpr uint32_t kIoUringQueryZcrxEvent = 3;
inline constexpr uint32_t kZcrxFeatureRxPageSize = 1u << 0;
inline constexpr uint32_t kZcrxFeatureEvent = 1u << 1;

struct QueryHdr {  // struct io_uring_query_hdr
  uint64_t next_entry;
  uint64_t query_data;
  uint32_t query_op;
  uint32_t size;
  int32_t result;
  uint32_t resv[3];
};
static_assert(sizeof(QueryHdr) == 40);

struct QueryZcrx {  // struct io_uring_query_zcrx
  uint64_t register_flags;
  uint64_t area_flags;
  uint32_t nr_ctrl_opcodes;
  uint32_t features;
  uint32_t rq_hdr_size;
  uint32_t rq_hdr_alignment;
  uint64_t resv2;
};
static_assert(sizeof(QueryZcrx) == 40);
static_assert(offsetof(QueryZcrx, features) == 20);

// The kernel's refill-ring limit (IO_RQ_MAX_ENTRIES in io_uring/zcrx.c).
inline constexpr uint32_t kZcrxMaxRqEntries = 32768;

}  // namespace devmem::uapi

#endif  // DEVMEM_TCP_UAPI_ZCRX_UAPI_H_

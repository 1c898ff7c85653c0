// SPDX-License-Identifier: MIT
//
// The C reference for io_uring zero-copy receive (zcrx) in `devmem bench`:
// the loop a C program would use to receive one connection through a zcrx
// queue, beside devmem_bench.c's recvmsg(MSG_SOCK_DEVMEM) loop. Written from
// the kernel ABI (Linux 7.3's include/uapi/linux/io_uring.h, as vendored in
// native/uapi/zcrx_uapi.h); the constants and structs it needs are copied
// below under names of its own, since the build hosts' uapi headers (6.1)
// and liburing 2.9 predate zcrx. liburing (linked statically) only sets up
// the ring and fills SQEs; every io_uring_enter is one call the loop makes
// and counts.
//
//   recv --ifname IF --queue Q [--port P] [--host H] [--area-mib N] [--rq-entries N]
//        [--verify] [--chunk N] [--perf-ctl FIFO --perf-ack FIFO]
//        Registers queue Q of IF for zcrx with a host-memory area of N MiB
//        (default 16) and a refill ring of --rq-entries entries (default:
//        one per 4 KiB buffer of the area), listens, accepts one connection
//        and receives it with one multishot IORING_OP_RECV_ZC: every data
//        completion is checked against the area (its area token, its bounds)
//        and its buffer goes back on the refill ring at once; the ring's tail
//        is published once per io_uring_enter. The payload itself is not
//        read (as the devmem loops do not read theirs), except with
//        --verify, which checks every byte against devmem_bench send's
//        pattern (byte i of each --chunk bytes, default 1 MiB, is i * 7).
//        The flow must be steered to queue Q (an n-tuple rule): bytes that
//        land elsewhere are copied by the kernel, and counted as such in
//        copy stats the loop does not ask for, so steer it.
//
//        --perf-ctl/--perf-ack: the control and ack FIFOs of a `perf stat
//        -D -1 --control fifo:CTL,ACK` that runs this program: counting is
//        enabled after accept and disabled at the end of the stream, the
//        same window as the timings.
//
// Prints "port N" once listening, then one JSON line of results, as
// devmem_bench recv does: bytes, seconds, cpuSeconds, userSeconds (from
// accept to end of stream), fragments (data completions), enterCalls
// (io_uring_enter calls in that window), syscalls (every syscall the loop
// made in it: the same), refills (buffers put back), rearms (multishot
// receives armed again), maxBatch (most completions reaped after one
// enter), mismatches (with --verify).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "zcrx_bench"
#include "bench_common.h"

// ---- the zcrx ABI (Linux 7.3), under our own names ---------------------------------

#define ZC_SETUP_CQE32 (1u << 11)
#define ZC_SETUP_SINGLE_ISSUER (1u << 12)
#define ZC_SETUP_DEFER_TASKRUN (1u << 13)
#define ZC_SETUP_CQSIZE (1u << 3)
#define ZC_OP_RECV_ZC 58             // IORING_OP_RECV_ZC (6.15)
#define ZC_REGISTER_ZCRX_IFQ 32      // IORING_REGISTER_ZCRX_IFQ
#define ZC_RECV_MULTISHOT (1u << 1)  // sqe->ioprio
#define ZC_CQE_F_MORE (1u << 1)
#define ZC_AREA_SHIFT 48
#define ZC_AREA_MASK (~((UINT64_C(1) << ZC_AREA_SHIFT) - 1))
#define ZC_MEM_REGION_TYPE_USER 1
#define ZC_MAX_RQ_ENTRIES 32768

struct zc_rqe {  // struct io_uring_zcrx_rqe
  uint64_t off;  // area token | offset in the area
  uint32_t len;
  uint32_t pad;
};

struct zc_cqe {  // struct io_uring_zcrx_cqe: the second half of a 32-byte CQE
  uint64_t off;  // area id << 48 | offset in the area
  uint64_t pad;
};

struct zc_offsets {  // struct io_uring_zcrx_offsets
  uint32_t head;
  uint32_t tail;
  uint32_t rqes;
  uint32_t resv2;
  uint64_t resv[2];
};

struct zc_area_reg {  // struct io_uring_zcrx_area_reg
  uint64_t addr;
  uint64_t len;
  uint64_t rq_area_token;  // out
  uint32_t flags;          // 0: host memory
  uint32_t dmabuf_fd;
  uint64_t resv2[2];
};

struct zc_region_desc {  // struct io_uring_region_desc
  uint64_t user_addr;
  uint64_t size;
  uint32_t flags;
  uint32_t id;
  uint64_t mmap_offset;
  uint64_t resv[4];
};

struct zc_ifq_reg {  // struct io_uring_zcrx_ifq_reg
  uint32_t if_idx;
  uint32_t if_rxq;
  uint32_t rq_entries;
  uint32_t flags;
  uint64_t area_ptr;          // struct zc_area_reg *
  uint64_t region_ptr;        // struct zc_region_desc *
  struct zc_offsets offsets;  // out
  uint32_t zcrx_id;           // out
  uint32_t rx_buf_len;        // in (0: the page size) and out
  uint64_t event_desc;        // 0: no events
  uint64_t resv[2];
};

_Static_assert(sizeof(struct zc_rqe) == 16, "io_uring_zcrx_rqe");
_Static_assert(sizeof(struct zc_cqe) == 16, "io_uring_zcrx_cqe");
_Static_assert(sizeof(struct zc_offsets) == 32, "io_uring_zcrx_offsets");
_Static_assert(sizeof(struct zc_area_reg) == 48, "io_uring_zcrx_area_reg");
_Static_assert(offsetof(struct zc_area_reg, dmabuf_fd) == 28, "io_uring_zcrx_area_reg.dmabuf_fd");
_Static_assert(sizeof(struct zc_region_desc) == 64, "io_uring_region_desc");
_Static_assert(sizeof(struct zc_ifq_reg) == 96, "io_uring_zcrx_ifq_reg");
_Static_assert(offsetof(struct zc_ifq_reg, offsets) == 32, "io_uring_zcrx_ifq_reg.offsets");
_Static_assert(offsetof(struct zc_ifq_reg, zcrx_id) == 64, "io_uring_zcrx_ifq_reg.zcrx_id");
_Static_assert(offsetof(struct zc_ifq_reg, event_desc) == 72, "io_uring_zcrx_ifq_reg.event_desc");
// RECV_ZC reads the zcrx id from the field liburing 2.9 calls file_index.
_Static_assert(offsetof(struct io_uring_sqe, file_index) == 44, "sqe->zcrx_ifq_idx");
_Static_assert(ZC_SETUP_CQE32 == IORING_SETUP_CQE32 && ZC_SETUP_SINGLE_ISSUER == IORING_SETUP_SINGLE_ISSUER &&
                   ZC_SETUP_DEFER_TASKRUN == IORING_SETUP_DEFER_TASKRUN && ZC_SETUP_CQSIZE == IORING_SETUP_CQSIZE &&
                   ZC_CQE_F_MORE == IORING_CQE_F_MORE && ZC_RECV_MULTISHOT == IORING_RECV_MULTISHOT,
               "liburing's flags");

#define RECV_TAG 1

// ---- helpers (as in devmem_bench.c) ---------------------------------------------

static int flag(int argc, char** argv, const char* name) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static void die_rc(const char* what, int negerr) {
  errno = -negerr;
  die(what);
}

// ---- recv -----------------------------------------------------------------------------

struct refill {
  uint32_t* khead;  // the kernel's head
  uint32_t* ktail;  // ours, published with a store-release
  struct zc_rqe* rqes;
  uint32_t entries, tail;
  uint64_t token;
  // Returns that found the ring full wait here (only if the kernel holds
  // more user references than the ring has entries: it never should).
  struct zc_rqe* backlog;
  size_t nbacklog, capbacklog;
  uint64_t count;
};

static void refill_put(struct refill* r, uint64_t off, uint32_t len) {
  uint32_t head = __atomic_load_n(r->khead, __ATOMIC_ACQUIRE);
  if (r->nbacklog == 0 && r->tail - head < r->entries) {
    struct zc_rqe* e = &r->rqes[r->tail & (r->entries - 1)];
    e->off = r->token | off;
    e->len = len;
    e->pad = 0;
    r->tail++;
  } else {
    if (r->nbacklog == r->capbacklog) {
      r->capbacklog = r->capbacklog ? 2 * r->capbacklog : 256;
      r->backlog = realloc(r->backlog, r->capbacklog * sizeof(*r->backlog));
      if (!r->backlog) die("realloc");
    }
    r->backlog[r->nbacklog++] = (struct zc_rqe){r->token | off, len, 0};
  }
  r->count++;
}

static void refill_publish(struct refill* r) {
  if (r->nbacklog) {
    uint32_t head = __atomic_load_n(r->khead, __ATOMIC_ACQUIRE);
    size_t i = 0;
    for (; i < r->nbacklog && r->tail - head < r->entries; i++) r->rqes[r->tail++ & (r->entries - 1)] = r->backlog[i];
    memmove(r->backlog, r->backlog + i, (r->nbacklog - i) * sizeof(*r->backlog));
    r->nbacklog -= i;
  }
  __atomic_store_n(r->ktail, r->tail, __ATOMIC_RELEASE);
}

static void arm_recv(struct io_uring* ring, int fd, uint32_t zcrx_id) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (!sqe) {
    fprintf(stderr, "zcrx_bench: the submission queue is full\n");
    exit(1);
  }
  io_uring_prep_rw(ZC_OP_RECV_ZC, sqe, fd, NULL, 0, 0);
  sqe->ioprio |= ZC_RECV_MULTISHOT;
  sqe->file_index = zcrx_id;
  io_uring_sqe_set_data64(sqe, RECV_TAG);
}

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static int do_recv(int argc, char** argv) {
  const char* host = opt(argc, argv, "--host", "0.0.0.0");
  int port = atoi(opt(argc, argv, "--port", "0"));
  const char* ifname = opt(argc, argv, "--ifname", NULL);
  int queue = atoi(opt(argc, argv, "--queue", "-1"));
  size_t area_size = (size_t)strtoull(opt(argc, argv, "--area-mib", "16"), NULL, 0) << 20;
  uint32_t rq_entries = (uint32_t)strtoul(opt(argc, argv, "--rq-entries", "0"), NULL, 0);
  int verify = flag(argc, argv, "--verify");
  uint64_t chunk = strtoull(opt(argc, argv, "--chunk", "1048576"), NULL, 0);
  if (!ifname || queue < 0 || area_size == 0 || chunk == 0) {
    fprintf(stderr,
            "usage: zcrx_bench recv --ifname IF --queue Q [--port P] [--host H] [--area-mib N] [--rq-entries N] "
            "[--verify]\n");
    return 2;
  }
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (rq_entries == 0) {
    rq_entries = 1;
    while (rq_entries < area_size / page && rq_entries < ZC_MAX_RQ_ENTRIES) rq_entries *= 2;
  }
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) die("if_nametoindex");
  perf_open(argc, argv);

  // The ring: 32-byte CQEs carry the area offsets; DEFER_TASKRUN runs the
  // receive work in this thread's io_uring_enter. CQ room for a burst of
  // completions (one per buffer), as the addon sizes it.
  struct io_uring ring;
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  p.flags = ZC_SETUP_SINGLE_ISSUER | ZC_SETUP_DEFER_TASKRUN | ZC_SETUP_CQE32 | ZC_SETUP_CQSIZE;
  p.cq_entries = 2 * rq_entries < 4096 ? 4096 : 2 * rq_entries > 65536 ? 65536 : 2 * rq_entries;
  int rc = io_uring_queue_init_params(64, &ring, &p);
  if (rc < 0) die_rc("io_uring_queue_init_params", rc);

  uint8_t* area = mmap(NULL, area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) die("mmap(area)");
  // The refill ring's header (head, tail) and its entries, in memory of ours.
  size_t region_size = round_up(page + (size_t)rq_entries * sizeof(struct zc_rqe), page);
  uint8_t* region = mmap(NULL, region_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (region == MAP_FAILED) die("mmap(region)");

  struct zc_area_reg area_reg;
  memset(&area_reg, 0, sizeof(area_reg));
  area_reg.addr = (uintptr_t)area;
  area_reg.len = area_size;
  struct zc_region_desc rd;
  memset(&rd, 0, sizeof(rd));
  rd.user_addr = (uintptr_t)region;
  rd.size = region_size;
  rd.flags = ZC_MEM_REGION_TYPE_USER;
  struct zc_ifq_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.if_idx = ifindex;
  reg.if_rxq = (uint32_t)queue;
  reg.rq_entries = rq_entries;
  reg.area_ptr = (uintptr_t)&area_reg;
  reg.region_ptr = (uintptr_t)&rd;
  rc = io_uring_register((unsigned)ring.ring_fd, ZC_REGISTER_ZCRX_IFQ, &reg, 1);
  if (rc < 0) die_rc("io_uring_register(ZCRX_IFQ)", rc);
  const uint32_t rx_buf_len = reg.rx_buf_len ? reg.rx_buf_len : (uint32_t)page;
  struct refill rf;
  memset(&rf, 0, sizeof(rf));
  rf.khead = (uint32_t*)(region + reg.offsets.head);
  rf.ktail = (uint32_t*)(region + reg.offsets.tail);
  rf.rqes = (struct zc_rqe*)(region + reg.offsets.rqes);
  rf.entries = reg.rq_entries;
  rf.token = area_reg.rq_area_token;

  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("inet_pton");
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  if (ls < 0) die("socket");
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(ls, (struct sockaddr*)&a, sizeof(a)) < 0 || listen(ls, 1) < 0) die("listen");
  socklen_t alen = sizeof(a);
  getsockname(ls, (struct sockaddr*)&a, &alen);
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  int fd = accept(ls, NULL, NULL);
  if (fd < 0) die("accept");
  close(ls);

  perf_cmd("enable\n");
  uint64_t bytes = 0, frags = 0, enters = 0, rearms = 0, mismatches = 0, max_batch = 0;
  double t0 = now_s(), c0, u0;
  cpu_times(&c0, &u0);
  arm_recv(&ring, fd, reg.zcrx_id);
  int done = 0;
  while (!done) {
    // Submits what is queued (the receive, once) and waits for a completion;
    // with DEFER_TASKRUN this call is where the kernel does the receive work.
    rc = io_uring_submit_and_wait(&ring, 1);
    enters++;
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) die_rc("io_uring_enter", rc);
    struct io_uring_cqe* cqe;
    unsigned head, n = 0;
    int rearm = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      n++;
      if (cqe->user_data != RECV_TAG) continue;
      int more = (cqe->flags & ZC_CQE_F_MORE) != 0;
      if (cqe->res > 0) {
        const struct zc_cqe* z = (const struct zc_cqe*)(cqe + 1);
        uint64_t off = z->off & ~ZC_AREA_MASK;
        uint32_t len = (uint32_t)cqe->res;
        if ((z->off & ZC_AREA_MASK) != rf.token || off + len > area_size || off % rx_buf_len + len > rx_buf_len) {
          fprintf(stderr,
                  "zcrx_bench: completion outside the area: off 0x%llx len %u (area token 0x%llx, %zu bytes, buffers "
                  "of %u)\n",
                  (unsigned long long)z->off, len, (unsigned long long)rf.token, area_size, rx_buf_len);
          return 1;
        }
        if (verify) {
          const uint8_t* d = area + off;
          for (uint32_t i = 0; i < len; i++)
            if (d[i] != (uint8_t)(((bytes + i) % chunk) * 7)) mismatches++;
        }
        bytes += len;
        frags++;
        refill_put(&rf, off, len);
        if (!more) rearm = 1;  // the multishot ended on a data completion: go on
      } else if (cqe->res == 0) {
        done = 1;  // end of stream
      } else if (!more && (cqe->res == -ENOSPC || cqe->res == -EAGAIN || cqe->res == -ENOMEM || cqe->res == -ENOBUFS)) {
        rearm = 1;  // out of CQ room or of free buffers: refill, then ask again
      } else {
        die_rc("IORING_OP_RECV_ZC", cqe->res);
      }
    }
    io_uring_cq_advance(&ring, n);
    if (n > max_batch) max_batch = n;
    refill_publish(&rf);
    if (rearm && !done) {
      arm_recv(&ring, fd, reg.zcrx_id);
      rearms++;
    }
  }
  double secs = now_s() - t0, c1, u1;
  cpu_times(&c1, &u1);
  perf_cmd("disable\n");
  print_result_head(bytes, secs, c1 - c0, u1 - u0, frags);
  printf(",\"enterCalls\":%llu,\"syscalls\":%llu,\"refills\":%llu,\"rearms\":%llu,\"maxBatch\":%llu,"
         "\"mismatches\":%llu,\"rxBufLen\":%u,\"rqEntries\":%u,\"areaBytes\":%zu}\n",
         (unsigned long long)enters, (unsigned long long)enters, (unsigned long long)rf.count, (unsigned long long)rearms,
         (unsigned long long)max_batch, (unsigned long long)mismatches, rx_buf_len, rf.entries, area_size);
  close(fd);
  io_uring_queue_exit(&ring);  // the kernel unregisters the queue shortly after
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: zcrx_bench recv [options]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(argv[1], "recv") == 0) return do_recv(argc, argv);
  fprintf(stderr, "zcrx_bench: unknown mode %s\n", argv[1]);
  return 2;
}

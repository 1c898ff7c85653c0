// SPDX-License-Identifier: MIT
//
// The C reference for `devmem bench`: the tightest loops a C program would
// use for the same jobs, built by the bench itself (cc -O2) so that every
// figure of ours is set beside C's in the same run.
//
//   send     --host H --port P --bytes N            loopback sender (shared by all receivers)
//   recv     --port P [--host H] [--release batched|each] [--expect-id N] [--rotate N]
//            recvmsg(MSG_SOCK_DEVMEM) loop; tokens returned per recvmsg with
//            coalesced ranges ("batched") or one call per fragment ("each", as ncdevmem).
//            --rotate N receives into N buffers in turn instead of one: the
//            cost of handing every read's bytes to a consumer that keeps them.
//            --perf-ctl FIFO --perf-ack FIFO: the control FIFOs of a `perf stat
//            -D -1 --control fifo:CTL,ACK` running this program, whose counting
//            is enabled after accept and disabled at the end of the stream
//   pipeline --fragments N [--per-recvmsg K] [--batch B]
//            the fragment pipeline without a kernel: copy a control area in,
//            parse it, coalesce and encode the DONTNEED ranges
//
// Receivers print "port N" once listening, then one JSON line of results.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "devmem_bench"
#include "bench_common.h"

#define MSG_SOCK_DEVMEM_FLAG 0x2000000
#define SCM_DMABUF 79
#define SCM_LINEAR 78
#define SO_DONTNEED 80
#define MAX_RANGES 128
#define MAX_FRAGS 1024

struct dmabuf_cmsg_abi {
  uint64_t frag_offset;
  uint32_t frag_size;
  uint32_t frag_token;
  uint32_t dmabuf_id;
  uint32_t flags;
};

struct token_range {
  uint32_t start;
  uint32_t count;
};

// ---- token release ------------------------------------------------------------

struct releaser {
  int fd;
  int simulate;  // count and encode only (pipeline), no syscall
  struct token_range ranges[MAX_RANGES];
  unsigned nranges, nfrags;
  uint64_t calls, freed, requested;
};

static void flush(struct releaser* r) {
  if (r->nranges == 0) return;
  r->calls++;
  r->requested += r->nfrags;
  if (r->simulate) {
    r->freed += r->nfrags;
  } else {
    int rc = setsockopt(r->fd, SOL_SOCKET, SO_DONTNEED, r->ranges, r->nranges * sizeof(r->ranges[0]));
    if (rc < 0) die("setsockopt(SO_DEVMEM_DONTNEED)");
    r->freed += (uint64_t)rc;
  }
  r->nranges = 0;
  r->nfrags = 0;
}

// Appends one token, extending the last range when it is the next value.
static void add_token(struct releaser* r, uint32_t token) {
  if (r->nranges > 0) {
    struct token_range* last = &r->ranges[r->nranges - 1];
    if (token == last->start + last->count && r->nfrags < MAX_FRAGS) {
      last->count++;
      r->nfrags++;
      if (r->nfrags == MAX_FRAGS) flush(r);
      return;
    }
  }
  if (r->nranges == MAX_RANGES || r->nfrags == MAX_FRAGS) flush(r);
  r->ranges[r->nranges].start = token;
  r->ranges[r->nranges].count = 1;
  r->nranges++;
  r->nfrags++;
}

// ---- send -------------------------------------------------------------------------

static int do_send(int argc, char** argv) {
  const char* host = opt(argc, argv, "--host", "127.0.0.1");
  int port = atoi(opt(argc, argv, "--port", "0"));
  uint64_t total = strtoull(opt(argc, argv, "--bytes", "0"), NULL, 0);
  size_t chunk = strtoull(opt(argc, argv, "--chunk", "1048576"), NULL, 0);
  char* buf = malloc(chunk);
  for (size_t i = 0; i < chunk; i++) buf[i] = (char)(i * 7);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("inet_pton");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr*)&a, sizeof(a)) < 0) die("connect");
  double t0 = now_s();
  uint64_t sent = 0;
  while (sent < total) {
    size_t want = total - sent < chunk ? total - sent : chunk;
    ssize_t n = send(fd, buf, want, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("send");
    }
    sent += (uint64_t)n;
  }
  shutdown(fd, SHUT_WR);
  char tmp[256];
  while (recv(fd, tmp, sizeof(tmp), 0) > 0) {
  }
  printf("{\"bytes\":%llu,\"seconds\":%.6f}\n", (unsigned long long)sent, now_s() - t0);
  return 0;
}

// ---- recv -------------------------------------------------------------------------

static int do_recv(int argc, char** argv) {
  const char* host = opt(argc, argv, "--host", "127.0.0.1");
  int port = atoi(opt(argc, argv, "--port", "0"));
  int each = strcmp(opt(argc, argv, "--release", "batched"), "each") == 0;
  uint32_t expect_id = (uint32_t)strtoul(opt(argc, argv, "--expect-id", "0"), NULL, 0);
  size_t iov_len = strtoull(opt(argc, argv, "--iov", "2097152"), NULL, 0);
  size_t ctrl_len = strtoull(opt(argc, argv, "--ctrl", "81920"), NULL, 0);
  unsigned rotate = (unsigned)strtoul(opt(argc, argv, "--rotate", "1"), NULL, 0);
  if (rotate == 0) rotate = 1;

  perf_open(argc, argv);

  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("inet_pton");
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ls < 0 || bind(ls, (struct sockaddr*)&a, sizeof(a)) < 0 || listen(ls, 1) < 0) die("listen");
  socklen_t alen = sizeof(a);
  getsockname(ls, (struct sockaddr*)&a, &alen);
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  int fd = accept(ls, NULL, NULL);
  if (fd < 0) die("accept");
  close(ls);

  char** bufs = malloc(rotate * sizeof(char*));
  for (unsigned i = 0; i < rotate; i++) bufs[i] = malloc(iov_len);
  char* ctrl = malloc(ctrl_len);
  struct releaser rel = {.fd = fd};
  uint64_t bytes = 0, frags = 0, recvmsgs = 0, host_bytes = 0, linear_bytes = 0;
  perf_cmd("enable\n");
  double t0 = now_s(), c0, u0;
  cpu_times(&c0, &u0);
  for (;;) {
    struct iovec iov = {bufs[recvmsgs % rotate], iov_len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = ctrl_len};
    ssize_t n = recvmsg(fd, &m, MSG_SOCK_DEVMEM_FLAG);
    recvmsgs++;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      die("recvmsg");
    }
    if (n == 0) break;
    bytes += (uint64_t)n;
    int devmem = 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || (c->cmsg_type != SCM_DMABUF && c->cmsg_type != SCM_LINEAR)) continue;
      struct dmabuf_cmsg_abi d;
      memcpy(&d, CMSG_DATA(c), sizeof(d));
      devmem = 1;
      if (c->cmsg_type == SCM_LINEAR) {
        linear_bytes += d.frag_size;
        continue;
      }
      frags++;
      if (expect_id && d.dmabuf_id != expect_id) {
        fprintf(stderr, "devmem_bench: fragment in dma-buf %u, expected %u\n", d.dmabuf_id, expect_id);
        return 1;
      }
      if (each) {
        struct token_range t = {d.frag_token, 1};
        int rc = setsockopt(fd, SOL_SOCKET, SO_DONTNEED, &t, sizeof(t));
        if (rc < 0) die("setsockopt(SO_DEVMEM_DONTNEED)");
        rel.calls++;
        rel.requested++;
        rel.freed += (uint64_t)rc;
      } else {
        add_token(&rel, d.frag_token);
      }
    }
    if (!devmem) host_bytes += (uint64_t)n;
    flush(&rel);
  }
  double secs = now_s() - t0, c1, u1;
  cpu_times(&c1, &u1);
  perf_cmd("disable\n");
  print_result_head(bytes, secs, c1 - c0, u1 - u0, frags);
  // syscalls: every call the loop made between accept and the end of the stream.
  printf(",\"recvmsgCalls\":%llu,\"hostBytes\":%llu,\"linearBytes\":%llu,\"dontneedCalls\":%llu,\"requested\":%llu,"
         "\"freed\":%llu,\"syscalls\":%llu}\n",
         (unsigned long long)recvmsgs, (unsigned long long)host_bytes, (unsigned long long)linear_bytes,
         (unsigned long long)rel.calls, (unsigned long long)rel.requested, (unsigned long long)rel.freed,
         (unsigned long long)(recvmsgs + rel.calls));
  close(fd);
  return 0;
}

// ---- pipeline -------------------------------------------------------------------

static int do_pipeline(int argc, char** argv) {
  uint64_t total = strtoull(opt(argc, argv, "--fragments", "100000000"), NULL, 0);
  unsigned per = (unsigned)strtoul(opt(argc, argv, "--per-recvmsg", "2048"), NULL, 0);
  unsigned batch = (unsigned)strtoul(opt(argc, argv, "--batch", "4096"), NULL, 0);
  size_t space = CMSG_SPACE(sizeof(struct dmabuf_cmsg_abi));
  // Two recorded control areas with distinct consecutive tokens, as the
  // replay source in the JS pipeline uses.
  unsigned nrec = (batch + per - 1) / per;
  char** recs = malloc(nrec * sizeof(char*));
  for (unsigned r = 0; r < nrec; r++) {
    recs[r] = calloc(per, space);
    for (unsigned i = 0; i < per; i++) {
      struct cmsghdr* c = (struct cmsghdr*)(recs[r] + i * space);
      c->cmsg_len = CMSG_LEN(sizeof(struct dmabuf_cmsg_abi));
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_DMABUF;
      struct dmabuf_cmsg_abi d = {(uint64_t)(r * per + i) * 4096, 4096, r * per + i + 1, 1, 0};
      memcpy(CMSG_DATA(c), &d, sizeof(d));
    }
  }
  char* ctrl = malloc(per * space);
  double* offsets = malloc(batch * sizeof(double));
  uint32_t* sizes = malloc(batch * 4);
  uint32_t* tokens = malloc(batch * 4);
  uint32_t* ids = malloc(batch * 4);
  struct releaser rel = {.simulate = 1};
  uint64_t done = 0, next = 0;
  double t0 = now_s(), c0, u0;
  cpu_times(&c0, &u0);
  while (done < total) {
    unsigned n = 0;
    while (n + per <= batch) {
      memcpy(ctrl, recs[next++ % nrec], per * space);
      struct msghdr m = {.msg_control = ctrl, .msg_controllen = per * space};
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_DMABUF) continue;
        struct dmabuf_cmsg_abi d;
        memcpy(&d, CMSG_DATA(c), sizeof(d));
        offsets[n] = (double)d.frag_offset;
        sizes[n] = d.frag_size;
        tokens[n] = d.frag_token;
        ids[n] = d.dmabuf_id;
        n++;
      }
    }
    for (unsigned i = 0; i < n; i++) add_token(&rel, tokens[i]);
    flush(&rel);
    done += n;
  }
  double secs = now_s() - t0, cpu, user;
  cpu_times(&cpu, &user);
  cpu -= c0;
  // Keep the columns observable so the compiler cannot drop the parse.
  volatile double sink = offsets[0] + sizes[0] + ids[0];
  (void)sink;
  printf("{\"fragments\":%llu,\"seconds\":%.6f,\"cpuSeconds\":%.6f,\"dontneedCalls\":%llu,\"freed\":%llu}\n",
         (unsigned long long)done, secs, cpu, (unsigned long long)rel.calls, (unsigned long long)rel.freed);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: devmem_bench send|recv|pipeline [options]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(argv[1], "send") == 0) return do_send(argc, argv);
  if (strcmp(argv[1], "recv") == 0) return do_recv(argc, argv);
  if (strcmp(argv[1], "pipeline") == 0) return do_pipeline(argc, argv);
  fprintf(stderr, "devmem_bench: unknown mode %s\n", argv[1]);
  return 2;
}

// SPDX-License-Identifier: MIT
//
// What the C reference receivers (devmem_bench.c, zcrx_bench.c) share: option
// lookup, dying with errno, the clocks, the head of the one-line JSON result,
// and perf stat's control FIFOs, through which the guest suite counts
// syscalls over exactly the timed window. Define
// BENCH_NAME (the program's name, for messages) before including it.
#ifndef DEVMEM_TCP_BENCH_COMMON_H_
#define DEVMEM_TCP_BENCH_COMMON_H_

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char* opt(int argc, char** argv, const char* name, const char* dflt) {
  for (int i = 0; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return dflt;
}

static void die(const char* what) {
  fprintf(stderr, BENCH_NAME ": %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// CPU seconds (user and system) and user seconds this process has used.
static void cpu_times(double* cpu, double* user) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *cpu = *user + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// Opens the result line with the fields the benchmark reads from every
// receiver (bench/guest.ts); the caller appends its own, then "}\n".
static void print_result_head(uint64_t bytes, double secs, double cpu, double user, uint64_t fragments) {
  printf("{\"bytes\":%llu,\"seconds\":%.6f,\"cpuSeconds\":%.6f,\"userSeconds\":%.6f,\"fragments\":%llu", (unsigned long long)bytes,
         secs, cpu, user, (unsigned long long)fragments);
}

static int perf_ctl = -1, perf_ack = -1;

// --perf-ctl FIFO --perf-ack FIFO: perf stat --control, started disabled.
static void perf_open(int argc, char** argv) {
  const char* ctl = opt(argc, argv, "--perf-ctl", NULL);
  const char* ack = opt(argc, argv, "--perf-ack", NULL);
  if (!ctl) return;
  if (!ack) {
    fprintf(stderr, BENCH_NAME ": --perf-ctl needs --perf-ack\n");
    exit(2);
  }
  // perf holds both FIFOs open read-write, so neither open blocks.
  perf_ctl = open(ctl, O_WRONLY | O_CLOEXEC);
  if (perf_ctl < 0) die("open(--perf-ctl)");
  perf_ack = open(ack, O_RDONLY | O_CLOEXEC);
  if (perf_ack < 0) die("open(--perf-ack)");
}

// Sends "enable\n" or "disable\n" and waits for perf's ack.
static void perf_cmd(const char* cmd) {
  if (perf_ctl < 0) return;
  if (write(perf_ctl, cmd, strlen(cmd)) < 0) die("write(--perf-ctl)");
  char buf[16];
  if (read(perf_ack, buf, sizeof(buf)) <= 0) die("read(--perf-ack)");
}

#endif  // DEVMEM_TCP_BENCH_COMMON_H_

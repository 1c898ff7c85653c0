// SPDX-License-Identifier: MIT
//
// What the GPU library TEST DOUBLES share: their knobs from the environment,
// the call log, and failure injection. A double defines DOUBLE_PREFIX (its
// variables' prefix, "CUDA_DOUBLE_" or "HSA_DOUBLE_") before including this.
#ifndef DEVMEM_TCP_TEST_GPU_DOUBLE_COMMON_H_
#define DEVMEM_TCP_TEST_GPU_DOUBLE_COMMON_H_

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// An integer knob, e.g. knob("DEVICES", 1) reads CUDA_DOUBLE_DEVICES.
static int knob(const char* name, int dflt) {
  char var[64];
  snprintf(var, sizeof(var), "%s%s", DOUBLE_PREFIX, name);
  const char* v = getenv(var);
  return v && *v ? (int)strtol(v, NULL, 0) : dflt;
}

// Appends one line to the file named by <prefix>LOG, if set.
static void logf_(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char* fmt, ...) {
  const char* path = getenv(DOUBLE_PREFIX "LOG");
  if (!path || !*path) return;
  FILE* f = fopen(path, "a");
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fclose(f);
}

// <prefix>FAIL=name:code makes entry point `name` return code.
static int injected(const char* name) {
  const char* v = getenv(DOUBLE_PREFIX "FAIL");
  if (!v) return 0;
  size_t n = strlen(name);
  if (strncmp(v, name, n) == 0 && v[n] == ':') return (int)strtol(v + n + 1, NULL, 0);
  return 0;
}

// First thing in an entry point: return the injected failure, if any.
#define ENTER(name)                     \
  do {                                  \
    int rc_ = injected(name);           \
    if (rc_) {                          \
      logf_("%s -> %d", name, rc_);     \
      return rc_;                       \
    }                                   \
  } while (0)

#endif  // DEVMEM_TCP_TEST_GPU_DOUBLE_COMMON_H_

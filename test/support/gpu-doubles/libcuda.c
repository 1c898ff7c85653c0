// SPDX-License-Identifier: MIT
//
// TEST DOUBLE of NVIDIA's libcuda.so.1: a stand-in for a third-party
// library, not for the kernel. It exports the few CUDA driver API entry
// points devmem-tcp calls, with the driver's own signatures and result codes,
// and backs "device memory" with a sealed memfd that it exports through the
// real kernel's /dev/udmabuf, so what it hands back is a real dma-buf that the
// kernel binds and receives into. The device pointer is the memfd's mapping
// in this process, which is how cuMemcpy is a memcpy here.
//
// It proves the addon's dlopen plumbing, call order, context handling,
// alignment, export flags, error mapping and cleanup. It cannot prove
// anything about NVIDIA's driver, a GPU, PCIe peer-to-peer or the IOMMU.
//
// Knobs (environment): CUDA_DOUBLE_DEVICES (default 1), CUDA_DOUBLE_DMABUF=0
// (attribute 124 reads 0), CUDA_DOUBLE_DRIVER_VERSION (default 12080),
// CUDA_DOUBLE_FAIL=symbol:code (that entry point returns code),
// CUDA_DOUBLE_MISALIGN=1 (cuMemAlloc returns a pointer 256 bytes into a page),
// CUDA_DOUBLE_FOREIGN_CTX=1 (pointers belong to a non-primary context),
// CUDA_DOUBLE_LOG=path (each call and its arguments, and at exit what is
// still allocated and retained).
#define _GNU_SOURCE
#define DOUBLE_PREFIX "CUDA_DOUBLE_"
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

typedef int CUresult;
typedef int CUdevice;
typedef void* CUcontext;
typedef unsigned long long CUdeviceptr;

#define MAX_DEVICES 8
#define MAX_ALLOCS 64

struct alloc {
  int used;
  int memfd;
  void* map;
  size_t map_len;
  CUdeviceptr ptr;  // what the caller got
  size_t size;      // what the caller asked for
  int device;
};

static struct alloc allocs[MAX_ALLOCS];
static int ctx_refs[MAX_DEVICES];
static char ctx_storage[MAX_DEVICES];
static char foreign_ctx;
static CUcontext current[16];
static int depth;
static int initialised;

static int devices(void) { return knob("DEVICES", 1); }

__attribute__((destructor)) static void report(void) {
  int live = 0, refs = 0;
  for (int i = 0; i < MAX_ALLOCS; i++) live += allocs[i].used;
  for (int i = 0; i < MAX_DEVICES; i++) refs += ctx_refs[i];
  logf_("exit allocations=%d contexts=%d", live, refs);
}

CUresult cuInit(unsigned int flags) {
  ENTER("cuInit");
  logf_("cuInit %u", flags);
  initialised = 1;
  return 0;
}

CUresult cuDriverGetVersion(int* v) {
  *v = knob("DRIVER_VERSION", 12080);
  return 0;
}

CUresult cuGetErrorName(CUresult e, const char** name) {
  switch (e) {
    case 0: *name = "CUDA_SUCCESS"; return 0;
    case 1: *name = "CUDA_ERROR_INVALID_VALUE"; return 0;
    case 2: *name = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
    case 3: *name = "CUDA_ERROR_NOT_INITIALIZED"; return 0;
    case 100: *name = "CUDA_ERROR_NO_DEVICE"; return 0;
    case 101: *name = "CUDA_ERROR_INVALID_DEVICE"; return 0;
    case 201: *name = "CUDA_ERROR_INVALID_CONTEXT"; return 0;
    case 801: *name = "CUDA_ERROR_NOT_SUPPORTED"; return 0;
    default: *name = NULL; return 1;
  }
}

CUresult cuDeviceGetCount(int* n) {
  if (!initialised) return 3;
  *n = devices();
  return 0;
}

CUresult cuDeviceGet(CUdevice* d, int ordinal) {
  ENTER("cuDeviceGet");
  if (!initialised) return 3;
  if (ordinal < 0 || ordinal >= devices()) return 101;
  *d = ordinal;
  return 0;
}

static void bus_id(int d, char* out, int len) { snprintf(out, (size_t)len, "0000:%02X:00.0", 0x1e + d); }

CUresult cuDeviceGetByPCIBusId(CUdevice* d, const char* id) {
  ENTER("cuDeviceGetByPCIBusId");
  if (!initialised) return 3;
  for (int i = 0; i < devices(); i++) {
    char mine[32];
    bus_id(i, mine, sizeof(mine));
    if (strcasecmp(mine, id) == 0) {
      *d = i;
      logf_("cuDeviceGetByPCIBusId %s -> %d", id, i);
      return 0;
    }
  }
  return 101;
}

CUresult cuDeviceGetPCIBusId(char* out, int len, CUdevice d) {
  if (d < 0 || d >= devices()) return 101;
  bus_id(d, out, len);
  return 0;
}

CUresult cuDeviceGetName(char* out, int len, CUdevice d) {
  if (d < 0 || d >= devices()) return 101;
  snprintf(out, (size_t)len, "devmem-tcp CUDA test double %d", d);
  return 0;
}

CUresult cuDeviceGetAttribute(int* v, int attr, CUdevice d) {
  ENTER("cuDeviceGetAttribute");
  if (d < 0 || d >= devices()) return 101;
  if (attr != 124) return 1;
  *v = knob("DMABUF", 1);
  logf_("cuDeviceGetAttribute 124 %d -> %d", d, *v);
  return 0;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice d) {
  ENTER("cuDevicePrimaryCtxRetain");
  if (d < 0 || d >= devices()) return 101;
  ctx_refs[d]++;
  *ctx = &ctx_storage[d];
  logf_("cuDevicePrimaryCtxRetain %d", d);
  return 0;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
  if (d < 0 || d >= devices() || ctx_refs[d] == 0) return 201;
  ctx_refs[d]--;
  logf_("cuDevicePrimaryCtxRelease %d", d);
  return 0;
}

static int ctx_device(CUcontext c) {
  for (int i = 0; i < MAX_DEVICES; i++)
    if (c == &ctx_storage[i]) return i;
  return -1;
}

CUresult cuCtxPushCurrent_v2(CUcontext c) {
  if (depth >= 16 || (c != &foreign_ctx && ctx_device(c) < 0)) return 201;
  current[depth++] = c;
  return 0;
}

CUresult cuCtxPopCurrent_v2(CUcontext* c) {
  if (depth == 0) return 201;
  *c = current[--depth];
  return 0;
}

CUresult cuCtxGetDevice(CUdevice* d) {
  if (depth == 0) return 201;
  int dev = current[depth - 1] == &foreign_ctx ? 0 : ctx_device(current[depth - 1]);
  *d = dev;
  return 0;
}

static struct alloc* find(CUdeviceptr p, size_t len) {
  for (int i = 0; i < MAX_ALLOCS; i++) {
    struct alloc* a = &allocs[i];
    if (a->used && p >= a->ptr && p + len <= a->ptr + a->size) return a;
  }
  return NULL;
}

CUresult cuMemAlloc_v2(CUdeviceptr* out, size_t size) {
  ENTER("cuMemAlloc");
  if (depth == 0) return 201;
  int misalign = knob("MISALIGN", 0) ? 256 : 0;
  struct alloc* a = NULL;
  for (int i = 0; i < MAX_ALLOCS && !a; i++)
    if (!allocs[i].used) a = &allocs[i];
  if (!a || size == 0) return 2;
  long page = sysconf(_SC_PAGESIZE);
  size_t len = (size + (size_t)misalign + (size_t)page - 1) / (size_t)page * (size_t)page;
  int fd = memfd_create("cuda-double", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd < 0) return 2;
  // udmabuf needs F_SEAL_SHRINK on its memfd.
  if (ftruncate(fd, (off_t)len) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    close(fd);
    return 2;
  }
  void* map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    close(fd);
    return 2;
  }
  *a = (struct alloc){1, fd, map, len, (CUdeviceptr)(uintptr_t)map + (CUdeviceptr)misalign, size, 0};
  *out = a->ptr;
  logf_("cuMemAlloc %zu -> %s", size, misalign ? "misaligned" : "aligned");
  return 0;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
  for (int i = 0; i < MAX_ALLOCS; i++) {
    struct alloc* a = &allocs[i];
    if (a->used && a->ptr == p) {
      munmap(a->map, a->map_len);
      close(a->memfd);
      a->used = 0;
      logf_("cuMemFree");
      return 0;
    }
  }
  return 1;
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr p) {
  struct alloc* a = find(p, 1);
  if (!a) return 1;
  if (base) *base = a->ptr;
  if (size) *size = a->size;
  return 0;
}

CUresult cuPointerGetAttribute(void* data, int attr, CUdeviceptr p) {
  if (attr != 1 || !find(p, 1)) return 1;
  *(CUcontext*)data = knob("FOREIGN_CTX", 0) ? (CUcontext)&foreign_ctx : (CUcontext)&ctx_storage[0];
  return 0;
}

CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
  ENTER("cuMemcpyDtoH");
  if (depth == 0) return 201;
  if (!find(src, n)) return 1;
  memcpy(dst, (const void*)(uintptr_t)src, n);
  return 0;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
  ENTER("cuMemcpyHtoD");
  if (depth == 0) return 201;
  if (!find(dst, n)) return 1;
  memcpy((void*)(uintptr_t)dst, src, n);
  return 0;
}

CUresult cuMemGetHandleForAddressRange(void* handle, CUdeviceptr p, size_t size, int type, unsigned long long flags) {
  ENTER("cuMemGetHandleForAddressRange");
  logf_("cuMemGetHandleForAddressRange %zu type %d flags %llu", size, type, flags);
  if (type != 1) return 1;
  if (flags != 0 && knob("DRIVER_VERSION", 12080) < 12080) return 1;
  long page = sysconf(_SC_PAGESIZE);
  if (p % (CUdeviceptr)page || size % (size_t)page) return 1;
  struct alloc* a = find(p, size);
  if (!a) return 1;
  int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  if (dev < 0) return 801;
  struct udmabuf_create c = {(uint32_t)a->memfd, UDMABUF_FLAGS_CLOEXEC, p - (CUdeviceptr)(uintptr_t)a->map, size};
  int fd = ioctl(dev, UDMABUF_CREATE, &c);
  close(dev);
  if (fd < 0) return 801;
  *(int*)handle = fd;
  return 0;
}

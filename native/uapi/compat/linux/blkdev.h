// SPDX-License-Identifier: MIT
//
// Only for liburing: its compat.h (2.9, as built by Debian against 6.x
// headers) includes <linux/blkdev.h>, which uapi headers older than 6.5 lack,
// for one constant used by a block-device prep helper this addon never calls.
// binding.gyp adds this directory with -idirafter, so a real header wins.
#ifndef DEVMEM_TCP_UAPI_COMPAT_LINUX_BLKDEV_H_
#define DEVMEM_TCP_UAPI_COMPAT_LINUX_BLKDEV_H_

#include <linux/ioctl.h>

#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)

#endif  // DEVMEM_TCP_UAPI_COMPAT_LINUX_BLKDEV_H_

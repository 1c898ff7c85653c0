#!/bin/bash
# build-netdevsim.sh CHROOT KERNEL_RELEASE PACKAGE_VERSION MIRROR MODULE_DIR...
#
# Builds out-of-tree kernel modules (netdevsim, stock and patched) against a Debian
# kernel from trixie-backports. Debian's kbuild tools for these kernels are linked
# against glibc >= 2.38, which bookworm lacks, so the build runs in a minimal trixie
# chroot created with debootstrap. Each MODULE_DIR is a path *inside* the chroot
# (e.g. /build/stock) holding a netdevsim source tree; netdevsim.ko is built in place.
#
# The chroot is created on first use and reused if it already has gcc-14. /proc must be
# mounted inside it (objtool reads /proc/self/limits); it is unmounted again on any
# exit, including errors and signals, so no mount is ever left behind.
set -euo pipefail

chroot_dir=$1 kernel_release=$2 package_version=$3 mirror=$4
shift 4

log() { echo "[build-netdevsim] $*"; }

proc_mounted=
cleanup() {
  if [ -n "$proc_mounted" ]; then
    umount "$chroot_dir/proc" 2>/dev/null || umount -l "$chroot_dir/proc" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -x "$chroot_dir/usr/bin/gcc-14" ]; then
  log "debootstrap trixie (minbase + gcc-14, make) into $chroot_dir"
  rm -rf "$chroot_dir"
  debootstrap --variant=minbase --include=gcc-14,make trixie "$chroot_dir" "$mirror" \
    > "$chroot_dir.debootstrap.log" 2>&1 || {
      tail -20 "$chroot_dir.debootstrap.log" >&2
      exit 1
    }
fi

mount -t proc proc "$chroot_dir/proc"
proc_mounted=1

headers=/usr/src/linux-headers-$kernel_release
if [ ! -e "$chroot_dir$headers/Makefile" ]; then
  log "install linux-headers-$kernel_release=$package_version in the chroot"
  printf 'deb %s trixie main\ndeb %s trixie-backports main\n' "$mirror" "$mirror" \
    > "$chroot_dir/etc/apt/sources.list"
  chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends \
       linux-headers-$kernel_release=$package_version" > "$chroot_dir.headers.log" 2>&1 || {
      tail -20 "$chroot_dir.headers.log" >&2
      exit 1
    }
fi

for dir in "$@"; do
  log "make M=$dir"
  # CONFIG_NETDEVSIM is not set in any Debian kernel config: enable it for this build only.
  chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    make -s -C "$headers" M="$dir" CONFIG_NETDEVSIM=m -j"$(nproc)" modules \
    > "$chroot_dir$dir/build.log" 2>&1 || {
      tail -40 "$chroot_dir$dir/build.log" >&2
      exit 1
    }
  test -f "$chroot_dir$dir/netdevsim.ko"
done

#!/bin/bash
# build-netdevsim.sh CHROOT KERNEL_RELEASE PACKAGE_VERSION MIRROR OUT_DIR SOURCE_DIR...
#
# Builds out-of-tree kernel modules (netdevsim, stock and patched) against a Debian
# kernel from trixie-backports. Debian's kbuild tools for these kernels are linked
# against glibc >= 2.38, which bookworm lacks, so the build runs in a minimal trixie
# chroot created with debootstrap. Each SOURCE_DIR (a netdevsim source tree on the host)
# is copied into the chroot and built there; the result, stripped of debug info, is
# written to OUT_DIR/<basename of SOURCE_DIR>/netdevsim.ko next to its build.log.
#
# The chroot is created on first use and reused if it already has gcc-14. /proc must be
# mounted inside it (objtool reads /proc/self/limits); it is unmounted again on any
# exit, including errors and signals, so no mount is ever left behind.
set -euo pipefail

chroot_dir=$1 kernel_release=$2 package_version=$3 mirror=$4 out_dir=$5
shift 5

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

# A previous run killed with SIGKILL cannot have cleaned up: do it now.
while mountpoint -q "$chroot_dir/proc" 2>/dev/null; do
  umount "$chroot_dir/proc" || umount -l "$chroot_dir/proc"
done

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

for src in "$@"; do
  name=$(basename "$src")
  dir=/build/$kernel_release/$name
  rm -rf "$chroot_dir$dir"
  mkdir -p "$chroot_dir$dir" "$out_dir/$name"
  cp -a "$src/." "$chroot_dir$dir/"
  log "make M=$dir"
  # CONFIG_NETDEVSIM is not set in any Debian kernel config: enable it for this build only.
  if ! chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      make -C "$headers" M="$dir" CONFIG_NETDEVSIM=m -j"$(nproc)" modules \
      > "$out_dir/$name/build.log" 2>&1; then
    tail -40 "$out_dir/$name/build.log" >&2
    exit 1
  fi
  # Debug info makes the module ~10 MB; the guest does not need it.
  chroot "$chroot_dir" strip --strip-debug "$dir/netdevsim.ko"
  cp "$chroot_dir$dir/netdevsim.ko" "$out_dir/$name/netdevsim.ko"
done

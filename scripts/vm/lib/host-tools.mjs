// @ts-check
// Debian packages the harness needs on the host (all from bookworm itself).
import { ensurePackages } from './apt.mjs';

// To boot and run the guest (the guest uses the host's node and iproute2 through 9p).
export const RUNTIME_PACKAGES = ['qemu-system-x86', 'busybox-static', 'cpio', 'gzip', 'iproute2'];
// To build the cache: trixie chroot, netdevsim source, patch, module decompression.
export const BUILD_PACKAGES = ['debootstrap', 'patch', 'xz-utils', 'zstd', 'tar'];

export async function ensureRuntimeTools() {
  await ensurePackages(RUNTIME_PACKAGES);
}

export async function ensureBuildTools() {
  await ensurePackages(BUILD_PACKAGES);
}

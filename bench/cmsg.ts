/**
 * Control areas laid out byte for byte as the kernel writes them for
 * recvmsg(MSG_SOCK_DEVMEM) on 64-bit Linux: per fragment a cmsghdr
 * { u64 cmsg_len = 40; i32 SOL_SOCKET; i32 SCM_DEVMEM_DMABUF } followed by
 * struct dmabuf_cmsg { u64 frag_offset; u32 frag_size, frag_token,
 * dmabuf_id, flags }: CMSG_SPACE(24) = 40 bytes.
 */
export const CMSG_SPACE_DMABUF = 40;
const SOL_SOCKET = 1;
const SCM_DEVMEM_DMABUF = 79;

export interface ControlSpec {
  fragments: number;
  fragmentSize: number;
  firstToken: number;
  dmabufId: number;
}

/** One recvmsg's control area: `fragments` DMABUF cmsgs with consecutive tokens and offsets. */
export function dmabufControl(s: ControlSpec): Uint8Array {
  const b = Buffer.alloc(s.fragments * CMSG_SPACE_DMABUF);
  for (let i = 0; i < s.fragments; i++) {
    const at = i * CMSG_SPACE_DMABUF;
    b.writeBigUInt64LE(40n, at);
    b.writeInt32LE(SOL_SOCKET, at + 8);
    b.writeInt32LE(SCM_DEVMEM_DMABUF, at + 12);
    b.writeBigUInt64LE(BigInt((s.firstToken - 1 + i) * s.fragmentSize), at + 16);
    b.writeUInt32LE(s.fragmentSize, at + 24);
    b.writeUInt32LE(s.firstToken + i, at + 28);
    b.writeUInt32LE(s.dmabufId, at + 32);
  }
  return b;
}

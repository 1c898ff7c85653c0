/**
 * Control buffers laid out as the kernel writes them for
 * recvmsg(MSG_SOCK_DEVMEM) on 64-bit Linux: cmsghdr { u64 len; i32 level;
 * i32 type } then struct dmabuf_cmsg { u64 frag_offset; u32 frag_size,
 * frag_token, dmabuf_id, flags }, each CMSG_SPACE(24) = 40 bytes.
 */
export const SOL_SOCKET = 1;
export const SCM_DEVMEM_LINEAR = 78;
export const SCM_DEVMEM_DMABUF = 79;
export const MSG_CTRUNC = 0x8;
export const CMSG_SPACE_DMABUF = 40;

export interface Frag {
  type: 'dmabuf' | 'linear';
  offset?: number;
  size: number;
  token?: number;
  id?: number;
}

export function cmsg(level: number, type: number, payload: Buffer): Buffer {
  const len = 16 + payload.length;
  const b = Buffer.alloc((len + 7) & ~7);
  b.writeBigUInt64LE(BigInt(len), 0);
  b.writeInt32LE(level, 8);
  b.writeInt32LE(type, 12);
  payload.copy(b, 16);
  return b;
}

export function dmabufCmsg(f: Frag): Buffer {
  const p = Buffer.alloc(24);
  p.writeBigUInt64LE(BigInt(f.offset ?? 0), 0);
  p.writeUInt32LE(f.size, 8);
  p.writeUInt32LE(f.token ?? 0, 12);
  p.writeUInt32LE(f.id ?? 0, 16);
  return cmsg(SOL_SOCKET, f.type === 'dmabuf' ? SCM_DEVMEM_DMABUF : SCM_DEVMEM_LINEAR, p);
}

export function control(frags: Frag[]): Buffer {
  return Buffer.concat(frags.map(dmabufCmsg));
}

/**
 * Builds netlink byte streams exactly as the uapi lays them out (little
 * endian, 4-byte alignment), to feed the native parser through its test
 * entry point.
 */
const align = (n: number) => (n + 3) & ~3;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_MULTI = 0x2;
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLA_F_NESTED = 0x8000;

export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc(align(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

export const u8 = (v: number) => Buffer.from([v]);
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
export function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}
export const str = (s: string) => Buffer.from(`${s}\0`);
export const nest = (type: number, ...children: Buffer[]) => attr(type | NLA_F_NESTED, Buffer.concat(children));

export function nlmsg(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const len = 16 + payload.length;
  const b = Buffer.alloc(align(len));
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(0, 12); // from the kernel
  payload.copy(b, 16);
  return b;
}

export function genl(cmd: number, ...attrs: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([cmd, 1, 0, 0]), ...attrs]);
}

/** NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK. */
export function nlerr(seq: number, errno: number, tlvs: Buffer[] = [], origLen = 40): Buffer {
  const err = Buffer.alloc(4);
  err.writeInt32LE(errno);
  const echoed = Buffer.alloc(16);
  echoed.writeUInt32LE(origLen, 0);
  echoed.writeUInt32LE(seq, 8);
  const flags = NLM_F_CAPPED | (tlvs.length ? NLM_F_ACK_TLVS : 0);
  return nlmsg(NLMSG_ERROR, flags, seq, Buffer.concat([err, echoed, ...tlvs]));
}

export function nldone(seq: number, errno = 0, tlvs: Buffer[] = []): Buffer {
  const err = Buffer.alloc(4);
  err.writeInt32LE(errno);
  return nlmsg(NLMSG_DONE, NLM_F_MULTI | (tlvs.length ? NLM_F_ACK_TLVS : 0), seq, Buffer.concat([err, ...tlvs]));
}

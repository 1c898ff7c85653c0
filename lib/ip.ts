/**
 * IP address text to bytes and back, for kernel structures that carry raw
 * addresses (n-tuple rules), and the host and port checks of sockets and
 * servers. Node validates addresses (net.isIP) but has no public parser that
 * yields bytes.
 */
import * as dns from 'node:dns/promises';
import * as net from 'node:net';

import { invalidArgument } from './errors';

/** 4 bytes for IPv4, 16 for IPv6, in network byte order. */
export function ipToBytes(text: string): Uint8Array {
  const family = net.isIP(text);
  if (family === 4) return Uint8Array.from(text.split('.').map(Number));
  if (family !== 6) throw invalidArgument(`${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
  let s = text.replace(/%.*$/, '');
  const out = new Uint8Array(16);
  // A trailing dotted quad fills the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: number[] = [];
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    tail = [(a << 8) | b, (c << 8) | d];
    s = s.slice(0, -dotted[1]!.length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const groups = (p: string | undefined) =>
    p
      ? p
          .split(':')
          .filter((g) => g !== '')
          .map((g) => parseInt(g, 16))
      : [];
  const left = groups(head);
  const right = [...groups(rest), ...tail];
  const words = rest === undefined ? [...left, ...tail] : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), else undefined. */
export function unmapIpv4(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length !== 16) return undefined;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return undefined;
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return undefined;
  return bytes.slice(12);
}

/** Canonical text (RFC 5952 style for IPv6) for 4 or 16 bytes. */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
  const words = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // The longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** Resolves a host name to an address (IP literals pass through). */
export async function resolveHost(host: string): Promise<string> {
  if (net.isIP(host)) return host;
  return (await dns.lookup(host)).address;
}

export function checkPort(port: unknown, name = 'port'): number {
  if (typeof port !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument(`${name} must be an integer in 0..65535, got ${port}`);
  return port;
}

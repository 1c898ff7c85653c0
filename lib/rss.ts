/**
 * The RSS indirection table, through the SIOCETHTOOL ioctl (every RSS-capable
 * driver has it; ethtool netlink RSS_SET only exists from 6.17). Keeping RSS
 * off the devmem queues is what stops unrelated flows from landing in the
 * dma-buf and failing with FLOW_STEERING.
 */
import { callSync, invalidArgument } from './errors';
import { interfaceNameSync, type InterfaceSpec } from './interfaces';
import { native } from './native';

/** The current table: entry i is the RX queue for flow-hash bucket i. */
export function getRssIndirection(iface: InterfaceSpec): Uint32Array {
  const ifname = interfaceNameSync(iface);
  return callSync('rss', `cannot read the RSS indirection table of ${ifname}`, () => native().ethtoolRssIndirection(ifname));
}

/** The number of RX rings RSS and flow rules may target. */
export function getRxRingCount(iface: InterfaceSpec): number {
  const ifname = interfaceNameSync(iface);
  return callSync('rss', `cannot read the RX ring count of ${ifname}`, () => native().ethtoolRxRings(ifname));
}

/** Writes a table, or with `null` returns to the driver's default spreading. */
export function setRssIndirection(iface: InterfaceSpec, table: Uint32Array | null): void {
  const ifname = interfaceNameSync(iface);
  if (table !== null && !(table instanceof Uint32Array)) throw new TypeError('an RSS table must be a Uint32Array or null');
  callSync('rss', `cannot set the RSS indirection table of ${ifname}`, () => native().ethtoolSetRssIndirection(ifname, table));
}

/** Spreads `size` buckets evenly over queues 0..queues-1 (what `ethtool -X equal N` does). */
export function equalIndirection(size: number, queues: number): Uint32Array {
  if (!Number.isInteger(queues) || queues < 1) throw invalidArgument(`RSS needs at least one queue, got ${queues}`);
  return Uint32Array.from({ length: size }, (_, i) => i % queues);
}

/** True when `table` is the kernel's default spreading over `rings` queues. */
export function isDefaultIndirection(table: Uint32Array, rings: number): boolean {
  return table.every((q, i) => q === i % rings);
}

/**
 * n-tuple flow-steering rules: send one TCP flow to a chosen RX queue, which
 * is how a devmem flow reaches the queues bound to a dma-buf. There is no
 * ethtool netlink message for rules, so these go through the SIOCETHTOOL
 * ioctl, synchronously.
 */
import { callSync, invalidArgument } from './errors';
import { interfaceNameSync, type InterfaceSpec } from './interfaces';
import { bytesToIp, ipToBytes, unmapIpv4 } from './ip';
import { native, type NativeReportedRule, type NativeTcpRule } from './native';

/** A TCP flow to steer. Fields left out match anything. */
export interface FlowRule {
  /** `tcp4` or `tcp6`; an IPv4-mapped IPv6 address makes the rule `tcp4`. */
  flowType: 'tcp4' | 'tcp6';
  /** The packets' source address: the peer's, for a flow arriving here. */
  srcIp?: string;
  /** The packets' destination address: the local one the flow arrives at. */
  dstIp?: string;
  /** The packets' source port (0 to 65535): the peer's, for a flow arriving here. */
  srcPort?: number;
  /** The packets' destination port (0 to 65535): the local one. */
  dstPort?: number;
  /**
   * RX queue the flow goes to; with `rssContext`, an offset added to the
   * queue the context's table picks (0 on most drivers, which refuse others).
   */
  queue: number;
  /**
   * Spread the matching flows over an RSS context's queues (FLOW_RSS)
   * instead of sending them to one queue: the context's ID from
   * createRssContext(), or 0 for the main table. Absent: an ordinary rule.
   */
  rssContext?: number;
}

/** A rule as the driver holds it. */
export interface ReportedFlowRule {
  /** The rule's slot in the device's table: what addFlowRule() returned and deleteFlowRule() takes. */
  location: number;
  /** The queue, or -1 for a drop rule. */
  queue: number;
  /** The rule in our terms; absent for rules this library does not model (other protocols, partial masks). */
  rule?: FlowRule;
  /** The driver's ethtool_rx_flow_spec, byte for byte: compare these to tell whether rules changed. */
  raw: Buffer;
}

/** What listFlowRules() read from the device. */
export interface FlowRuleTable {
  /** How many rules the device can hold. */
  capacity: number;
  /** Every rule installed, whoever installed it (`ethtool -N` too), in the driver's order. */
  rules: ReportedFlowRule[];
}

const NTUPLE_FLAG = 1 << 27; // ETH_FLAG_NTUPLE

function checkPort(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw invalidArgument(`${name} must be a port from 0 to 65535, got ${v}`);
  return v;
}

/** Validates a rule and turns it into what the ioctl takes, before any syscall. */
export function encodeFlowRule(rule: FlowRule): NativeTcpRule & { queue: number } {
  if (rule === null || typeof rule !== 'object') throw new TypeError('a flow rule must be an object');
  if (rule.flowType !== 'tcp4' && rule.flowType !== 'tcp6')
    throw invalidArgument(`flowType must be "tcp4" or "tcp6", got ${JSON.stringify(rule.flowType)}`);
  if (typeof rule.queue !== 'number') throw new TypeError(`queue must be a number, got ${typeof rule.queue}`);
  if (!Number.isInteger(rule.queue) || rule.queue < 0 || rule.queue > 0xffffffff)
    throw invalidArgument(`queue must be a non-negative integer, got ${rule.queue}`);
  const ipv6 = rule.flowType === 'tcp6';
  const addr = (text: string | undefined, name: string): Uint8Array | undefined => {
    if (text === undefined) return undefined;
    if (typeof text !== 'string') throw new TypeError(`${name} must be a string`);
    let b = ipToBytes(text);
    if (!ipv6 && b.length === 16) b = unmapIpv4(b) ?? b;
    if (b.length !== (ipv6 ? 16 : 4))
      throw invalidArgument(`${name} ${text} is not an ${ipv6 ? 'IPv6' : 'IPv4'} address, as flowType ${rule.flowType} needs`);
    return b;
  };
  const out: NativeTcpRule & { queue: number } = { ipv6, queue: rule.queue };
  if (rule.rssContext !== undefined) {
    if (typeof rule.rssContext !== 'number') throw new TypeError(`rssContext must be a number, got ${typeof rule.rssContext}`);
    if (!Number.isInteger(rule.rssContext) || rule.rssContext < 0 || rule.rssContext >= 0xffffffff)
      throw invalidArgument(`rssContext must be an RSS context ID (0 for the main table), got ${rule.rssContext}`);
    out.rss = true;
    out.rssContext = rule.rssContext;
  }
  const src = addr(rule.srcIp, 'srcIp');
  const dst = addr(rule.dstIp, 'dstIp');
  const srcPort = checkPort(rule.srcPort, 'srcPort');
  const dstPort = checkPort(rule.dstPort, 'dstPort');
  if (src) out.src = src;
  if (dst) out.dst = dst;
  if (srcPort !== undefined) out.srcPort = srcPort;
  if (dstPort !== undefined) out.dstPort = dstPort;
  return out;
}

/** The flow type that matches an address: IPv4 and IPv4-mapped IPv6 addresses are `tcp4`. */
export function flowTypeFor(ip: string): 'tcp4' | 'tcp6' {
  const b = ipToBytes(ip);
  return b.length === 4 || unmapIpv4(b) ? 'tcp4' : 'tcp6';
}

function decode(r: NativeReportedRule): ReportedFlowRule {
  const out: ReportedFlowRule = { location: r.location, queue: r.queue, raw: r.raw };
  if (r.tcp && r.queue >= 0) {
    const rule: FlowRule = { flowType: r.tcp.ipv6 ? 'tcp6' : 'tcp4', queue: r.queue };
    if (r.tcp.src) rule.srcIp = bytesToIp(r.tcp.src);
    if (r.tcp.dst) rule.dstIp = bytesToIp(r.tcp.dst);
    if (r.tcp.srcPort !== undefined) rule.srcPort = r.tcp.srcPort;
    if (r.tcp.dstPort !== undefined) rule.dstPort = r.tcp.dstPort;
    if (r.tcp.rss) rule.rssContext = r.rssContext ?? 0;
    out.rule = rule;
  }
  return out;
}

/**
 * Inserts a rule where the driver chooses (RX_CLS_LOC_ANY) and returns its
 * location. Fails with `NTUPLE_UNSUPPORTED` when the device has no n-tuple
 * filters or the rx-ntuple-filter feature is off.
 */
export function addFlowRule(iface: InterfaceSpec, rule: FlowRule): number {
  const ifname = interfaceNameSync(iface);
  const encoded = encodeFlowRule(rule);
  return callSync('ntuple', `cannot add a flow rule on ${ifname}`, () => native().ethtoolFlowRuleInsert(ifname, encoded));
}

/**
 * Deletes the rule at `location` (ETHTOOL_SRXCLSRLDEL).
 *
 * @throws DevmemError INVALID_ARGUMENT for a location that is not a
 * non-negative integer (before any syscall), NTUPLE_UNSUPPORTED when the
 * device has no n-tuple filters, and the driver's errno otherwise (for a
 * location that holds no rule, say).
 */
export function deleteFlowRule(iface: InterfaceSpec, location: number): void {
  const ifname = interfaceNameSync(iface);
  if (!Number.isInteger(location) || location < 0) throw invalidArgument(`a rule location is a non-negative integer, got ${location}`);
  callSync('ntuple', `cannot delete flow rule ${location} on ${ifname}`, () => native().ethtoolFlowRuleDelete(ifname, location));
}

/**
 * Reads every n-tuple rule of the device, one SIOCETHTOOL call per rule.
 *
 * @throws DevmemError NTUPLE_UNSUPPORTED when the device has no n-tuple filters.
 */
export function listFlowRules(iface: InterfaceSpec): FlowRuleTable {
  const ifname = interfaceNameSync(iface);
  const t = callSync('ntuple', `cannot list flow rules on ${ifname}`, () => native().ethtoolFlowRules(ifname));
  return { capacity: t.capacity, rules: t.rules.map(decode) };
}

/** Whether the rx-ntuple-filter feature is on. */
export function getNtupleFilter(iface: InterfaceSpec): boolean {
  const ifname = interfaceNameSync(iface);
  return (callSync('ethtool', `cannot read the feature flags of ${ifname}`, () => native().ethtoolFlags(ifname)) & NTUPLE_FLAG) !== 0;
}

/** Turns the rx-ntuple-filter feature on or off, leaving the other legacy flags as they are. */
export function setNtupleFilter(iface: InterfaceSpec, on: boolean): void {
  const ifname = interfaceNameSync(iface);
  const flags = callSync('ethtool', `cannot read the feature flags of ${ifname}`, () => native().ethtoolFlags(ifname));
  const next = on ? flags | NTUPLE_FLAG : flags & ~NTUPLE_FLAG;
  if (next === flags) return;
  callSync('ntuple', `cannot turn rx-ntuple-filter ${on ? 'on' : 'off'} on ${ifname}`, () => native().ethtoolSetFlags(ifname, next >>> 0));
}

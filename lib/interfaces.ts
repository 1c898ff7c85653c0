import { call, callSync, invalidArgument } from './errors';
import { native } from './native';

/** A network interface as the kernel names it in this network namespace. */
export interface InterfaceRef {
  /** The interface index; unlike the name, a rename leaves it alone. */
  ifindex: number;
  /** The interface name (at most 15 characters) at the time it was read. */
  ifname: string;
}

/** An interface given by name (`"eth0"`) or index (`2`). */
export type InterfaceSpec = string | number;

/** A link as rtnetlink reports it (RTM_GETLINK); the optional fields are absent where the kernel sent no value. */
export interface LinkInfo extends InterfaceRef {
  /** MTU in bytes. */
  mtu?: number;
  /** RFC 2863 operational state, IF_OPER_*: 0 unknown, 2 down, 5 dormant, 6 up, among others. */
  operstate?: number;
  /** RX queues the device has allocated: its maximum, not how many are in use (see `ethtool.getChannels()`). */
  numRxQueues?: number;
  /** TX queues the device has allocated. */
  numTxQueues?: number;
  /** XDP attach mode (0 none, 1 driver, 2 generic, 3 hardware, 4 multi). */
  xdpAttached: number;
  /** IFF_* flags. */
  flags: number;
}

function toLink(a: Record<string, unknown>): LinkInfo {
  const xdp = a.xdp as { attached?: number } | undefined;
  const link: LinkInfo = {
    ifindex: a.ifindex as number,
    ifname: a.ifname as string,
    xdpAttached: xdp?.attached ?? 0,
    flags: a.flags as number,
  };
  if (a.mtu !== undefined) link.mtu = a.mtu as number;
  if (a.operstate !== undefined) link.operstate = a.operstate as number;
  if (a.numRxQueues !== undefined) link.numRxQueues = a.numRxQueues as number;
  if (a.numTxQueues !== undefined) link.numTxQueues = a.numTxQueues as number;
  return link;
}

/** Every link in the caller's network namespace (rtnetlink). */
export async function listLinks(): Promise<LinkInfo[]> {
  const links = await call('netlink', 'cannot list network interfaces', () => native().netlinkRequest('rtnl', 'link-get', {}, true));
  return links.map(toLink);
}

/** One link, by name or index. */
export async function getLink(iface: InterfaceSpec): Promise<LinkInfo> {
  const attrs = typeof iface === 'number' ? { ifindex: checkIfindex(iface) } : { ifname: checkIfname(iface) };
  const [link] = await call('netlink', `cannot find interface ${JSON.stringify(iface)}`, () =>
    native().netlinkRequest('rtnl', 'link-get', attrs, false),
  );
  if (!link) throw invalidArgument(`no such interface ${JSON.stringify(iface)}`);
  return toLink(link);
}

/** Resolves a name or index to both. */
export async function resolveInterface(iface: InterfaceSpec): Promise<InterfaceRef> {
  const { ifindex, ifname } = await getLink(iface);
  return { ifindex, ifname };
}

/**
 * The name of an interface given by name or index, on the calling thread:
 * for the SIOCETHTOOL paths, which take a name and must stay synchronous
 * (NicConfig's undo runs them from exit and signal handlers).
 */
export function interfaceNameSync(iface: InterfaceSpec): string {
  const spec = checkInterfaceSpec(iface);
  if (typeof spec === 'string') return spec;
  const [link] = callSync('netlink', `cannot find interface ${spec}`, () =>
    native().netlinkRequestSync('rtnl', 'link-get', { ifindex: spec }),
  );
  if (!link) throw invalidArgument(`no such interface ${spec}`);
  return link.ifname as string;
}

export function checkIfindex(ifindex: unknown): number {
  if (typeof ifindex !== 'number') throw new TypeError(`ifindex must be a number, got ${typeof ifindex}`);
  if (!Number.isInteger(ifindex) || ifindex < 1 || ifindex > 0x7fffffff)
    throw invalidArgument(`ifindex must be a positive 32-bit integer, got ${ifindex}`);
  return ifindex;
}

function checkIfname(ifname: string): string {
  if (ifname.length === 0 || ifname.length > 15 || /[\s/:]/.test(ifname))
    throw invalidArgument(`${JSON.stringify(ifname)} is not a valid interface name`);
  return ifname;
}

/** Validates the type of an interface argument before any syscall. */
export function checkInterfaceSpec(iface: unknown): InterfaceSpec {
  if (typeof iface === 'number') return checkIfindex(iface);
  if (typeof iface === 'string') return checkIfname(iface);
  throw new TypeError(`an interface must be a name or an ifindex, got ${iface === null ? 'null' : typeof iface}`);
}

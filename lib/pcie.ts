/**
 * Where two PCI devices sit relative to each other, read from their sysfs
 * paths: what peer-to-peer DMA between a NIC and a GPU has to cross.
 */

/**
 * How a NIC and a GPU are connected. `switch`: below one PCIe switch (the
 * best case for peer-to-peer); `bridge`: below one root port or bridge;
 * `root-complex`: only the root complex is shared, so every transfer crosses
 * it (slower, and some chipsets refuse it); `separate-roots`: under different
 * host bridges (often no peer-to-peer at all); `unknown`: not both PCI.
 */
export type PcieLink = 'switch' | 'bridge' | 'root-complex' | 'separate-roots' | 'unknown';

const ROOT = /^pci[0-9a-f]{4}:[0-9a-f]{2}$/;
const FUNCTION = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** The PCI part of a /sys/devices path: its host bridge and the functions down to the device. */
function pciChain(sysPath: string): { root: string; chain: string[] } | undefined {
  const parts = sysPath.split('/').filter(Boolean);
  const i = parts.findIndex((p) => ROOT.test(p));
  if (i < 0) return undefined;
  const chain: string[] = [];
  for (const p of parts.slice(i + 1)) {
    if (!FUNCTION.test(p)) break;
    chain.push(p);
  }
  return chain.length ? { root: parts[i]!, chain } : undefined;
}

/**
 * How the devices at two resolved sysfs paths (`/sys/devices/pci0000:00/...`)
 * are connected; a pure function of the two paths.
 */
export function pcieLink(a: string, b: string): PcieLink {
  const x = pciChain(a);
  const y = pciChain(b);
  if (!x || !y) return 'unknown';
  if (x.root !== y.root) return 'separate-roots';
  // The ports and bridges above each device, not the devices themselves.
  const up = (c: string[]) => c.slice(0, -1);
  const [ux, uy] = [up(x.chain), up(y.chain)];
  let shared = 0;
  while (shared < ux.length && shared < uy.length && ux[shared] === uy[shared]) shared++;
  if (shared === 0) return 'root-complex';
  // Below the root port, a shared upstream port means one switch.
  return shared >= 2 ? 'switch' : 'bridge';
}

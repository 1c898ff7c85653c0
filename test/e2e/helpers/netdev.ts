// What sysfs says about a network interface, read in the local netns directly or in the
// remote one through `ip netns exec` (each netns has its own view of /sys/class/net).
import { readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import { runRemote } from './remote.js';

export interface InterfaceInfo {
  name: string;
  ifindex: number;
  /** Kernel driver bound to the interface's device, e.g. "netdevsim". */
  driver: string | undefined;
  rxQueues: number;
  txQueues: number;
}

function countQueues(names: readonly string[], kind: 'rx' | 'tx'): number {
  return names.filter((n) => n.startsWith(`${kind}-`)).length;
}

/** The interface as seen from this process's netns, or undefined if it is not there. */
export function localInterface(name: string): InterfaceInfo | undefined {
  const dir = `/sys/class/net/${name}`;
  if (!existsSync(dir)) return undefined;
  const queues = readdirSync(`${dir}/queues`);
  const driverLink = `${dir}/device/driver`;
  return {
    name,
    ifindex: Number(readFileSync(`${dir}/ifindex`, 'utf8').trim()),
    driver: existsSync(driverLink) ? basename(readlinkSync(driverLink)) : undefined,
    rxQueues: countQueues(queues, 'rx'),
    txQueues: countQueues(queues, 'tx'),
  };
}

// Prints the same facts as localInterface() reads, one "key value" per line.
const REMOTE_PROBE = `
d=/sys/class/net/$1
[ -e "$d" ] || { echo "missing 1"; exit 0; }
echo "ifindex $(cat "$d/ifindex")"
if [ -e "$d/device/driver" ]; then echo "driver $(basename "$(readlink "$d/device/driver")")"; fi
echo "queues $(ls "$d/queues" | tr '\\n' ' ')"
`;

/** The interface as seen from the remote netns, or undefined if it is not there. */
export async function remoteInterface(name: string): Promise<InterfaceInfo | undefined> {
  const { stdout } = await runRemote(['sh', '-c', REMOTE_PROBE, 'sh', name]);
  const facts = new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => {
        const space = line.indexOf(' ');
        return [line.slice(0, space), line.slice(space + 1)] as const;
      }),
  );
  if (facts.has('missing')) return undefined;
  const queues = (facts.get('queues') ?? '').split(' ').filter(Boolean);
  return {
    name,
    ifindex: Number(facts.get('ifindex')),
    driver: facts.get('driver'),
    rxQueues: countQueues(queues, 'rx'),
    txQueues: countQueues(queues, 'tx'),
  };
}

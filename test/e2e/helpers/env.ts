// The environment contract between the guest harness (scripts/vm/guest/main.sh) and the
// e2e tests; documented in docs/guest-lab.md. Read it through e2eEnv(), which validates
// every variable once and fails with one message listing everything that is wrong.
import { isIPv4, isIPv6 } from 'node:net';

export type E2eMode = 'devmem' | 'stock';

export interface E2eEnv {
  /** devmem: netdevsim patched for devmem (bind-rx/bind-tx work); stock: upstream netdevsim. */
  mode: E2eMode;
  /** Network namespace mocha runs in (the "local" side). */
  netnsLocal: string;
  /** Network namespace of the peer port; run commands there with runRemote()/spawnRemote(). */
  netnsRemote: string;
  ifLocal: string;
  ifindexLocal: number;
  ifRemote: string;
  ifindexRemote: number;
  addr4Local: string;
  addr4Remote: string;
  addr6Local: string;
  addr6Remote: string;
  /** rx (and tx) queues of each netdevsim port. */
  queues: number;
  /** uname -r of the guest kernel. */
  kernel: string;
}

export class E2eEnvError extends Error {
  override name = 'E2eEnvError';
}

const MODES: readonly E2eMode[] = ['devmem', 'stock'];

export function parseE2eEnv(env: NodeJS.ProcessEnv): E2eEnv {
  const problems: string[] = [];
  const text = (name: string, check?: (v: string) => boolean, expect?: string): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push(`${name} is not set`);
      return '';
    }
    if (check && !check(value)) problems.push(`${name}=${JSON.stringify(value)} is not ${expect}`);
    return value;
  };
  const int = (name: string, min: number): number => {
    const value = text(name, (v) => /^\d+$/.test(v) && Number(v) >= min, `an integer >= ${min}`);
    return Number(value);
  };
  const ifname = (v: string) => /^[^\s/]{1,15}$/.test(v);

  if (env.DEVMEM_E2E !== '1') {
    throw new E2eEnvError(
      'DEVMEM_E2E is not 1: the e2e tests run only inside the QEMU guest; start them with `npm run test:vm` (docs/guest-lab.md)',
    );
  }
  const result: E2eEnv = {
    mode: text('DEVMEM_E2E_MODE', (v) => (MODES as readonly string[]).includes(v), MODES.join(' or ')) as E2eMode,
    netnsLocal: text('DEVMEM_E2E_NETNS_LOCAL'),
    netnsRemote: text('DEVMEM_E2E_NETNS_REMOTE'),
    ifLocal: text('DEVMEM_E2E_IF_LOCAL', ifname, 'an interface name'),
    ifindexLocal: int('DEVMEM_E2E_IFINDEX_LOCAL', 1),
    ifRemote: text('DEVMEM_E2E_IF_REMOTE', ifname, 'an interface name'),
    ifindexRemote: int('DEVMEM_E2E_IFINDEX_REMOTE', 1),
    addr4Local: text('DEVMEM_E2E_ADDR4_LOCAL', isIPv4, 'an IPv4 address'),
    addr4Remote: text('DEVMEM_E2E_ADDR4_REMOTE', isIPv4, 'an IPv4 address'),
    addr6Local: text('DEVMEM_E2E_ADDR6_LOCAL', isIPv6, 'an IPv6 address'),
    addr6Remote: text('DEVMEM_E2E_ADDR6_REMOTE', isIPv6, 'an IPv6 address'),
    queues: int('DEVMEM_E2E_QUEUES', 1),
    kernel: text('DEVMEM_E2E_KERNEL'),
  };
  if (result.netnsLocal && result.netnsLocal === result.netnsRemote) {
    problems.push('DEVMEM_E2E_NETNS_LOCAL and DEVMEM_E2E_NETNS_REMOTE must differ');
  }
  if (problems.length > 0) throw new E2eEnvError(`invalid e2e environment:\n  ${problems.join('\n  ')}`);
  return result;
}

let cached: E2eEnv | undefined;

/** The validated contract of the current process (parsed on first use). */
export function e2eEnv(): E2eEnv {
  cached ??= parseE2eEnv(process.env);
  return cached;
}

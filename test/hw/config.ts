// The hardware suite's configuration, named as the kernel's driver tests name
// it (tools/testing/selftests/drivers/net/net.config): NETIF, LOCAL_V4/V6,
// REMOTE_V4/V6, REMOTE_TYPE (ssh or netns) and REMOTE_ARGS. Values come from a
// net.config file (KEY=VALUE lines, # comments, optional quotes) and the
// environment, which wins, as it does for the kernel's tests.
import * as fs from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';

export interface HwConfig {
  netif: string;
  localV4?: string;
  localV6?: string;
  remoteV4?: string;
  remoteV6?: string;
  remoteType: 'ssh' | 'netns';
  remoteArgs: string;
  /** socat or devmem peer on the remote; auto picks socat when the remote has it. */
  remotePeer: 'auto' | 'socat' | 'devmem';
  /** Where the remote finds the devmem CLI (netns: this checkout's dist/ is visible there). */
  remoteDevmem?: string;
}

export class ConfigError extends Error {}

type Key = 'NETIF' | 'LOCAL_V4' | 'LOCAL_V6' | 'REMOTE_V4' | 'REMOTE_V6' | 'REMOTE_TYPE' | 'REMOTE_ARGS' | 'REMOTE_PEER' | 'REMOTE_DEVMEM';

export function parseConfigFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s*export\s+/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`net.config: cannot read ${JSON.stringify(raw)}: lines are KEY=VALUE`);
    out[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv, file?: string): HwConfig {
  const fromFile = file && fs.existsSync(file) ? parseConfigFile(fs.readFileSync(file, 'utf8')) : {};
  const get = (k: Key) => env[k] ?? fromFile[k];
  const problems: string[] = [];
  const netif = get('NETIF') ?? '';
  if (!netif) problems.push('NETIF is not set (the interface under test)');
  const addr = (k: 'LOCAL_V4' | 'LOCAL_V6' | 'REMOTE_V4' | 'REMOTE_V6', v4: boolean) => {
    const v = get(k);
    if (v !== undefined && v !== '' && !(v4 ? isIPv4(v) : isIPv6(v))) problems.push(`${k}=${v} is not an IPv${v4 ? 4 : 6} address`);
    return v || undefined;
  };
  const c: HwConfig = {
    netif,
    remoteType: 'netns',
    remoteArgs: get('REMOTE_ARGS') ?? '',
    remotePeer: 'auto',
  };
  const set = <K extends keyof HwConfig>(k: K, v: HwConfig[K] | undefined) => {
    if (v !== undefined) c[k] = v;
  };
  set('localV4', addr('LOCAL_V4', true));
  set('localV6', addr('LOCAL_V6', false));
  set('remoteV4', addr('REMOTE_V4', true));
  set('remoteV6', addr('REMOTE_V6', false));
  set('remoteDevmem', get('REMOTE_DEVMEM'));
  const type = get('REMOTE_TYPE') ?? '';
  if (type !== 'ssh' && type !== 'netns') problems.push(`REMOTE_TYPE must be ssh or netns, got ${JSON.stringify(type)}`);
  else c.remoteType = type;
  if (!c.remoteArgs) problems.push('REMOTE_ARGS is not set (netns: the namespace name; ssh: the host, e.g. user@host)');
  const peer = get('REMOTE_PEER') ?? 'auto';
  if (peer !== 'auto' && peer !== 'socat' && peer !== 'devmem') problems.push(`REMOTE_PEER must be auto, socat or devmem, got ${peer}`);
  else c.remotePeer = peer;
  const v4 = c.localV4 && c.remoteV4;
  const v6 = c.localV6 && c.remoteV6;
  if (!v4 && !v6) problems.push('give LOCAL_V4 and REMOTE_V4, or LOCAL_V6 and REMOTE_V6');
  if (problems.length) throw new ConfigError(`hardware suite configuration:\n  ${problems.join('\n  ')}`);
  return c;
}

/** The address pair the cases use: IPv6 when configured (as devmem.py prefers), else IPv4. */
export function addresses(c: HwConfig): { local: string; remote: string; family: 4 | 6 } {
  if (c.localV6 && c.remoteV6) return { local: c.localV6, remote: c.remoteV6, family: 6 };
  return { local: c.localV4!, remote: c.remoteV4!, family: 4 };
}

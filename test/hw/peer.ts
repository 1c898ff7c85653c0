// The remote end's commands, as socat (what devmem.py runs) or `devmem peer`
// (this package's own plain-TCP peer, for hosts without socat).
import { ncdevmemPattern } from '../support/ncdevmem';
import type { HwConfig } from './config';
import type { Remote } from './remote';

export interface PeerCommands {
  kind: 'socat' | 'devmem';
  /** Connect from remote:port to local:port and send `bytes` of the -v `period` pattern (0: zeros), then close. */
  send(local: string, remote: string, port: number, bytes: number, period: number): string[];
  /** The same, for `seconds`. */
  stream(local: string, remote: string, port: number, period: number, seconds: number): string[];
  /** Accept one connection on addr:port and copy it to stdout. */
  listen(addr: string, port: number): string[];
}

const v = (a: string) => (a.includes(':') ? 6 : 4);
const br = (a: string) => (a.includes(':') ? `[${a}]` : a);

function patternSource(period: number, bytes?: number): string {
  if (period <= 0) return `head -c ${bytes ?? 'inf'} /dev/zero`;
  // `yes X` prints X and a newline forever: X = one period of the -v pattern less its closing newline.
  const line = ncdevmemPattern(period, period);
  if (line.at(-1) !== 0x0a) throw new Error(`one period of the -v ${period} pattern does not end in a newline`);
  const x = Array.from(line.subarray(0, -1), (b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
  const head = bytes === undefined ? '' : ` | head -c ${bytes}`;
  return `yes "$(printf '${x}')"${head}`;
}

const socat: PeerCommands = {
  kind: 'socat',
  send: (local, remote, port, bytes, period) => [
    'sh',
    '-c',
    `${patternSource(period, bytes)} | socat -b ${Math.max(bytes, 1)} -u - TCP${v(local)}:${br(local)}:${port},bind=${br(remote)}:${port},nodelay`,
  ],
  stream: (local, remote, port, period, seconds) => [
    'sh',
    '-c',
    `${patternSource(period)} | timeout ${seconds} socat -u - TCP${v(local)}:${br(local)}:${port},bind=${br(remote)}:${port}; true`,
  ],
  listen: (addr, port) => ['socat', '-U', '-', `TCP${v(addr)}-LISTEN:${port},bind=${br(addr)},reuseaddr`],
};

function devmemPeer(cli: string[]): PeerCommands {
  // `devmem peer send|stream` to local:port from remote, for `limit` (--bytes or --seconds).
  const toLocal = (mode: string, local: string, remote: string, port: number, limit: string[], period?: number) => {
    const pattern = period ? ['--pattern', String(period)] : [];
    return [...cli, 'peer', mode, '--host', local, '--port', String(port), '--bind', remote, ...limit, ...pattern];
  };
  return {
    kind: 'devmem',
    send: (local, remote, port, bytes, period) => toLocal('send', local, remote, port, ['--bytes', String(bytes)], period),
    stream: (local, remote, port, period, seconds) => toLocal('stream', local, remote, port, ['--seconds', String(seconds)], period),
    listen: (addr, port) => [...cli, 'peer', 'listen', '--host', addr, '--port', String(port)],
  };
}

/**
 * socat when the remote has it (or REMOTE_PEER=socat), else `devmem peer`:
 * REMOTE_DEVMEM, or in a netns this checkout's compiled CLI, or `devmem` on
 * the remote's PATH.
 */
export async function choosePeer(config: HwConfig, remote: Remote, localCli: string[]): Promise<PeerCommands | string> {
  const want = config.remotePeer;
  if (want === 'socat' || (want === 'auto' && (await remote.has('socat')))) return socat;
  const cli = config.remoteDevmem ? config.remoteDevmem.split(/\s+/) : config.remoteType === 'netns' ? localCli : ['devmem'];
  if ((await remote.run([...cli, 'peer', '--help'])).code === 0) return devmemPeer(cli);
  return `the remote has neither socat nor a working "${cli.join(' ')} peer" (install socat, or devmem-tcp and set REMOTE_DEVMEM)`;
}

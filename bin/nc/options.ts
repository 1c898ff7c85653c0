/**
 * `devmem nc` options: ncdevmem's getopt string "Lls:c:p:v:q:t:f:z:nb:" as
 * util.parseArgs options (each flag also has a long name), and ncdevmem's
 * rules for which mode runs and which queues it uses; plus the long-only
 * --memory, --zcrx, --rss-context, --connections, --json and --dry-run.
 */
import { parseArgs } from 'node:util';

import { MemorySpecError, parseMemory, type MemorySpec } from '../memory';

export type NcMode = 'rx' | 'tx' | 'selftest';

/**
 * `--memory`: which allocator the dma-buf comes from (bin/memory.ts), or
 * with --zcrx `host`: host memory that the zcrx queue maps itself (the
 * default there).
 */
export type NcMemory = MemorySpec | { kind: 'host' };

export interface NcOptions {
  mode: NcMode;
  iface: string;
  server?: string;
  client?: string;
  port?: number;
  /** First queue and count; decided by resolveQueues() once the channel count is known. */
  startQueue?: number;
  numQueues?: number;
  validate?: number;
  failOnLinear: boolean;
  maxChunk?: number;
  skipConfig: boolean;
  rxPageSize?: number;
  memory: NcMemory;
  /** --zcrx: receive through io_uring zero-copy receive on one queue instead of a devmem binding. */
  zcrx: boolean;
  /** --rss-context: reserve the last -q queues and steer the port into an RSS context over them. */
  rssContext: boolean;
  /** --connections: how many connections the RX server accepts at once (1 unless given). */
  connections: number;
  json: boolean;
  dryRun: boolean;
  help: boolean;
}

/** A usage mistake: reported with exit code 1, like ncdevmem's "Missing -X argument". */
export class UsageError extends Error {
  override get name(): string {
    return 'UsageError';
  }
}

export const NC_OPTIONS = {
  listen: { type: 'boolean', short: 'l', default: false },
  server: { type: 'string', short: 's' },
  client: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  iface: { type: 'string', short: 'f' },
  'start-queue': { type: 'string', short: 't' },
  'num-queues': { type: 'string', short: 'q' },
  validate: { type: 'string', short: 'v' },
  'fail-on-linear': { type: 'boolean', short: 'L', default: false },
  'max-chunk': { type: 'string', short: 'z' },
  'skip-config': { type: 'boolean', short: 'n', default: false },
  'rx-page-size': { type: 'string', short: 'b' },
  memory: { type: 'string' },
  zcrx: { type: 'boolean', default: false },
  'rss-context': { type: 'boolean', default: false },
  connections: { type: 'string' },
  json: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function integer(text: string | undefined, flag: string, min: number, max: number, base10 = true): number | undefined {
  if (text === undefined) return undefined;
  // -b takes C's strtoul base 0 (0x.., 0..); the others are decimal.
  const ok = base10 ? /^\d+$/.test(text) : /^(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.test(text);
  const n = !ok
    ? NaN
    : base10
      ? Number(text)
      : /^0x/i.test(text)
        ? parseInt(text, 16)
        : /^0\d/.test(text)
          ? parseInt(text, 8)
          : Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} needs an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

export function parseNcArgs(argv: string[]): NcOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: NC_OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const help = values.help;
  const o: NcOptions = {
    mode: values.listen ? 'rx' : values.server === undefined && values.client === undefined ? 'selftest' : 'tx',
    iface: values.iface ?? '',
    failOnLinear: values['fail-on-linear'],
    skipConfig: values['skip-config'],
    memory: { kind: 'udmabuf' },
    zcrx: values.zcrx,
    rssContext: values['rss-context'],
    connections: 1,
    json: values.json,
    dryRun: values['dry-run'],
    help,
  };
  if (help) return o;
  if (!values.iface) throw new UsageError('Missing -f argument: the interface is required');
  const set = <K extends keyof NcOptions>(k: K, v: NcOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('server', values.server);
  set('client', values.client);
  set('port', integer(values.port, '-p', 1, 65535));
  set('startQueue', integer(values['start-queue'], '-t', 0, 0xffff));
  set('numQueues', integer(values['num-queues'], '-q', 1, 0xffff));
  set('validate', integer(values.validate, '-v', 1, 255));
  set('maxChunk', integer(values['max-chunk'], '-z', 1, 0x7fffffff));
  set('rxPageSize', integer(values['rx-page-size'], '-b', 1, 0xffffffff, false));
  set('connections', integer(values.connections, '--connections', 1, MAX_CONNECTIONS));
  checkManyFlows(o, values.connections !== undefined);
  if (o.zcrx && o.mode !== 'rx') throw new UsageError('--zcrx is for the RX server: give -l (TX and the self-test use devmem bindings)');
  if (values.memory === 'host' || (o.zcrx && values.memory === undefined)) {
    if (!o.zcrx) throw new UsageError('--memory host needs --zcrx: a devmem binding takes a dma-buf (udmabuf is host memory as one)');
    o.memory = { kind: 'host' };
  } else {
    try {
      o.memory = parseMemory(values.memory);
    } catch (e) {
      throw e instanceof MemorySpecError
        ? new UsageError(e.message.replace('--memory needs ', `--memory needs ${o.zcrx ? 'host, ' : ''}`))
        : e;
    }
  }
  if (o.rxPageSize !== undefined && o.memory.kind !== 'udmabuf')
    throw new UsageError(
      o.zcrx
        ? '-b with --zcrx needs --memory udmabuf: buffers above a page need an area backed by huge pages, which only a udmabuf is here'
        : '-b needs --memory udmabuf: only a udmabuf can be backed by huge pages here',
    );
  // zcrx registers one queue per instance; spreading one flow over several
  // queues means one instance each, which is not what -q asks for.
  if (o.zcrx && o.numQueues !== undefined && o.numQueues !== 1)
    throw new UsageError(`--zcrx receives through one RX queue: give -q 1 (with -t for the queue), got -q ${o.numQueues}`);
  if (o.mode === 'selftest' && o.skipConfig)
    throw new UsageError('-n cannot be used without -s or -c: the self-test itself switches header split, which -n forbids');
  if (o.mode !== 'selftest') {
    if (o.server === undefined) throw new UsageError('Missing -s argument: the server address is required');
    if (o.port === undefined) throw new UsageError('Missing -p argument: the port is required');
  }
  return o;
}

/** The most connections one `devmem nc -l` accepts at once. */
export const MAX_CONNECTIONS = 1024;

// --rss-context and --connections: what they combine with, checked before
// anything on the host is touched.
function checkManyFlows(o: NcOptions, connectionsGiven: boolean): void {
  if (connectionsGiven && o.mode !== 'rx') throw new UsageError('--connections is for the RX server: give -l');
  if (o.connections > 1 && o.validate === undefined && !o.json)
    throw new UsageError(`--connections ${o.connections} needs -v or --json: ${o.connections} streams cannot share stdout`);
  if (o.connections > 1 && o.client !== undefined)
    throw new UsageError(`--connections ${o.connections} with -c: the 5-tuple rule -c makes matches one client flow; leave -c out`);
  if (!o.rssContext) return;
  if (o.mode !== 'rx') throw new UsageError('--rss-context is for the RX server: give -l');
  if (o.zcrx)
    throw new UsageError(
      '--rss-context spreads flows over several bound queues; --zcrx receives through one queue, so they cannot be combined',
    );
  if (o.skipConfig) throw new UsageError('--rss-context changes the NIC (RSS table, context, rule) and -n forbids that: give one of them');
  if (o.client !== undefined) throw new UsageError('--rss-context steers the port for every client; -c pins one client flow: leave -c out');
  if (o.numQueues === undefined) throw new UsageError('--rss-context needs -q: how many queues to reserve and bind');
}

/** True when -t and -q name the queues, so no channel count is needed to pick them. */
export function queuesGiven(o: Pick<NcOptions, 'startQueue' | 'numQueues'>): boolean {
  return o.startQueue !== undefined && o.numQueues !== undefined;
}

/**
 * ncdevmem's queue choice. Self-test with neither -t nor -q: the upper half
 * of the RX queues (needs at least two). Server or client with neither: the
 * last queue. Giving one of -t/-q without the other is an error. With
 * `rxQueues` undefined (not read, see
 * docs/kernel-notes.md#netkit-and-leased-queues-have-no-channels) given
 * queues are taken as they are, and the kernel judges them.
 */
export function resolveQueues(
  o: Pick<NcOptions, 'mode' | 'startQueue' | 'numQueues'> & Partial<Pick<NcOptions, 'rssContext'>>,
  rxQueues: number | undefined,
): { start: number; count: number } {
  if (o.rssContext && o.numQueues !== undefined && rxQueues !== undefined) {
    // A context reserves the last queues: everything below them keeps RSS.
    const start = rxQueues - o.numQueues;
    if (start < 1)
      throw new UsageError(
        `--rss-context -q ${o.numQueues} leaves no queue for other traffic: the device has ${rxQueues} RX queues, so -q can be at most ${rxQueues - 1}`,
      );
    if (o.startQueue !== undefined && o.startQueue !== start)
      throw new UsageError(`--rss-context reserves the last -q queues, ${start}..${rxQueues - 1} here: give -t ${start} or leave -t out`);
    return { start, count: o.numQueues };
  }
  if (o.startQueue === undefined && o.numQueues === undefined) {
    if (rxQueues === undefined) throw new UsageError('give the queues with -t and -q: the channel count was not read');
    if (o.mode === 'selftest') {
      if (rxQueues < 2) throw new UsageError(`the self-test needs at least 2 RX queues, the device has ${rxQueues}`);
      const half = Math.floor(rxQueues / 2);
      return { start: half, count: half };
    }
    if (rxQueues < 1) throw new UsageError('the device reports no RX queues');
    return { start: rxQueues - 1, count: 1 };
  }
  if (o.startQueue === undefined) throw new UsageError('Missing -t argument: give the first queue with -q, or neither');
  if (o.numQueues === undefined) throw new UsageError('Missing -q argument: give the queue count with -t, or neither');
  if (rxQueues !== undefined && o.startQueue + o.numQueues > rxQueues)
    throw new UsageError(`queues ${o.startQueue}..${o.startQueue + o.numQueues - 1} do not exist: the device has ${rxQueues} RX queues`);
  return { start: o.startQueue, count: o.numQueues };
}

export const NC_HELP = `Usage: devmem nc -f IFACE [-l] [-s ADDR] [-c ADDR] [-p PORT] [options]
       ncdevmem-js (same options)

A devmem TCP netcat, flag-compatible with the kernel's ncdevmem
(tools/testing/selftests/drivers/net/hw/ncdevmem.c).

Modes:
  -l with -s         RX server: set up the NIC, bind the queues, accept one
                     connection and receive into the dma-buf.
  -s without -l      TX client: connect and send each line of stdin from the
                     dma-buf (zerocopy).
  neither -s nor -c  Self-test: binding with no valid queues and with header
                     split off must fail, binding with it on must succeed,
                     and shrinking the channels under a bound queue must fail.
                     The exit code is the result.

Options (ncdevmem flag, long form):
  -f, --iface IFACE         -f  interface (required)
  -l, --listen              -l  RX server mode
  -s, --server ADDR         -s  server address (IPv4 or IPv6)
  -c, --client ADDR         -c  client address: RX steers the 5-tuple with it
                                (falling back to the 3-tuple); TX binds to it
  -p, --port PORT           -p  TCP port
  -t, --start-queue N       -t  first RX queue to bind
  -q, --num-queues N        -q  number of queues to bind
                                (neither -t nor -q: the last queue; in the
                                self-test the upper half of the queues;
                                with --zcrx it must be 1)
  -v, --validate N          -v  check the stream against the pattern
                                1,2,..,N-1,'\\n' repeated (-v 7 for
                                "yes $(echo -e \\\\x01..\\\\x06)")
  -L, --fail-on-linear      -L  fail if payload lands in host memory
                                (SCM_DEVMEM_LINEAR): header split must hold.
                                With --zcrx (which never delivers linear
                                data): fail if the kernel copied payload
                                into the area (its copy fallback): copied
                                fragments fail the socket, and at the end
                                the queue's copy statistics (Linux 7.2;
                                a skip without them) must count 0 bytes
  -z, --max-chunk BYTES     -z  TX: split each line into iovecs of at most
                                BYTES (at most 1024 per sendmsg)
  -n, --skip-config         -n  leave the NIC alone: no header split, RSS or
                                flow rules (netkit and leased queues)
  -b, --rx-page-size BYTES  -b  bind-rx buffer size (Linux 7.3+); above the
                                page size the dma-buf uses 2 MiB huge pages.
                                With --zcrx the zcrx buffer size (a power of
                                two, at least the page size; kernels with
                                ZCRX_FEATURE_RX_PAGE_SIZE), with --memory
                                udmabuf
      --memory KIND[:ARG]       the dma-buf: udmabuf (the default),
                                dmaheap[:HEAP] (a dma-heap, "system" unless
                                named), drm[:/dev/dri/cardN] (a DRM dumb
                                buffer; the first card that can make one
                                unless named), cuda[:GPU] or rocm[:GPU] (GPU
                                memory; an ordinal or PCI bus id, 0 unless
                                named). -v on device memory reads it back
                                through the CPU (for GPUs with the GPU
                                library's copies), which costs throughput.
                                With --zcrx also host (the default there):
                                host memory the queue maps itself; any other
                                kind is a dma-buf area (Linux 6.16+)
      --zcrx                    RX: receive through io_uring zero-copy
                                receive (Linux 6.15+, CONFIG_IO_URING_ZCRX)
                                instead of a devmem binding: one queue (-t,
                                or the last), the same NIC set-up, an area
                                of the same size; the payload, -v and --json
                                as without it
      --rss-context             RX: reserve the last -q N queues: the default
                                RSS table spreads over the others, an RSS
                                context over the reserved ones, and a rule
                                steers -p (and -s) into that context, so
                                many clients spread over the bound queues.
                                -t, if given, must be the first of them.
                                Devices without RSS contexts fall back to
                                steering the port to the first reserved
                                queue, and say so
      --connections K           RX: accept K connections at once and
                                receive them all (1 by default); with K
                                above 1, -v or --json is needed (the
                                streams cannot share stdout), and --json's
                                summary lists per connection the bytes,
                                the verdict and the RX queue it arrived on
      --json                    NDJSON events on stdout and a final summary
      --dry-run                 print the NIC plan and change nothing
  -h, --help                    this help

Output: logs on stderr; received payload on stdout (RX without -v and
without --json). Exit codes: 0 ok, 1 failure, 4 skipped (not supported on
this host: no devmem driver, no udmabuf, no n-tuple filters, no io_uring
zcrx for --zcrx, not root, or a kernel too old).

Every NIC change is undone when the run ends, on error, on exit, and on
SIGINT or SIGTERM, in the kernel's order: unbind (or close the zcrx queue
and wait until the kernel lets go of it), flow rules, RSS context, RSS,
rings.
`;

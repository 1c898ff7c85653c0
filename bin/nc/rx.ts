/**
 * `devmem nc -l`: ncdevmem's server. NIC set-up (unless -n), bind-rx (or
 * with --zcrx an io_uring zcrx queue), accept one connection, receive into
 * the dma-buf (or the zcrx area) until the peer closes, validating the
 * pattern (-v) or writing the payload to stdout.
 */
import { once } from 'node:events';

// Module by module, not lib/index: see bin/devmem.ts on start-up time.
import { FragmentKind } from '../../lib/batch';
import type { DmaBuf } from '../../lib/dmabuf';
import { DevmemError } from '../../lib/errors';
import { getChannels, rxChannelCount } from '../../lib/ethtool';
import { incomingQueue } from '../../lib/incoming-queue';
import { NicConfig } from '../../lib/nic-config';
import type { ReceiveOptions } from '../../lib/receive-options';
import { createServer } from '../../lib/server';
import type { DevmemSocket } from '../../lib/socket';
import { zcrxSupport, type ZcrxHostArea, type ZcrxQueueStats } from '../../lib/zcrx';
import { native, zcrxPlan } from '../../lib/internal';
import { allocNcBuffer, describeBuffer, ncBufferSize } from './buffer';
import type { NcMemory, NcOptions } from './options';
import { queuesGiven, resolveQueues, UsageError } from './options';
import { fail, fromError, ok, type Outcome } from './outcome';
import { PatternValidator } from './pattern';
import type { Fields, Reporter } from './reporter';

export async function runRx(o: NcOptions, r: Reporter): Promise<Outcome> {
  const server = o.server!;
  const port = o.port!;
  // With -n and -t/-q nothing needs the channel count, and a netkit guest or a
  // leased queue has none (see docs/kernel-notes.md#netkit-and-leased-queues-have-no-channels).
  const rxQueues = o.skipConfig && queuesGiven(o) ? undefined : rxChannelCount(await getChannels(o.iface));
  const { start, count } = resolveQueues(o, rxQueues);
  let queues = Array.from({ length: count }, (_, i) => start + i);
  r.log(o.zcrx ? `using queue ${start} (io_uring zcrx)` : `using queues ${start}..${start + count - 1}`);
  // Whatever zcrx cannot do here is refused before the NIC is touched.
  if (o.zcrx) checkZcrx(o, r);

  // -n leaves the NIC to whoever set it up (perhaps a live process): bind only.
  const nic = await NicConfig.open(o.iface, { dryRun: o.dryRun, bindOnly: o.skipConfig, onStep: (s) => r.step(s) });
  r.recovered(nic.recovered);
  try {
    if (!o.skipConfig && o.rssContext) {
      await nic.enableHeaderSplit();
      const reserved = await nic.reserveQueues(count);
      if (reserved.fallback !== undefined) r.log(`warning: ${reserved.fallback}`);
      queues = reserved.queues;
      await nic.steerPort({ port, serverIp: server, context: reserved.context });
    } else if (!o.skipConfig) {
      await nic.enableHeaderSplit();
      try {
        await nic.isolateQueues(start);
      } catch (e) {
        // Without an RSS table nothing can be kept off the devmem queues, but the
        // steered flow still works; unrelated flows landing there fail loudly.
        if (!(e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED')) throw e;
        r.log(`warning: RSS isolation skipped, ${o.iface} has no RSS table (${e.code}); other flows may reach queue ${start}`);
      }
      const steer = { serverIp: server, port, queue: start, ...(o.client ? { clientIp: o.client } : {}) };
      await nic.steerFlow(steer);
    }
    if (nic.dryRun) {
      if (o.zcrx) nic.planZcrx(start, { area: plannedArea(o.memory, o.rxPageSize), ...rxBufLen(o) });
      else nic.planBindRx(queues);
      r.log(`plan: listen on ${server} port ${port}, accept ${connectionsText(o.connections)} and receive`);
      return ok('dry run: nothing was changed');
    }
    return o.zcrx ? await receiveZcrx(o, r, nic, start, server, port) : await receive(o, r, nic, queues, server, port);
  } finally {
    nic.close();
  }
}

function rxBufLen(o: NcOptions): { rxBufLen?: number } {
  return o.rxPageSize === undefined ? {} : { rxBufLen: o.rxPageSize };
}

/** The area as a dry run names it: its size, and the dma-buf kind that would be allocated. */
function plannedArea(memory: NcMemory, rxPageSize: number | undefined): { size: number; kind?: string } {
  const size = ncBufferSize(memory, rxPageSize);
  return memory.kind === 'host' ? { size } : { size, kind: memory.kind === 'dmaheap' ? 'dma-heap' : memory.kind };
}

/**
 * --zcrx's checks that need no NIC change: the area and buffer size (-b), that
 * this build and kernel have zcrx, and for -L the kernel's copy statistics.
 * A dry run only warns about what the host lacks.
 */
function checkZcrx(o: NcOptions, r: Reporter): void {
  try {
    zcrxPlan({ area: { size: ncBufferSize(o.memory, o.rxPageSize) }, ...rxBufLen(o) }, native().constants.PAGE_SIZE);
  } catch (e) {
    // The area is ncdevmem's size, so only -b can be wrong.
    throw e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT' ? new UsageError(`-b with --zcrx: ${e.message}`) : e;
  }
  const s = zcrxSupport();
  const missing: [string, DevmemError['reason']][] = [];
  // Only a kernel without a usable io_uring is too old; the rest (no liburing
  // in this build, io_uring disabled, no CONFIG_IO_URING_ZCRX) is unsupported.
  const why = !s.built || s.disabled || s.ring ? 'ZCRX_UNSUPPORTED' : 'KERNEL_TOO_OLD';
  if (!s.zcrx) missing.push([`io_uring zcrx is unavailable: ${s.reason ?? 'the kernel refused the probe'}`, why]);
  else {
    if (o.rxPageSize !== undefined && !s.rxBufLen)
      missing.push(['-b with --zcrx needs a kernel that takes a zcrx buffer size (ZCRX_FEATURE_RX_PAGE_SIZE)', 'KERNEL_TOO_OLD']);
    if (o.failOnLinear && !s.events)
      missing.push([
        "-L with --zcrx needs the kernel's zcrx copy statistics (Linux 7.2), without which copied data cannot be told from zero-copy data",
        'KERNEL_TOO_OLD',
      ]);
  }
  if (missing.length === 0) return;
  if (o.dryRun) {
    for (const [m] of missing) r.log(`warning: ${m}`);
    return;
  }
  const [message, reason] = missing[0]!;
  throw new DevmemError(message, { reason });
}

/** What {@link serve} needs of a backend. */
interface Backend {
  /** Where the fragments' offsets point: the dma-buf or the zcrx area. */
  area: DmaBuf | ZcrxHostArea;
  /** The socket's receive options: the binding, or the zcrx queue. */
  receive: ReceiveOptions;
  /** How --json names the memory. */
  memory: Fields;
  /** The interface, whose queue dump says which RX queue a connection came through. */
  ifindex: number;
  /** Backend fields for the 'received' summary, read when the connection ends. */
  summary?: () => Fields;
}

async function receive(o: NcOptions, r: Reporter, nic: NicConfig, queues: number[], host: string, port: number): Promise<Outcome> {
  const dmabuf = allocNcBuffer(o.memory, o.rxPageSize);
  try {
    const binding = await nic.bindRx(queues, dmabuf, o.rxPageSize === undefined ? {} : { rxPageSize: o.rxPageSize });
    r.log(`got dmabuf id=${binding.id}`);
    r.event('bound', { backend: 'devmem', dmabufId: binding.id, queues, dmabufSize: dmabuf.size, memory: describeBuffer(dmabuf) });
    return await serve(o, r, host, port, {
      area: dmabuf,
      receive: { binding, dmabuf, linear: o.failOnLinear ? 'error' : 'accept' },
      memory: describeBuffer(dmabuf),
      ifindex: nic.ifindex,
    });
  } finally {
    dmabuf.close();
  }
}

function zcrxSummary(s: ZcrxQueueStats): Fields {
  return {
    returnedBuffers: s.returnedBuffers,
    refillBacklog: s.refillBacklog,
    copiedBytes: s.copiedBytes,
    unattributedCopyBytes: s.unattributedCopyBytes,
    kernelCopyBytes: s.kernelCopyBytes,
    kernelCopyCount: s.kernelCopyCount,
    allocFailEvents: s.allocFailEvents,
    copyEvents: s.copyEvents,
  };
}

async function receiveZcrx(o: NcOptions, r: Reporter, nic: NicConfig, queue: number, host: string, port: number): Promise<Outcome> {
  const dmabuf = o.memory.kind === 'host' ? undefined : allocNcBuffer(o.memory, o.rxPageSize);
  try {
    const zq = await nic.openZcrx(queue, { area: dmabuf ?? { size: ncBufferSize(o.memory) }, ...rxBufLen(o) });
    try {
      if (o.failOnLinear && !zq.copyStats)
        throw new DevmemError("-L with --zcrx needs the kernel's zcrx copy statistics (Linux 7.2): this kernel reports none", {
          reason: 'KERNEL_TOO_OLD',
        });
      const memory = dmabuf ? describeBuffer(dmabuf) : { kind: 'host' };
      r.log(
        `got zcrx queue ${queue}: zcrx id ${zq.zcrxId} (fragment id ${zq.fragmentId}), ${zq.area.size}-byte ${dmabuf ? `${dmabuf.kind} dma-buf` : 'host memory'} area, ` +
          `${zq.rxBufLen}-byte buffers, ${zq.rqEntries} refill entries`,
      );
      r.event('bound', {
        backend: 'zcrx',
        queue,
        zcrxId: zq.zcrxId,
        fragmentId: zq.fragmentId,
        area: dmabuf ? 'dmabuf' : 'host',
        areaSize: zq.area.size,
        rxBufLen: zq.rxBufLen,
        rqEntries: zq.rqEntries,
        copyStats: zq.copyStats,
        memory,
      });
      const outcome = await serve(o, r, host, port, {
        area: zq.area,
        receive: { zcrx: zq, copied: o.failOnLinear ? 'error' : 'accept' },
        memory,
        ifindex: nic.ifindex,
        summary: () => ({ zcrx: zcrxSummary(zq.stats()) }),
      });
      // The socket refuses the copies attributed to it; the kernel counts
      // every copy on the queue, and only this connection used it.
      const copied = zq.stats().kernelCopyBytes;
      if (o.failOnLinear && copied > 0 && outcome.result === 'ok')
        return fail(
          `-L: the kernel copied ${copied} bytes into the zcrx area (copy fallback) instead of receiving them zero-copy`,
          'COPY_FALLBACK',
        );
      return outcome;
    } finally {
      await zq.close();
    }
  } finally {
    dmabuf?.close();
  }
}

function connectionsText(n: number): string {
  return n === 1 ? 'one connection' : `${n} connections`;
}

/** One connection's end: its outcome, and the fields --json's summary lists for it. */
interface ConnectionResult {
  outcome: Outcome;
  report: Fields;
}

/**
 * Listens, accepts --connections connections (each one starts receiving as
 * soon as it is accepted, so none waits on the others), and ends when all
 * have ended. The run fails if any connection fails; with one connection
 * the outcome is that connection's own.
 */
async function serve(o: NcOptions, r: Reporter, host: string, port: number, backend: Backend): Promise<Outcome> {
  const srv = createServer({ host, port, reusePort: true, ...backend.receive });
  const addr = await srv.listen();
  r.log(`waiting for ${o.connections === 1 ? 'a connection' : `${o.connections} connections`} on ${addr.address} port ${addr.port}`);
  r.event('listening', { address: addr.address, port: addr.port, connections: o.connections });
  const running: Promise<ConnectionResult>[] = [];
  try {
    while (running.length < o.connections) {
      const sock = await srv.accept();
      const peer = sock.remoteAddress();
      r.log(`got connection${o.connections === 1 ? '' : ` ${running.length}`} from ${peer?.address} port ${peer?.port}`);
      r.event('connection', { connection: running.length, peer });
      running.push(receiveConnection(o, r, sock, running.length, backend));
    }
  } finally {
    srv.close();
    // An accept that failed leaves the accepted connections running: they
    // end (and close their sockets) before the NIC set-up is undone.
    if (running.length < o.connections) await Promise.allSettled(running);
  }
  const results = await Promise.all(running);
  const connections = results.map((c) => c.report);
  if (results.length === 1) return { ...results[0]!.outcome, connections };
  const failed = results.findIndex((c) => c.outcome.result !== 'ok');
  if (failed < 0) {
    const queues = new Set(connections.map((c) => c.rxQueue).filter((q) => q !== undefined));
    const spread = queues.size > 0 ? ` over RX queue(s) ${[...queues].sort((a, b) => Number(a) - Number(b)).join(',')}` : '';
    return { ...ok(`${results.length} connections received${spread}`), connections };
  }
  const first = results[failed]!.outcome;
  const count = results.filter((c) => c.outcome.result !== 'ok').length;
  return { ...first, message: `${count} of ${results.length} connections failed; connection ${failed}: ${first.message}`, connections };
}

/** Receives one connection until its peer closes; never throws: a failure is the outcome. */
async function receiveConnection(
  o: NcOptions,
  r: Reporter,
  sock: DevmemSocket,
  index: number,
  backend: Backend,
): Promise<ConnectionResult> {
  const peer = sock.remoteAddress();
  const validator = o.validate === undefined ? undefined : new PatternValidator(o.validate);
  const many = o.connections > 1;
  const prefix = many ? `connection ${index}: ` : '';
  let scratch = Buffer.allocUnsafe(0);
  let pageAligned = 0;
  let unaligned = 0;
  let copiedSeen = false;
  let outcome: Outcome | undefined;
  try {
    for await (const batch of sock) {
      if (batch.bytes > scratch.length) scratch = Buffer.allocUnsafe(Math.max(batch.bytes, scratch.length * 2));
      const data = batch.copyOut(backend.area, scratch).subarray(0, batch.bytes);
      for (let i = 0; i < batch.count; i++) {
        if (batch.kinds[i] !== FragmentKind.Dmabuf) continue;
        if (batch.sizes[i]! % 4096 === 0) pageAligned++;
        else unaligned++;
      }
      if (batch.linearBytes > 0) r.log(`${prefix}received ${batch.linearBytes} linear bytes (SCM_DEVMEM_LINEAR)`);
      if (batch.copiedBytes > 0 && !copiedSeen) {
        copiedSeen = true;
        r.log(
          `${prefix}warning: the kernel copies into the zcrx area (copy fallback): the flow misses the queue, or header split did not hold`,
        );
      }
      if (validator) {
        for (const m of validator.check(data)) {
          r.log(`${prefix}pattern mismatch at byte ${m.position}: expected 0x${m.expected.toString(16)}, got 0x${m.actual.toString(16)}`);
          r.event('mismatch', { ...(many ? { connection: index } : {}), ...m });
        }
        if (validator.mismatches > 20) {
          outcome = fail(`more than 20 bytes differ from the -v ${o.validate} pattern`);
          break;
        }
      } else if (!o.json) {
        if (!process.stdout.write(Buffer.from(data))) await once(process.stdout, 'drain');
      }
    }
  } catch (e) {
    outcome = fromError(e);
  }
  // The kernel marks the socket with the NAPI instance its data came through.
  const rxQueue = (await incomingQueue(sock, backend.ifindex).catch(() => null)) ?? undefined;
  const s = sock.stats();
  sock.close();
  if (outcome === undefined)
    outcome =
      validator && validator.mismatches > 0
        ? fail(`${validator.mismatches} byte(s) differ from the -v ${o.validate} pattern`)
        : ok(validator ? `validated ${validator.position} bytes` : undefined);
  const zcrx = backend.receive.zcrx !== undefined;
  r.log(
    `${many ? `connection ${index}` : 'client'} exited: ${s.bytes} bytes, ${s.fragments} fragments (${pageAligned} page-aligned), ` +
      (zcrx ? `${s.copiedBytes} bytes copied by the kernel` : `${s.dontneedCalls} DONTNEED calls`) +
      (rxQueue === undefined ? '' : `, RX queue ${rxQueue}`),
  );
  r.event('received', {
    ...(many ? { connection: index } : {}),
    backend: zcrx ? 'zcrx' : 'devmem',
    bytes: s.bytes,
    fragments: s.fragments,
    dmabufBytes: s.dmabufBytes,
    linearBytes: s.linearBytes,
    copiedBytes: s.copiedBytes,
    pageAlignedFragments: pageAligned,
    unalignedFragments: unaligned,
    dontneedCalls: s.dontneedCalls,
    releasedTokens: s.releasedTokens,
    ...(rxQueue === undefined ? {} : { rxQueue }),
    memory: backend.memory,
    ...backend.summary?.(),
  });
  const report: Fields = {
    connection: index,
    peer,
    bytes: s.bytes,
    verdict: outcome.result === 'ok' ? (validator ? 'valid' : 'received') : 'failed',
    ...(rxQueue === undefined ? {} : { rxQueue }),
    ...(outcome.result === 'ok' ? {} : { message: outcome.message }),
  };
  return { outcome, report };
}

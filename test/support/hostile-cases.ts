/**
 * Hostile input at the public API, as one table shared by the host suite
 * (veth, no dma-buf exporter) and the guest suite (patched netdevsim,
 * udmabuf), and the one runner both register it with. Every case must end in
 * a TypeError or a DevmemError with the named reason, and leave nothing
 * behind: no extra fd, no bound queue, no changed ring or channel setting.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';

import {
  allocDmaHeap,
  allocCuda,
  allocDrm,
  allocRocm,
  allocUdmabuf,
  bindRx,
  bindTx,
  connect,
  createServer,
  DevmemError,
  DmaBuf,
  ethtool,
  netdev,
  type DevmemReason,
  type DevmemSocket,
  type FragmentBatch,
  type ReceiveOptions,
  type RxBinding,
  type TxBinding,
} from '../../lib/index';

export interface HostileFixture {
  ifname: string;
  ifindex: number;
  rxQueues: number;
  /** An open dma-buf of at least 64 KiB (guest only). */
  dmabuf?: DmaBuf;
  /** A dma-buf that was closed (guest only). */
  closedDmabuf?: DmaBuf;
  /** An open TX binding of `dmabuf` (guest only). */
  txBinding?: TxBinding;
  /** An RX binding that was closed (guest only). */
  closedRxBinding?: RxBinding;
  /** A batch that holds dma-buf fragments, on an open socket (guest only). */
  dmabufBatch?(): Promise<{ batch: FragmentBatch; done(): void }>;
}

export type Need = 'dmabuf' | 'binding' | 'dmabufBatch';

export interface HostileCase {
  name: string;
  needs?: Need[];
  expect: 'TypeError' | DevmemReason;
  run(fx: HostileFixture): unknown;
}

/** An fd number that is certainly not open in this process. */
const NOT_OPEN = 0x7ffff000;

/** A connected pair of addon sockets over loopback; closes both when fn is done. */
async function withPair<T>(
  fn: (client: DevmemSocket, peer: DevmemSocket) => Promise<T>,
  opts: Pick<ReceiveOptions, 'linearLifetime'> = {},
): Promise<T> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...opts });
  await server.listen();
  const client = await connect({ host: '127.0.0.1', port: server.address()!.port });
  const peer = await server.accept();
  server.close();
  try {
    return await fn(client, peer);
  } finally {
    client.close();
    peer.close();
  }
}

/** A host-data batch read from a loopback pair (no dma-buf tokens). */
async function withHostBatch<T>(
  fn: (peer: DevmemSocket, b: FragmentBatch) => T | Promise<T>,
  opts: Pick<ReceiveOptions, 'linearLifetime'> = {},
): Promise<T> {
  return withPair(async (client, peer) => {
    await client.write(Buffer.from('hostile'));
    const b = (await peer.read())!;
    return fn(peer, b);
  }, opts);
}

function withFile<T>(fn: (fd: number) => T): T {
  const fd = fs.openSync('/proc/self/status', 'r');
  try {
    return fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** An fd of a plain TCP socket made by Node, not a dma-buf. */
async function withSocketFd<T>(fn: (fd: number) => Promise<T>): Promise<T> {
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  try {
    return await fn((c as unknown as { _handle: { fd: number } })._handle.fd);
  } finally {
    c.destroy();
    await new Promise((r) => srv.close(r));
  }
}

const u = <T>(v: unknown) => v as T;

export const hostileCases: HostileCase[] = [
  // --- memory: wrong types, negative, NaN, huge, fractional sizes
  { name: 'allocUdmabuf size as a string', expect: 'TypeError', run: () => allocUdmabuf(u('1048576')) },
  { name: 'allocUdmabuf negative size', expect: 'INVALID_ARGUMENT', run: () => allocUdmabuf(-4096) },
  { name: 'allocUdmabuf NaN size', expect: 'INVALID_ARGUMENT', run: () => allocUdmabuf(NaN) },
  { name: 'allocUdmabuf zero size', expect: 'INVALID_ARGUMENT', run: () => allocUdmabuf(0) },
  { name: 'allocUdmabuf fractional size', expect: 'INVALID_ARGUMENT', run: () => allocUdmabuf(4096.5) },
  { name: 'allocUdmabuf size not page aligned', expect: 'INVALID_ARGUMENT', run: () => allocUdmabuf(4097) },
  { name: 'allocUdmabuf huge size (2^52)', expect: 'UDMABUF_SIZE_LIMIT', run: () => allocUdmabuf(2 ** 52) },
  { name: 'allocUdmabuf Infinity', expect: 'INVALID_ARGUMENT', run: () => allocUdmabuf(Infinity) },
  { name: 'allocUdmabuf options not an object', expect: 'TypeError', run: () => allocUdmabuf(4096, u(null)) },
  { name: 'allocDmaHeap heap name with a path', expect: 'INVALID_ARGUMENT', run: () => allocDmaHeap(4096, { heap: '../../dev/mem' }) },
  { name: 'allocDmaHeap heap as a number', expect: 'TypeError', run: () => allocDmaHeap(4096, { heap: u(1) }) },
  { name: 'allocDrm unaligned size', expect: 'INVALID_ARGUMENT', run: () => allocDrm(4095) },
  { name: 'allocCuda unaligned size', expect: 'INVALID_ARGUMENT', run: () => allocCuda(4095) },
  { name: 'allocRocm unaligned size', expect: 'INVALID_ARGUMENT', run: () => allocRocm(4095) },
  { name: 'allocRocm device not a PCI bus id', expect: 'INVALID_ARGUMENT', run: () => allocRocm(4096, { device: 'gpu0' }) },
  { name: 'allocCuda device as an object', expect: 'TypeError', run: () => allocCuda(4096, { device: u({}) }) },
  { name: 'allocCuda device not a PCI bus id', expect: 'INVALID_ARGUMENT', run: () => allocCuda(4096, { device: '../0' }) },
  { name: 'allocDrm device outside /dev/dri', expect: 'INVALID_ARGUMENT', run: () => allocDrm(4096, { device: '/dev/mem' }) },
  { name: 'allocDrm device that does not exist', expect: 'NO_DRM', run: () => allocDrm(4096, { device: '/dev/dri/card99' }) },
  { name: 'allocDrm device as a number', expect: 'TypeError', run: () => allocDrm(4096, { device: u(0) }) },
  { name: 'allocDmaHeap heap name as the old positional argument', expect: 'TypeError', run: () => allocDmaHeap(4096, u('system')) },
  { name: 'allocDmaHeap negative size', expect: 'INVALID_ARGUMENT', run: () => allocDmaHeap(-1) },
  // --- adopting fds: foreign, closed, wrong type
  { name: 'DmaBuf.fromFd of a regular file', expect: 'NOT_A_DMABUF', run: () => withFile((fd) => DmaBuf.fromFd(fd)) },
  { name: 'DmaBuf.fromFd of a TCP socket', expect: 'NOT_A_DMABUF', run: () => withSocketFd(async (fd) => DmaBuf.fromFd(fd)) },
  { name: 'DmaBuf.fromFd of an fd that is not open', expect: 'NOT_A_DMABUF', run: () => DmaBuf.fromFd(NOT_OPEN) },
  { name: 'DmaBuf.fromFd negative fd', expect: 'INVALID_ARGUMENT', run: () => DmaBuf.fromFd(-1) },
  { name: 'DmaBuf.fromFd fd as a string', expect: 'TypeError', run: () => DmaBuf.fromFd(u('3')) },
  // --- CPU views: offsets past the end, bad access, closed buffer
  { name: 'dmabuf read past the end', needs: ['dmabuf'], expect: 'INVALID_ARGUMENT', run: (fx) => fx.dmabuf!.read(fx.dmabuf!.size, 1) },
  {
    name: 'dmabuf write straddling the end',
    needs: ['dmabuf'],
    expect: 'INVALID_ARGUMENT',
    run: (fx) => fx.dmabuf!.write(fx.dmabuf!.size - 1, Buffer.alloc(2)),
  },
  { name: 'dmabuf read at a negative offset', needs: ['dmabuf'], expect: 'INVALID_ARGUMENT', run: (fx) => fx.dmabuf!.read(-1, 1) },
  { name: 'dmabuf read with NaN length', needs: ['dmabuf'], expect: 'INVALID_ARGUMENT', run: (fx) => fx.dmabuf!.read(0, NaN) },
  { name: 'dmabuf read with offset 2^53', needs: ['dmabuf'], expect: 'INVALID_ARGUMENT', run: (fx) => fx.dmabuf!.read(2 ** 53, 1) },
  { name: 'dmabuf write of a string', needs: ['dmabuf'], expect: 'TypeError', run: (fx) => fx.dmabuf!.write(0, u('abc')) },
  {
    name: 'dmabuf view with an unknown access mode',
    needs: ['dmabuf'],
    expect: 'INVALID_ARGUMENT',
    run: (fx) => fx.dmabuf!.map().withView(0, 1, u('exec'), () => 0),
  },
  {
    name: 'dmabuf view without a function',
    needs: ['dmabuf'],
    expect: 'TypeError',
    run: (fx) => fx.dmabuf!.map().withView(0, 1, 'read', u(undefined)),
  },
  { name: 'closed dmabuf map()', needs: ['dmabuf'], expect: 'CLOSED', run: (fx) => fx.closedDmabuf!.map() },
  {
    name: 'closed dmabuf used again after a double close',
    needs: ['dmabuf'],
    expect: 'CLOSED',
    run: (fx) => (fx.closedDmabuf!.close(), fx.closedDmabuf!.read(0, 1)),
  },
  // --- bindings: queue lists empty, duplicated, out of range; bad fds
  { name: 'bindRx with an empty queue list', expect: 'INVALID_ARGUMENT', run: (fx) => bindRx(fx.ifname, [], NOT_OPEN) },
  { name: 'bindRx with a queue listed twice', expect: 'INVALID_ARGUMENT', run: (fx) => bindRx(fx.ifname, [0, 0], NOT_OPEN) },
  { name: 'bindRx with a negative queue', expect: 'INVALID_ARGUMENT', run: (fx) => bindRx(fx.ifname, [-1], NOT_OPEN) },
  { name: 'bindRx with a fractional queue', expect: 'INVALID_ARGUMENT', run: (fx) => bindRx(fx.ifname, [0.5], NOT_OPEN) },
  { name: 'bindRx with a NaN queue', expect: 'INVALID_ARGUMENT', run: (fx) => bindRx(fx.ifname, [NaN], NOT_OPEN) },
  { name: 'bindRx with queue 2^32', expect: 'INVALID_ARGUMENT', run: (fx) => bindRx(fx.ifname, [2 ** 32], NOT_OPEN) },
  { name: 'bindRx with queues as a string', expect: 'TypeError', run: (fx) => bindRx(fx.ifname, u('0,1'), NOT_OPEN) },
  {
    name: 'bindRx with a queue beyond the device',
    needs: ['dmabuf'],
    expect: 'QUEUE_OUT_OF_RANGE',
    run: (fx) => bindRx(fx.ifname, [fx.rxQueues + 3], fx.dmabuf!),
  },
  {
    name: 'bindRx with a valid queue and one out of range',
    needs: ['dmabuf'],
    expect: 'QUEUE_OUT_OF_RANGE',
    run: (fx) => bindRx(fx.ifname, [1, fx.rxQueues], fx.dmabuf!),
  },
  {
    name: 'bindRx with the fd of a regular file',
    needs: ['dmabuf'],
    expect: 'NOT_A_DMABUF',
    run: (fx) => withFile((fd) => bindRx(fx.ifname, [0], fd)),
  },
  {
    name: 'bindRx with a TCP socket fd',
    needs: ['dmabuf'],
    expect: 'NOT_A_DMABUF',
    run: (fx) => withSocketFd((fd) => bindRx(fx.ifname, [0], fd)),
  },
  { name: 'bindRx with an fd that is not open', needs: ['dmabuf'], expect: 'NOT_A_DMABUF', run: (fx) => bindRx(fx.ifname, [0], NOT_OPEN) },
  { name: 'bindRx with a closed dma-buf', needs: ['dmabuf'], expect: 'CLOSED', run: (fx) => bindRx(fx.ifname, [0], fx.closedDmabuf!) },
  { name: 'bindRx with fd NaN', expect: 'INVALID_ARGUMENT', run: (fx) => bindRx(fx.ifname, [0], NaN) },
  {
    name: 'bindRx with rxPageSize not a power of two',
    expect: 'INVALID_ARGUMENT',
    run: (fx) => bindRx(fx.ifname, [0], NOT_OPEN, { rxPageSize: 6000 }),
  },
  {
    name: 'bindRx on an interface that does not exist',
    needs: ['dmabuf'],
    expect: 'NO_SUCH_DEVICE',
    run: (fx) => bindRx('nosuchif0', [0], fx.dmabuf!),
  },
  { name: 'bindRx on ifindex -1', expect: 'INVALID_ARGUMENT', run: () => bindRx(-1, [0], NOT_OPEN) },
  { name: 'bindRx with the interface as an object', expect: 'TypeError', run: () => bindRx(u({}), [0], NOT_OPEN) },
  { name: 'bindTx with the fd of a regular file', expect: 'NOT_A_DMABUF', run: (fx) => withFile((fd) => bindTx(fx.ifname, fd)) },
  { name: 'bindTx with a closed dma-buf', needs: ['dmabuf'], expect: 'CLOSED', run: (fx) => bindTx(fx.ifname, fx.closedDmabuf!) },
  { name: 'bindTx with { fd } as a string', expect: 'TypeError', run: (fx) => bindTx(fx.ifname, u({ fd: '3' })) },
  // --- NIC configuration
  { name: 'setRings with a negative hds-thresh', expect: 'INVALID_ARGUMENT', run: (fx) => ethtool.setRings(fx.ifname, { hdsThresh: -1 }) },
  {
    name: 'setRings with an unknown tcpDataSplit',
    expect: 'INVALID_ARGUMENT',
    run: (fx) => ethtool.setRings(fx.ifname, { tcpDataSplit: u('always') }),
  },
  { name: 'setRings with a fractional ring size', expect: 'INVALID_ARGUMENT', run: (fx) => ethtool.setRings(fx.ifname, { rx: 100.5 }) },
  { name: 'setRings with a ring size as a string', expect: 'TypeError', run: (fx) => ethtool.setRings(fx.ifname, { rx: u('512') }) },
  { name: 'setRings with an unknown parameter', expect: 'INVALID_ARGUMENT', run: (fx) => ethtool.setRings(fx.ifname, u({ bogus: 1 })) },
  { name: 'setChannels with NaN', expect: 'INVALID_ARGUMENT', run: (fx) => ethtool.setChannels(fx.ifname, { rxCount: NaN }) },
  { name: 'setChannels with counts null', expect: 'TypeError', run: (fx) => ethtool.setChannels(fx.ifname, u(null)) },
  { name: 'listQueues of ifindex 0', expect: 'INVALID_ARGUMENT', run: () => netdev.listQueues(0) },
  // --- sockets: options, closed sockets, offsets past the end
  { name: 'createServer with port -1', expect: 'INVALID_ARGUMENT', run: () => createServer({ port: -1 }) },
  { name: 'createServer with port 65536', expect: 'INVALID_ARGUMENT', run: () => createServer({ port: 65536 }) },
  {
    name: 'createServer with maxOutstandingFragments 0',
    expect: 'INVALID_ARGUMENT',
    run: () => createServer({ maxOutstandingFragments: 0 }),
  },
  { name: 'createServer with highWaterMark Infinity', expect: 'INVALID_ARGUMENT', run: () => createServer({ highWaterMark: Infinity }) },
  {
    name: 'createServer with a closed binding',
    needs: ['binding'],
    expect: 'CLOSED',
    run: (fx) => createServer({ binding: fx.closedRxBinding! }),
  },
  {
    name: 'createServer with a TX binding for its RX binding',
    needs: ['binding'],
    expect: 'TypeError',
    run: (fx) => createServer({ binding: fx.txBinding! }),
  },
  {
    name: 'createServer with a closed dma-buf',
    needs: ['dmabuf'],
    expect: 'CLOSED',
    run: (fx) => createServer({ dmabuf: fx.closedDmabuf! }),
  },
  { name: 'connect with host as a number', expect: 'TypeError', run: () => connect({ host: u(127), port: 1 }) },
  { name: 'connect with port NaN', expect: 'INVALID_ARGUMENT', run: () => connect({ host: '127.0.0.1', port: NaN }) },
  {
    name: 'connect with receiveBufferSize 1.5',
    expect: 'INVALID_ARGUMENT',
    run: () => connect({ host: '127.0.0.1', port: 1, receiveBufferSize: 1.5 }),
  },
  {
    name: 'read from a closed socket',
    expect: 'CLOSED',
    run: () => withPair(async (_c, peer) => (peer.close(), peer.read())),
  },
  {
    name: 'write to a closed socket after a double close',
    expect: 'CLOSED',
    run: () => withPair(async (client) => (client.close(), client.close(), client.write(Buffer.from('x')))),
  },
  { name: 'write a string', expect: 'TypeError', run: () => withPair(async (client) => client.write(u('text'))) },
  {
    name: 'sendDmabuf with a range past the end',
    expect: 'INVALID_ARGUMENT',
    run: () => withPair(async (client) => client.sendDmabuf({ id: 1, size: 65536 }, { offset: 65536, length: 1 })),
  },
  {
    name: 'sendDmabuf with a negative offset',
    expect: 'INVALID_ARGUMENT',
    run: () => withPair(async (client) => client.sendDmabuf({ id: 1, size: 65536 }, { offset: -4096, length: 4096 })),
  },
  {
    name: 'sendDmabuf with a huge length',
    expect: 'INVALID_ARGUMENT',
    run: () =>
      withPair(async (client) =>
        client.sendDmabuf({ id: 1, size: 65536 }, [
          { offset: 0, length: 4096 },
          { offset: 0, length: 2 ** 60 },
        ]),
      ),
  },
  {
    name: 'sendDmabuf with no ranges',
    expect: 'INVALID_ARGUMENT',
    run: () => withPair(async (client) => client.sendDmabuf({ id: 1, size: 65536 }, [])),
  },
  {
    name: 'sendDmabuf with a closed TX binding',
    expect: 'INVALID_BINDING',
    run: () => withPair(async (client) => client.sendDmabuf({ id: 1, size: 65536, closed: true }, { offset: 0, length: 1 })),
  },
  {
    name: 'sendDmabuf on a closed socket',
    expect: 'CLOSED',
    run: () => withPair(async (client) => (client.close(), client.sendDmabuf({ id: 1, size: 65536 }, { offset: 0, length: 1 }))),
  },
  // --- batches: released twice, after close, copied with the wrong buffer
  { name: 'release a batch twice', expect: 'ALREADY_RELEASED', run: () => withHostBatch((_p, b) => (b.release(), b.release())) },
  {
    name: "createServer with linearLifetime 'forever'",
    expect: 'INVALID_ARGUMENT',
    run: () => createServer({ linearLifetime: u('forever') }),
  },
  {
    name: 'connect with linearLifetime true',
    expect: 'TypeError',
    run: () => connect({ host: '127.0.0.1', port: 1, linearLifetime: u(true) }),
  },
  {
    name: "copyOut of a released batch with linearLifetime 'batch'",
    expect: 'ALREADY_RELEASED',
    run: () => withHostBatch((_p, b) => (b.release(), b.copyOut(undefined)), { linearLifetime: 'batch' }),
  },
  {
    name: "linearChunks of a batch whose socket closed, linearLifetime 'batch'",
    expect: 'CLOSED',
    run: () => withHostBatch((peer, b) => (peer.close(), b.linearChunks()), { linearLifetime: 'batch' }),
  },
  { name: 'release a batch after its socket closed', expect: 'CLOSED', run: () => withHostBatch((peer, b) => (peer.close(), b.release())) },
  {
    name: 'copyOut into a target too small',
    expect: 'INVALID_ARGUMENT',
    run: () => withHostBatch((_p, b) => b.copyOut(undefined, new Uint8Array(1))),
  },
  {
    name: 'release a dma-buf batch twice',
    needs: ['dmabufBatch'],
    expect: 'ALREADY_RELEASED',
    run: async (fx) => {
      const { batch, done } = await fx.dmabufBatch!();
      try {
        batch.release();
        batch.release();
      } finally {
        done();
      }
    },
  },
  {
    name: 'release a dma-buf batch after its socket closed',
    needs: ['dmabufBatch'],
    expect: 'CLOSED',
    run: async (fx) => {
      const { batch, done } = await fx.dmabufBatch!();
      done();
      batch.release();
    },
  },
  {
    name: 'copyOut of dma-buf fragments from a buffer too small for their offsets',
    needs: ['dmabufBatch'],
    expect: 'INVALID_ARGUMENT',
    run: async (fx) => {
      const { batch, done } = await fx.dmabufBatch!();
      const small = allocUdmabuf(4096);
      try {
        // Fragments land anywhere in the bound buffer; one page cannot hold them all.
        const maxEnd = Math.max(...Array.from(batch.offsets, (o, i) => o + batch.sizes[i]!));
        if (maxEnd <= 4096) throw new Error('every fragment fits in one page; the case proves nothing');
        batch.copyOut(small);
      } finally {
        small.close();
        done();
      }
    },
  },
];

/** What must not change across a hostile call. */
async function sideEffects(fx: HostileFixture): Promise<Record<string, unknown>> {
  const settle = async <T>(p: Promise<T>): Promise<T | string> => p.catch((e: unknown) => `error: ${(e as Error).message}`);
  return {
    fds: fs.readdirSync('/proc/self/fd').length,
    boundQueues: await settle(
      netdev.listQueues(fx.ifindex).then((qs) => qs.filter((q) => q.dmabuf !== undefined).map((q) => `${q.type}${q.id}:${q.dmabuf}`)),
    ),
    rings: await settle(ethtool.getRings(fx.ifname)),
    channels: await settle(ethtool.getChannels(fx.ifname)),
  };
}

/**
 * sideEffects() once closes have run: libuv closes handles (and their fds)
 * on a later loop turn. Without `expected`, waits for two equal readings in
 * a row; with it, gives the state up to two seconds to match.
 */
async function settled(fx: HostileFixture, expected?: Record<string, unknown>): Promise<Record<string, unknown>> {
  let now = await sideEffects(fx);
  for (let i = 0; i < 40; i++) {
    if (expected && JSON.stringify(now) === JSON.stringify(expected)) break;
    await new Promise((r) => setTimeout(r, 50));
    const next = await sideEffects(fx);
    if (!expected && JSON.stringify(next) === JSON.stringify(now)) break;
    now = next;
  }
  return now;
}

export interface HostileRunOptions {
  /** Words after "covers at least 40 inputs" in the title of the count test. */
  scope?: string;
  /** Also require a DevmemError's message to say what was wrong (more than 10 characters). */
  messageSaysWhat?: boolean;
}

/**
 * Registers, in the calling describe(), a test that `cases` holds at least 40
 * inputs and one test per case: the call ends in a TypeError or a
 * DevmemError with the case's reason, and settled() reads back what it read
 * before. `fixture` is called inside each test, once before() has made it.
 */
export function itRejectsHostileInput(cases: readonly HostileCase[], fixture: () => HostileFixture, options: HostileRunOptions = {}): void {
  it(`covers at least 40 inputs${options.scope ? ` ${options.scope}` : ''} (${cases.length})`, () => {
    assert.ok(cases.length >= 40, `${cases.length} cases`);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.expect}`, async () => {
      const fx = fixture();
      const before = await settled(fx);
      let thrown: unknown;
      try {
        await c.run(fx);
      } catch (e) {
        thrown = e;
      }
      if (c.expect === 'TypeError') assert.ok(thrown instanceof TypeError, `expected a TypeError, got ${String(thrown)}`);
      else {
        assert.ok(thrown instanceof DevmemError, `expected DevmemError ${c.expect}, got ${String(thrown)}`);
        assert.equal(thrown.reason, c.expect, thrown.message);
        if (options.messageSaysWhat) assert.ok(thrown.message.length > 10, 'the message says what was wrong');
      }
      assert.deepEqual(await settled(fx, before), before, 'nothing was left behind');
    });
  }
}

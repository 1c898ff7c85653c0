// io_uring zero-copy receive end to end: the kernel's zcrx code (7.3.4,
// CONFIG_IO_URING_ZCRX=y) on the patched netdevsim, whose unreadable page
// pools serve zcrx areas as they serve devmem bindings. Flows reach the zcrx
// queue by an n-tuple rule, as they would on a NIC.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as dc from 'node:diagnostics_channel';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import {
  allocDrm,
  allocUdmabuf,
  bindRx,
  connect,
  createServer,
  DevmemError,
  type DmaBuf,
  ethtool,
  FragmentKind,
  type FragmentBatch,
  netdev,
  NicConfig,
  openZcrx,
  type ZcrxQueue,
  zcrxSupport,
} from '../../../lib/index';
import { countMismatches } from '../../support/pattern.cjs';
import { enableHeaderSplit } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';
import { startRemote } from '../helpers/remote';
import { sendFromRemote } from '../helpers/traffic';
import { verifyPatternStream } from '../helpers/verify-stream';

const env = e2eEnv();
const MiB = 1024 * 1024;
const ZQ = 1; // the zcrx queue
const SERVE = path.join(__dirname, '../fixtures/serve-pattern.cjs');
let nextPort = 7601;

function rejectsWith(reason: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof DevmemError, String(e));
    assert.equal(e.reason, reason, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

/** Steers the flow to `queue` for the duration of `fn`. */
async function steered<T>(port: number, queue: number, fn: () => Promise<T>): Promise<T> {
  const nic = await NicConfig.open(env.ifLocal);
  try {
    await nic.steerFlow({ serverIp: env.addr4Local, port, queue });
    return await fn();
  } finally {
    nic.close();
  }
}

interface Receipt {
  bytes: number;
  mismatches: number;
  fragments: number;
  kinds: Record<number, number>;
  ids: Set<number>;
  stats: ReturnType<import('../../../lib/index').DevmemSocket['stats']>;
}

/** Receives one connection of `total` pattern bytes through `queue`, checking every byte in its area. */
async function receiveThrough(
  queue: ZcrxQueue,
  total: number,
  port: number,
  extra: { copied?: 'accept' | 'error' } = {},
): Promise<Receipt> {
  const server = createServer({ host: env.addr4Local, port, zcrx: queue, ...extra });
  await server.listen();
  const sending = sendFromRemote(env.addr4Local, port, total);
  const sock = await server.accept();
  const r: Receipt = { bytes: 0, mismatches: 0, fragments: 0, kinds: {}, ids: new Set(), stats: sock.stats() };
  try {
    for await (const batch of sock) {
      r.fragments += batch.count;
      for (let i = 0; i < batch.count; i++) {
        r.kinds[batch.kinds[i]!] = (r.kinds[batch.kinds[i]!] ?? 0) + 1;
        r.ids.add(batch.dmabufIds[i]!);
      }
      const data = batch.copyOut(queue.area);
      r.mismatches += countMismatches(data, r.bytes);
      r.bytes += data.length;
    }
    r.stats = sock.stats();
  } finally {
    sock.close();
    server.close();
  }
  await sending;
  return r;
}

describe('io_uring zcrx on the patched netdevsim', function () {
  this.timeout(300_000);
  let restoreRings: () => Promise<void>;
  before(async () => {
    restoreRings = await enableHeaderSplit();
  });
  after(async () => restoreRings());

  it('the kernel and this build have zcrx, with copy statistics', () => {
    const s = zcrxSupport();
    assert.equal(s.built, true, JSON.stringify(s));
    assert.equal(s.zcrx, true, JSON.stringify(s));
    assert.equal(s.events, true, 'Linux 7.3 reports ZCRX_FEATURE_EVENT');
  });

  it('receives 64 MiB into a host-memory area, intact, every buffer returned to the refill ring', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 8 * MiB } });
    try {
      assert.equal(queue.area.size, 8 * MiB);
      assert.equal(queue.rxBufLen, 4096);
      assert.equal(queue.copyStats, true);
      const port = nextPort++;
      const total = 64 * MiB;
      const r = await steered(port, ZQ, () => receiveThrough(queue, total, port));
      assert.equal(r.bytes, total);
      assert.equal(r.mismatches, 0, 'every byte read back from the area matches the pattern');
      assert.deepEqual(r.kinds, { [FragmentKind.Dmabuf]: r.fragments }, 'all zero-copy: none copied, none linear');
      assert.deepEqual([...r.ids], [queue.fragmentId]);
      assert.equal(r.stats.dmabufBytes, total);
      assert.equal(r.stats.copiedBytes, 0);
      assert.equal(r.stats.outstandingTokens, 0);
      assert.equal(r.stats.releasedTokens, r.fragments);
      const q = queue.stats();
      assert.equal(q.kernelCopyBytes, 0, 'the kernel copied nothing');
      assert.equal(q.returnedBuffers, r.fragments, 'every completion went back to the refill ring');
      assert.equal(q.sockets, 0);
    } finally {
      await queue.close();
    }
  });

  for (const [name, alloc] of [
    ['a udmabuf', () => allocUdmabuf(8 * MiB)],
    ['a vgem DRM buffer', () => allocDrm(8 * MiB)],
  ] as const) {
    it(`receives 32 MiB into ${name} area, intact`, async () => {
      const dmabuf: DmaBuf = alloc();
      try {
        const queue = await openZcrx(env.ifLocal, ZQ, { area: dmabuf });
        try {
          assert.equal(queue.area, dmabuf);
          const port = nextPort++;
          const r = await steered(port, ZQ, () => receiveThrough(queue, 32 * MiB, port));
          assert.equal(r.bytes, 32 * MiB);
          assert.equal(r.mismatches, 0);
          assert.equal(r.stats.dmabufBytes, 32 * MiB);
          assert.equal(queue.stats().returnedBuffers, r.fragments);
        } finally {
          await queue.close();
        }
      } finally {
        dmabuf.close();
      }
    });
  }

  it('connect({ zcrx }): a client socket receives 16 MiB through the queue, intact', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 8 * MiB } });
    try {
      const port = nextPort++;
      const total = 16 * MiB;
      // The flow's local end is the client: steer by the server's address and port, its source.
      const location = ethtool.addFlowRule(env.ifLocal, { flowType: 'tcp4', srcIp: env.addr4Remote, srcPort: port, queue: ZQ });
      try {
        const server = startRemote([process.execPath, SERVE, env.addr4Remote, String(port), String(total)]);
        await server.ready;
        const sock = await connect({ host: env.addr4Remote, port, zcrx: queue });
        const r = await verifyPatternStream(sock, queue.area);
        const s = sock.stats();
        sock.close();
        assert.deepEqual(await server.result, { sent: total });
        assert.deepEqual(r, { bytes: total, mismatches: 0 });
        assert.equal(s.dmabufBytes, total, 'all zero-copy');
        assert.equal(s.outstandingTokens, 0);
      } finally {
        ethtool.deleteFlowRule(env.ifLocal, location);
      }
    } finally {
      await queue.close();
    }
  });

  it('copy fallback: a flow steered to another queue arrives intact, every fragment counted as copied', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 8 * MiB } });
    try {
      const port = nextPort++;
      const total = 4 * MiB;
      const r = await steered(port, 0, () => receiveThrough(queue, total, port));
      assert.equal(r.bytes, total);
      assert.equal(r.mismatches, 0, 'the copied bytes are intact in the area');
      assert.deepEqual(r.kinds, { [FragmentKind.Copied]: r.fragments });
      assert.equal(r.stats.copiedBytes, total);
      assert.equal(r.stats.dmabufBytes, 0);
      const q = queue.stats();
      assert.equal(q.kernelCopyBytes, total, "the kernel's own copy statistics agree");
      assert.equal(q.copiedBytes, total);
      assert.ok(q.copyEvents >= 1, 'ZCRX_EVENT_COPY was reported');
    } finally {
      await queue.close();
    }
  });

  it("with copied: 'error' a copied fragment fails the socket with COPY_FALLBACK", async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 4 * MiB } });
    try {
      const port = nextPort++;
      await steered(port, 0, async () => {
        const server = createServer({ host: env.addr4Local, port, zcrx: queue, copied: 'error' });
        await server.listen();
        const sending = sendFromRemote(env.addr4Local, port, MiB).catch(() => undefined);
        const sock = await server.accept();
        await assert.rejects(async () => {
          for await (const _ of sock);
        }, rejectsWith('COPY_FALLBACK'));
        sock.close();
        server.close();
        await sending;
      });
    } finally {
      await queue.close();
    }
  });

  it('a 256 KiB area starves while the consumer holds it, reports it, and recovers once released', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 256 * 1024 } });
    try {
      const port = nextPort++;
      const total = 2 * MiB;
      await steered(port, ZQ, async () => {
        const server = createServer({
          host: env.addr4Local,
          port,
          zcrx: queue,
          release: 'manual',
          receiveBufferSize: 16 * 1024,
          starvationTimeout: 500,
        });
        await server.listen();
        const sending = sendFromRemote(env.addr4Local, port, total);
        const sock = await server.accept();
        const starved: unknown[] = [];
        sock.on('starved', (info) => starved.push(info));
        const held: FragmentBatch[] = [];
        let pos = 0;
        let bad = 0;
        const take = (b: FragmentBatch) => {
          const data = b.copyOut(queue.area);
          bad += countMismatches(data, pos);
          pos += data.length;
        };
        // Hold everything until the stream has been quiet for a second.
        let next = sock.read();
        for (;;) {
          const b = await Promise.race([next, new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), 1000))]);
          if (b === 'quiet') break;
          assert.ok(b !== null, 'the stream ended while the area was held');
          take(b);
          held.push(b);
          next = sock.read();
        }
        assert.ok(pos < total, `stalled after ${pos} bytes`);
        assert.ok(sock.stats().outstandingBytes <= 256 * 1024);
        assert.ok(starved.length >= 1, "'starved' reported the stall");
        for (const b of held.splice(0)) b.release();
        let b = await next;
        while (b) {
          take(b);
          b.release();
          b = await sock.read();
        }
        sock.close();
        server.close();
        await sending;
        assert.equal(pos, total);
        assert.equal(bad, 0);
      });
    } finally {
      await queue.close();
    }
  });

  it('serves several connections on one interface queue at once', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 16 * MiB } });
    try {
      const port = nextPort++;
      const per = 8 * MiB;
      await steered(port, ZQ, async () => {
        const server = createServer({ host: env.addr4Local, port, zcrx: queue });
        await server.listen();
        const sending = sendFromRemote(env.addr4Local, port, per, { connections: 3 });
        const results = await Promise.all(
          [0, 1, 2].map(async () => {
            const sock = await server.accept();
            const r = await verifyPatternStream(sock, queue.area);
            const s = sock.stats();
            sock.close();
            return { ...r, dmabufBytes: s.dmabufBytes };
          }),
        );
        await sending;
        server.close();
        for (const r of results) assert.deepEqual(r, { bytes: per, mismatches: 0, dmabufBytes: per });
      });
      assert.equal(queue.stats().sockets, 0);
    } finally {
      await queue.close();
    }
  });

  it('receives in a worker thread, and the end of the thread unregisters its queue', async () => {
    const port = nextPort++;
    const entry = path.join(__dirname, '../fixtures/zcrx-worker.ts');
    await steered(port, ZQ, async () => {
      const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, {
        eval: true,
        workerData: { ifname: env.ifLocal, queue: ZQ, host: env.addr4Local, port },
      });
      const done = new Promise<Record<string, unknown>>((resolve, reject) => {
        worker.on('message', (m: Record<string, unknown>) => {
          if (m.listening) sendFromRemote(env.addr4Local, port, 8 * MiB).catch(reject);
          else resolve(m);
        });
        worker.on('error', reject);
      });
      const result = await done;
      assert.deepEqual(result, { bytes: 8 * MiB, mismatches: 0, dmabufBytes: 8 * MiB, owned: true });
      await worker.terminate();
    });
    await waitQueueFree(ZQ);
  });

  it('closing a socket in the middle of a stream returns its buffers; the queue serves the next one', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 4 * MiB } });
    try {
      const port = nextPort++;
      await steered(port, ZQ, async () => {
        const server = createServer({ host: env.addr4Local, port, zcrx: queue, release: 'manual' });
        await server.listen();
        const first = sendFromRemote(env.addr4Local, port, 64 * MiB).catch(() => 'reset');
        const sock = await server.accept();
        let got = 0;
        const held: FragmentBatch[] = [];
        for await (const b of sock) {
          got += b.bytes;
          held.push(b);
          if (got >= MiB) break;
        }
        sock.close(); // with its batches unreleased
        assert.ok(held.every((b) => !b.released));
        assert.equal(await first, 'reset', 'the sender saw the connection go');
        server.close();
        const s = queue.stats();
        assert.equal(s.sockets, 0);
        // Every buffer the queue handed out went back: through the closed socket or straight away.
        assert.equal(s.returnedBuffers, s.dataCompletions, JSON.stringify(s));
      });
      const port2 = nextPort++;
      await steered(port2, ZQ, async () => {
        const r = await receiveThrough(queue, 8 * MiB, port2);
        assert.equal(r.bytes, 8 * MiB);
        assert.equal(r.mismatches, 0);
      });
    } finally {
      await queue.close();
    }
  });

  it('AbortSignal, diagnostics_channel and resetAndDestroy() behave as on devmem sockets', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: 4 * MiB } });
    try {
      const port = nextPort++;
      await steered(port, ZQ, async () => {
        const server = createServer({ host: env.addr4Local, port, zcrx: queue });
        await server.listen();
        const sending = sendFromRemote(env.addr4Local, port, 64 * MiB).catch(() => 'reset');
        const sock = await server.accept();
        const published: unknown[] = [];
        const onBatch = (m: unknown) => published.push(m);
        dc.subscribe('devmem-tcp:rx:batch', onBatch);
        try {
          const first = await sock.read();
          assert.ok(first && first.count > 0);
          assert.ok(
            published.some((m) => (m as { batch: unknown }).batch === first),
            'the batch was published on devmem-tcp:rx:batch',
          );
          first.release();
        } finally {
          dc.unsubscribe('devmem-tcp:rx:batch', onBatch);
        }
        const aborted = new AbortController();
        aborted.abort();
        await assert.rejects(sock.read({ signal: aborted.signal }), (e: unknown) => (e as Error).name === 'AbortError');
        sock.resetAndDestroy();
        assert.equal(sock.closed, true);
        assert.equal(await sending, 'reset');
        server.close();
        const s = queue.stats();
        assert.equal(s.returnedBuffers, s.dataCompletions, JSON.stringify(s));
      });
    } finally {
      await queue.close();
    }
  });

  it("devmem and zcrx refuse each other's queue, each with QUEUE_BUSY", async () => {
    const dmabuf = allocUdmabuf(4 * MiB);
    try {
      const binding = await bindRx(env.ifLocal, [2], dmabuf);
      try {
        await assert.rejects(openZcrx(env.ifLocal, 2, { area: { size: MiB } }), rejectsWith('QUEUE_BUSY', /devmem binding/));
      } finally {
        binding.close();
      }
      const queue = await openZcrx(env.ifLocal, 2, { area: { size: MiB } });
      try {
        await assert.rejects(bindRx(env.ifLocal, [2], dmabuf), rejectsWith('QUEUE_BUSY'));
        await assert.rejects(openZcrx(env.ifLocal, 2, { area: { size: MiB } }), rejectsWith('QUEUE_BUSY', /io_uring/));
      } finally {
        await queue.close();
      }
      // Once closed, the queue takes a devmem binding again.
      (await bindRx(env.ifLocal, [2], dmabuf)).close();
    } finally {
      dmabuf.close();
    }
  });

  it('the queue dump shows the io_uring owner while receiving, and none after close', async () => {
    const queue = await openZcrx(env.ifLocal, ZQ, { area: { size: MiB } });
    const q = await netdev.getQueue(queue.ifindex, 'rx', ZQ);
    assert.ok(q.ioUring !== undefined, JSON.stringify(q));
    await queue.close();
    assert.equal((await netdev.getQueue(queue.ifindex, 'rx', ZQ)).ioUring, undefined);
  });

  describe('refusals, with nothing left registered', () => {
    afterEach(async () => {
      const q = await netdev.getQueue(env.ifindexLocal, 'rx', ZQ);
      assert.equal(q.ioUring, undefined, 'no zcrx instance was left on the queue');
    });

    it('HEADER_SPLIT_DISABLED with header split off', async () => {
      try {
        await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'disabled' });
        await assert.rejects(openZcrx(env.ifLocal, ZQ, { area: { size: MiB } }), rejectsWith('HEADER_SPLIT_DISABLED', /disabled/));
        // netdevsim splits by default: left to the driver it reads "enabled", and the kernel still refuses.
        await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'unknown' });
        await assert.rejects(openZcrx(env.ifLocal, ZQ, { area: { size: MiB } }), rejectsWith('HEADER_SPLIT_DISABLED'));
      } finally {
        await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
      }
    });

    it('INVALID_ARGUMENT for larger buffers in host memory, which is not contiguous enough for them', async () => {
      assert.equal(zcrxSupport().rxBufLen, true, 'Linux 7.3 takes rx_buf_len');
      await assert.rejects(
        openZcrx(env.ifLocal, ZQ, { area: { size: MiB }, rxBufLen: 16384 }),
        rejectsWith('INVALID_ARGUMENT', /not physically contiguous/),
      );
    });

    it('NOT_PERMITTED without CAP_NET_ADMIN', async () => {
      const lib = path.join(__dirname, '../../../dist/lib/index.js');
      const script = `require(${JSON.stringify(lib)}).openZcrx(${JSON.stringify(env.ifLocal)}, ${ZQ}, { area: { size: 1 << 20 } })
        .then(() => console.log('opened'), (e) => console.log(e.reason))`;
      const out = execFileSync('setpriv', ['--inh-caps=-all', '--bounding-set=-net_admin', process.execPath, '-e', script], {
        encoding: 'utf8',
      });
      assert.equal(out.trim(), 'NOT_PERMITTED');
    });

    it('QUEUE_OUT_OF_RANGE for a queue the device does not have', async () => {
      await assert.rejects(openZcrx(env.ifLocal, 64, { area: { size: MiB } }), rejectsWith('QUEUE_OUT_OF_RANGE'));
    });

    it('INVALID_ARGUMENT for a refill ring that is not a power of two or too small, before touching the kernel', async () => {
      await assert.rejects(
        openZcrx(env.ifLocal, ZQ, { area: { size: MiB }, rqEntries: 300 }),
        rejectsWith('INVALID_ARGUMENT', /power of two/),
      );
      await assert.rejects(
        openZcrx(env.ifLocal, ZQ, { area: { size: MiB }, rqEntries: 64 }),
        rejectsWith('INVALID_ARGUMENT', /too small.*256/),
      );
      await assert.rejects(openZcrx(env.ifLocal, ZQ, { area: { size: 1000 } }), rejectsWith('INVALID_ARGUMENT', /page size/));
    });
  });
});

async function waitQueueFree(queue: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await netdev.getQueue(env.ifindexLocal, 'rx', queue)).ioUring !== undefined) {
    if (Date.now() > deadline) assert.fail(`queue ${queue} still has an io_uring owner`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * How a socket receives: the options every devmem socket takes (servers'
 * accepted sockets and connect()'s alike), checked before anything opens.
 */
import { RxBinding, TxBinding } from './bindings';
import type { DmaBuf } from './dmabuf';
import { closedError, DevmemError, invalidArgument } from './errors';
import { ZcrxQueue } from './zcrx';

/**
 * The defaults of {@link ReceiveOptions}, defined here once: the socket
 * applies them, and the native reader takes its limits from here.
 */
export const RECEIVE_DEFAULTS = Object.freeze({
  /** {@link ReceiveOptions.maxOutstandingFragments}'s default. */
  maxOutstandingFragments: 16384,
  /** {@link ReceiveOptions.maxOutstandingBytes}'s default: 64 MiB. */
  maxOutstandingBytes: 64 * 2 ** 20,
  /** {@link ReceiveOptions.batchFragments}'s default. */
  batchFragments: 4096,
  /** {@link ReceiveOptions.batchBytes}'s default: 8 MiB. */
  batchBytes: 8 * 2 ** 20,
  /** {@link ReceiveOptions.highWaterMark}'s default, in batches. */
  highWaterMark: 4,
  /** {@link ReceiveOptions.starvationTimeout}'s default, in ms. */
  starvationTimeout: 2000,
  /** {@link ReceiveOptions.linearLifetime}'s default: each batch owns its `linear` Buffer. */
  linearLifetime: 'owned',
  /** The longest {@link ReceiveOptions.coalesce} wait accepted, in µs: a bound, so latency stays bounded. */
  coalesceMaxWaitMicros: 10_000,
} as const);

/**
 * {@link ReceiveOptions.coalesce}: wait, when the last batch was small, for
 * more data before draining a readable socket.
 */
export interface CoalesceOptions {
  /** How long a readable socket is left to fill, in µs (1 to {@link RECEIVE_DEFAULTS}`.coalesceMaxWaitMicros`). */
  waitMicros: number;
  /**
   * A batch of fewer fragments than this, and of less than a quarter of
   * `batchBytes`, makes the next readiness event wait; a larger one drains
   * the next at once.
   * @defaultValue a quarter of `batchFragments`
   */
  belowFragments?: number;
}

/** How a socket receives. */
export interface ReceiveOptions {
  /**
   * The RX binding the flow is steered to. Every fragment's dmabuf id is
   * checked against it; a mismatch is a FLOW_STEERING error naming both.
   * With an RxBinding from this library, a read that would wait after the
   * binding's device was removed rejects with DEVICE_REMOVED instead of
   * hanging, once everything already received has been read; a binding made
   * elsewhere is passed as `{ id }`.
   */
  binding?:
    | RxBinding
    | {
        /** The binding's id (NETDEV_A_DMABUF_ID), as each fragment's cmsg carries it. */
        readonly id: number;
      };
  /** The dma-buf behind `binding`, used by `FragmentBatch.copyOut()` helpers. */
  dmabuf?: DmaBuf;
  /**
   * Receive through this io_uring zcrx queue (openZcrx()) instead of a
   * devmem binding: fragments' offsets are into `zcrx.area`, their
   * `dmabufIds` are `zcrx.fragmentId`, and release() refills the queue.
   * Not with `binding`.
   */
  zcrx?: ZcrxQueue;
  /**
   * zcrx: fragments the kernel copied into the area (FragmentKind.Copied,
   * its fallback for data that missed the queue's buffers); `'error'` fails
   * the socket with COPY_FALLBACK, the zcrx meaning of ncdevmem's `-L`.
   * @defaultValue `'accept'`
   */
  copied?: 'accept' | 'error';
  /**
   * Ordinary data that arrives with no devmem cmsg (the flow is not going
   * through a bound queue): `'error'` fails the socket with FLOW_STEERING.
   * @defaultValue `'error'` with a binding, `'accept'` without
   */
  hostData?: 'accept' | 'error';
  /**
   * SCM_DEVMEM_LINEAR data (payload the kernel could not place in the
   * dma-buf, delivered in host memory); `'error'` is ncdevmem's `-L`.
   * @defaultValue `'accept'`
   */
  linear?: 'accept' | 'error';
  /**
   * How long `batch.linear` (the linear and host bytes) stays valid.
   * `'owned'`: the Buffer is the batch's for as long as it is referenced.
   * `'batch'`: it is borrowed until the batch is released (or its socket
   * closes), which lets the socket put the receive memory straight back
   * into use, warm, instead of waiting for the garbage collector; the
   * release then detaches it, so it reads as 0 bytes, and `copyOut()` and
   * `linearChunks()` throw ALREADY_RELEASED. Copy out what must outlive
   * the batch before releasing it.
   * @defaultValue {@link RECEIVE_DEFAULTS}`.linearLifetime`
   */
  linearLifetime?: 'owned' | 'batch';
  /**
   * `'auto'`: the async iterator releases each batch when the loop asks for
   * the next one. `'manual'`: the consumer calls `batch.release()`, e.g.
   * after a GPU kernel is done with the fragments.
   * @defaultValue `'auto'`
   */
  release?: 'auto' | 'manual';
  /**
   * Stop reading while this many fragments are unreleased: each holds a
   * dma-buf buffer the NIC cannot refill with.
   * @defaultValue {@link RECEIVE_DEFAULTS}`.maxOutstandingFragments`
   */
  maxOutstandingFragments?: number;
  /**
   * Stop reading while this many dma-buf bytes are unreleased.
   * @defaultValue {@link RECEIVE_DEFAULTS}`.maxOutstandingBytes`
   */
  maxOutstandingBytes?: number;
  /**
   * Fragments gathered per readiness event at most: a batch's size limit.
   * @defaultValue {@link RECEIVE_DEFAULTS}`.batchFragments`
   */
  batchFragments?: number;
  /**
   * Bytes gathered per readiness event at most.
   * @defaultValue {@link RECEIVE_DEFAULTS}`.batchBytes`
   */
  batchBytes?: number;
  /**
   * Batches queued for a slow consumer before reading pauses.
   * @defaultValue {@link RECEIVE_DEFAULTS}`.highWaterMark`
   */
  highWaterMark?: number;
  /**
   * Report `'starved'` when a read has waited this many ms with no data
   * while this socket holds unreleased fragments; 0 never reports. A long
   * quiet read then usually means the binding's buffers ran out
   * (docs/kernel-notes.md#buffer-exhaustion-is-silent).
   * @defaultValue {@link RECEIVE_DEFAULTS}`.starvationTimeout`
   */
  starvationTimeout?: number;
  /**
   * Readiness coalescing, off by default. After a small batch (fewer than
   * `belowFragments` fragments and under a quarter of `batchBytes`), the next time the socket becomes readable it
   * is left to fill for `waitMicros` before it is drained, so that slow
   * arrivals make fewer, larger batches: fewer JS steps, DONTNEED calls and
   * wake-ups per GiB, for at most `waitMicros` of added latency per batch
   * (at low rates, every batch pays it). Batches at or above the threshold
   * drain at once, so a fast flow is not delayed. A FIN or an error that
   * arrives during the wait is seen when it ends. Devmem and host sockets
   * only; a zcrx socket is driven by its ring.
   * @defaultValue off
   */
  coalesce?: CoalesceOptions;
  /**
   * SO_RCVBUF, set before the connection is made so the TCP window follows
   * it. Keep the window well below the bound dma-buf's size when the buffer
   * is small: out-of-order segments hold buffers too, and a window larger
   * than the buffer can leave no room for the missing segment.
   * @defaultValue the kernel's (net.ipv4.tcp_rmem)
   */
  receiveBufferSize?: number;
}

/** The native reader's limits: what it may hold unreleased, and gather per readiness event. */
export type ReceiveLimits = Pick<
  Required<ReceiveOptions>,
  'maxOutstandingFragments' | 'maxOutstandingBytes' | 'batchFragments' | 'batchBytes'
>;

/** @internal The limits a socket with these options reads under, defaults filled in. */
export function receiveLimits(o: ReceiveOptions): ReceiveLimits {
  return {
    maxOutstandingFragments: o.maxOutstandingFragments ?? RECEIVE_DEFAULTS.maxOutstandingFragments,
    maxOutstandingBytes: o.maxOutstandingBytes ?? RECEIVE_DEFAULTS.maxOutstandingBytes,
    batchFragments: o.batchFragments ?? RECEIVE_DEFAULTS.batchFragments,
    batchBytes: o.batchBytes ?? RECEIVE_DEFAULTS.batchBytes,
  };
}

function positiveInt(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(v) || v < 1) throw invalidArgument(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** @internal The batch size below which {@link ReceiveOptions.coalesce} waits: fragments, and bytes. */
export function coalesceBelow(o: ReceiveOptions): { fragments: number; bytes: number } {
  const limits = receiveLimits(o);
  return {
    fragments: o.coalesce?.belowFragments ?? Math.max(1, Math.floor(limits.batchFragments / 4)),
    bytes: Math.max(1, Math.floor(limits.batchBytes / 4)),
  };
}

function checkCoalesce(o: ReceiveOptions): void {
  const c = o.coalesce;
  if (c === undefined) return;
  if (c === null || typeof c !== 'object') throw new TypeError('coalesce must be an object: { waitMicros, belowFragments? }');
  if (typeof c.waitMicros !== 'number') throw new TypeError('coalesce.waitMicros must be a number of microseconds');
  const max = RECEIVE_DEFAULTS.coalesceMaxWaitMicros;
  if (!Number.isSafeInteger(c.waitMicros) || c.waitMicros < 1 || c.waitMicros > max)
    throw invalidArgument(`coalesce.waitMicros must be an integer from 1 to ${max} µs, got ${c.waitMicros}`);
  positiveInt(c.belowFragments, 'coalesce.belowFragments');
  if (o.zcrx !== undefined)
    throw invalidArgument('coalesce applies to devmem and host sockets; a zcrx socket is driven by its ring: leave coalesce out');
}

/** Validates receive options once, before a socket exists. */
export function checkReceiveOptions(o: ReceiveOptions | undefined): ReceiveOptions {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  if (o.binding !== undefined && (typeof o.binding !== 'object' || typeof o.binding?.id !== 'number'))
    throw new TypeError('binding must be an RxBinding (an object with a numeric id)');
  if (o.binding instanceof TxBinding) throw new TypeError('binding must be an RX binding (bindRx()), not a TX binding');
  if (o.binding instanceof RxBinding && o.binding.closed)
    throw new DevmemError('the binding is closed: nothing can arrive in it; bind again', { reason: 'CLOSED' });
  if (o.dmabuf !== undefined && (o.dmabuf === null || typeof o.dmabuf !== 'object' || typeof o.dmabuf.size !== 'number'))
    throw new TypeError('dmabuf must be a DmaBuf');
  if (o.dmabuf?.closed === true) throw closedError('the dma-buf');
  if (o.zcrx !== undefined) {
    if (!(o.zcrx instanceof ZcrxQueue)) throw new TypeError('zcrx must be a ZcrxQueue (openZcrx())');
    if (o.zcrx.closed) throw closedError('the zcrx queue');
    if (o.binding !== undefined) throw invalidArgument('pass either binding (devmem) or zcrx (io_uring), not both');
  }
  for (const k of ['hostData', 'linear', 'copied'] as const)
    if (o[k] !== undefined && o[k] !== 'accept' && o[k] !== 'error') throw invalidArgument(`${k} must be 'accept' or 'error'`);
  if (o.linearLifetime !== undefined) {
    if (typeof o.linearLifetime !== 'string') throw new TypeError(`linearLifetime must be a string, 'owned' or 'batch'`);
    if (o.linearLifetime !== 'owned' && o.linearLifetime !== 'batch')
      throw invalidArgument(`linearLifetime must be 'owned' or 'batch', got '${o.linearLifetime}'`);
  }
  if (o.release !== undefined && o.release !== 'auto' && o.release !== 'manual')
    throw invalidArgument(`release must be 'auto' or 'manual'`);
  for (const k of [
    'maxOutstandingFragments',
    'maxOutstandingBytes',
    'batchFragments',
    'batchBytes',
    'highWaterMark',
    'receiveBufferSize',
  ] as const)
    positiveInt(o[k], k);
  checkCoalesce(o);
  if (o.starvationTimeout !== undefined) {
    if (typeof o.starvationTimeout !== 'number') throw new TypeError('starvationTimeout must be a number');
    if (!Number.isSafeInteger(o.starvationTimeout) || o.starvationTimeout < 0)
      throw invalidArgument(`starvationTimeout must be a non-negative integer of ms, got ${o.starvationTimeout}`);
  }
  return o;
}

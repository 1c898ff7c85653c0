/**
 * Sockets owned by the addon. Node's net.Socket cannot carry devmem (see
 * docs/kernel-notes.md#efault-without-msg_sock_devmem). These sockets read
 * with recvmsg(MSG_SOCK_DEVMEM) in native code and deliver fragment batches. Their options are in receive-options.ts,
 * connecting in connect.ts, listening in server.ts and transmit in tx.ts.
 */
import * as dc from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';

import { abortError, checkSignal } from './abort';
import { FragmentBatch, type ReleaseResult } from './batch';
import { RxBinding } from './bindings';
import { Transmitter, type DmabufRange, type SendOptions, type SendResult, type TxBindingLike } from './tx';
import type { DmaBuf } from './dmabuf';
import { coalesceBelow, RECEIVE_DEFAULTS, receiveLimits, type ReceiveOptions } from './receive-options';
import { callSync, classify, closedError, DevmemError, fromNative } from './errors';
import { native, type NativeBatchEvent, type NativeError, type NativeSocket, type NativeSocketEvent } from './native';

/** One end of a connection, or where a server listens (getsockname, getpeername). */
export interface SocketAddress {
  /** The IP address as text; an IPv4 peer of a dual-stack listener shows as `::ffff:a.b.c.d`. */
  address: string;
  /** The TCP port. */
  port: number;
  /** The address family of the socket. */
  family: 'IPv4' | 'IPv6';
}

/**
 * A DevmemSocket's counters, since it opened; `outstandingTokens`,
 * `outstandingBytes` and `zerocopyPending` are instead what is held now.
 */
export interface SocketStats {
  /** Bytes sendDmabuf()'s sendmsg calls handed to the kernel; write() is not counted. */
  bytesSent: number;
  /** sendDmabuf() sendmsg calls that sent something: each takes one zerocopy notification id. */
  zerocopySends: number;
  /** Zerocopy completion notifications read from the error queue; one may cover several sends. */
  completions: number;
  /** Completions for which the kernel copied the data instead of sending it from device memory. */
  copiedCompletions: number;
  /** Sends the kernel has not completed yet: their dma-buf ranges must not be rewritten. */
  zerocopyPending: number;
  /** Payload bytes received, of every kind: dmabufBytes + linearBytes + hostBytes. */
  bytes: number;
  /** Fragments received, of every {@link FragmentKind}. */
  fragments: number;
  /** Bytes received into the dma-buf. */
  dmabufBytes: number;
  /** SCM_DEVMEM_LINEAR bytes received: header split left them in host memory. */
  linearBytes: number;
  /** Ordinary bytes received without devmem cmsgs: the flow missed the bound queues. */
  hostBytes: number;
  /** zcrx: bytes the kernel copied into the area (its fallback), attributed to this socket; not in dmabufBytes. */
  copiedBytes: number;
  /** dma-buf fragments delivered and not yet released. Reading stops at `maxOutstandingFragments`. */
  outstandingTokens: number;
  /** Their bytes. Reading stops at `maxOutstandingBytes`. */
  outstandingBytes: number;
  /** Fragments the kernel said it freed, over every release. */
  releasedTokens: number;
  /** SO_DEVMEM_DONTNEED calls made. */
  dontneedCalls: number;
  /** Releases in which the kernel freed fewer fragments than were returned (each a `'shortRelease'`). */
  shortReleases: number;
  /** SO_DEVMEM_DONTNEED calls the kernel failed; their fragments stay with it until close. */
  releaseErrors: number;
  /** recvmsg(MSG_SOCK_DEVMEM) calls, the ones that found nothing included. */
  recvmsgCalls: number;
  /** recvmsg calls that found nothing to read (EAGAIN). */
  eagains: number;
  /** Batches delivered. */
  batches: number;
  /**
   * Times the control buffer was doubled because the kernel had more
   * fragment cmsgs than fitted (ETOOSMALL); it grows up to 1 MiB.
   */
  controlGrows: number;
  /** Times reading stopped at an outstanding limit (each a `'stall'`). */
  stalls: number;
  /** Readiness events left to fill for `coalesce.waitMicros` before their drain ({@link ReceiveOptions.coalesce}). */
  coalesceWaits: number;
}

const batchChannel = dc.channel('devmem-tcp:rx:batch');
const stallChannel = dc.channel('devmem-tcp:rx:stall');
const starvedChannel = dc.channel('devmem-tcp:rx:starved');
const errorChannel = dc.channel('devmem-tcp:socket:error');

interface Waiter {
  resolve(b: FragmentBatch | null): void;
  reject(e: unknown): void;
}

/** What a read that waited `starvationTimeout` ms reports (`'starved'`). */
export interface StarvationInfo {
  /** How long the read had waited with no data, in ms. */
  idleMs: number;
  /** Fragments the socket held unreleased at that moment. */
  outstandingTokens: number;
  /** Their bytes. */
  outstandingBytes: number;
}

/** The events of a DevmemSocket and their arguments. */
export interface DevmemSocketEvents {
  /** The peer closed its side (EOF); reads return null once the queued batches are read. */
  end: [];
  /**
   * The socket failed and is being closed. Emitted only when listened to;
   * otherwise the next read rejects with the error.
   */
  error: [err: unknown];
  /** Outstanding fragments reached a limit: reading stops, and resumes as batches are released. */
  stall: [];
  /**
   * A read waited `starvationTimeout` ms with no data while the socket held
   * fragments: the binding's buffers have probably run out.
   */
  starved: [info: StarvationInfo];
  /** The kernel freed fewer fragments than a release returned. */
  shortRelease: [result: ReleaseResult];
  /**
   * A SO_DEVMEM_DONTNEED call failed; the DevmemError names its errno. The
   * kernel keeps those fragments until the socket closes, so a long-lived
   * socket runs short of buffers.
   */
  releaseError: [err: DevmemError];
  /**
   * The binding's device was unregistered. What was received stays
   * readable; after it, reads reject with DEVICE_REMOVED.
   */
  deviceRemoved: [err: DevmemError];
  /** The socket closed: once, a microtask after close(), resetAndDestroy() or a failure. */
  close: [];
}

/**
 * A TCP connection read with MSG_SOCK_DEVMEM. Consume it with
 * `for await (const batch of socket)`, `socket.read()`, or `socket.stream()`.
 * Its events are listed in {@link DevmemSocketEvents}.
 */
export class DevmemSocket extends EventEmitter<DevmemSocketEvents> {
  readonly #native: NativeSocket;
  readonly #opts: ReceiveOptions;
  readonly #queue: FragmentBatch[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #hwm: number;
  #ended = false;
  #error: unknown;
  #closed = false;
  #starvation: NodeJS.Timeout | undefined;
  /** Date.now() when the current read began to wait (the starvation watch's clock). */
  #waitingSince = 0;
  #connectWaiter: { resolve(): void; reject(e: unknown): void } | undefined;
  readonly #writableWaiters: (() => void)[] = [];
  readonly #tx: Transmitter;
  /** Where the native release writes its counts, reused for every batch. */
  readonly #releaseOut = new Float64Array(4);
  #deviceRemoved: DevmemError | undefined;
  #unwatchDevice: (() => void) | undefined;
  #removalCheck = false;
  #batchesSeen = 0;

  /** @internal */
  constructor(nat: NativeSocket, opts: ReceiveOptions, connecting = false) {
    super();
    this.#native = nat;
    this.#opts = opts;
    this.#hwm = opts.highWaterMark ?? RECEIVE_DEFAULTS.highWaterMark;
    nat.setCallback((...ev: NativeSocketEvent) => this.#onNative(ev));
    this.#tx = new Transmitter(nat, () => this.#writable());
    nat.setLimits(receiveLimits(opts));
    if ((opts.linearLifetime ?? RECEIVE_DEFAULTS.linearLifetime) === 'batch') nat.borrowLinear();
    if (opts.coalesce) {
      const below = coalesceBelow(opts);
      nat.coalesce(opts.coalesce.waitMicros, below.fragments, below.bytes);
    }
    if (opts.binding) nat.setBinding(opts.binding.id);
    if (opts.zcrx && !connecting) this.#attachZcrx();
    if (opts.binding instanceof RxBinding) this.#unwatchDevice = opts.binding.onDeviceRemoved((err) => this.#onDeviceRemoved(err));
  }

  // The device went away: nothing more can arrive, but the kernel may still
  // hold data received before, and none of it may be lost. Reads go on
  // until the socket has been quiet for two turns of the event loop with a
  // read waiting (data already queued in the kernel shows up as readiness in
  // the poll phase between them), and then fail with DEVICE_REMOVED.
  #onDeviceRemoved(err: DevmemError): void {
    this.#deviceRemoved = err;
    this.#unwatchDevice = undefined;
    this.emit('deviceRemoved', err);
    this.#checkQuietAfterRemoval();
  }

  #checkQuietAfterRemoval(quietTurns = 0): void {
    if (!this.#deviceRemoved || this.#removalCheck || this.#waiters.length === 0) return;
    this.#removalCheck = true;
    const seen = this.#batchesSeen;
    setImmediate(() => {
      this.#removalCheck = false;
      if (this.#closed || this.#ended || this.#error !== undefined || this.#waiters.length === 0) return;
      if (this.#batchesSeen !== seen) this.#checkQuietAfterRemoval(0);
      else if (quietTurns + 1 < 2) this.#checkQuietAfterRemoval(quietTurns + 1);
      // Aborted, not closed: the FIN cannot reach the peer (see
      // docs/kernel-notes.md#graceful-close-to-an-unreachable-peer).
      else this.#fail(this.#deviceRemoved, true);
    });
  }

  // io_uring reads the socket from now on; a connecting socket attaches once connected.
  #attachZcrx(): void {
    try {
      this.#native.attachZcrx(this.#opts.zcrx!.native);
    } catch (e) {
      this.#native.close();
      throw fromNative(e, 'socket', 'cannot receive through the zcrx queue');
    }
  }

  /** @internal connect(): the connection is up; start receiving through zcrx if asked to. */
  connected(): void {
    if (this.#opts.zcrx) this.#attachZcrx();
  }

  /** @internal Resolves once a connecting socket is connected. */
  waitConnected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#connectWaiter = { resolve, reject };
    });
  }

  /** The binding fragments are checked against, if any. */
  get binding(): ReceiveOptions['binding'] {
    return this.#opts.binding;
  }

  /** The dma-buf passed in the options, if any. */
  get dmabuf(): DmaBuf | undefined {
    return this.#opts.dmabuf;
  }

  /** True once the socket closed: by close(), resetAndDestroy(), or a failure. */
  get closed(): boolean {
    return this.#closed;
  }

  #onNative(ev: NativeSocketEvent): void {
    switch (ev[0]) {
      case 'connect': {
        const w = this.#connectWaiter;
        this.#connectWaiter = undefined;
        if (ev[1]) w?.reject(fromNative(ev[1], 'socket', 'connect failed'));
        else w?.resolve();
        return;
      }
      case 'batch':
        this.#onBatch(ev);
        return;
      case 'end':
        this.#ended = true;
        this.#flushWaiters();
        this.emit('end');
        return;
      case 'stall':
        if (stallChannel.hasSubscribers) stallChannel.publish({ socket: this, stats: this.stats() });
        this.emit('stall');
        return;
      case 'error':
        this.#fail(fromNative(ev[1] as NativeError, 'socket', ''));
        return;
      case 'writable': {
        const ws = this.#writableWaiters.splice(0);
        for (const w of ws) w();
        return;
      }
      case 'zerocopy':
        this.#tx.onCompletion(ev[1], ev[2], ev[3]);
        return;
    }
  }

  #onBatch(ev: NativeBatchEvent): void {
    this.#batchesSeen++;
    const batch = new FragmentBatch(this, ev);
    if (batchChannel.hasSubscribers) batchChannel.publish({ socket: this, batch });
    const hostPolicy = this.#opts.hostData ?? (this.#opts.binding ? 'error' : 'accept');
    if (batch.hostBytes > 0 && hostPolicy === 'error') {
      batch.releaseIfHeld();
      this.#fail(
        new DevmemError(`flow steering error: ${batch.hostBytes} bytes arrived in host memory with no devmem cmsg`, {
          reason: 'FLOW_STEERING',
        }),
      );
      return;
    }
    if (batch.copiedBytes > 0 && this.#opts.copied === 'error') {
      batch.releaseIfHeld();
      this.#fail(
        new DevmemError(`the kernel copied ${batch.copiedBytes} bytes into the zcrx area (copy fallback) and copied data is refused`, {
          reason: 'COPY_FALLBACK',
        }),
      );
      return;
    }
    if (batch.linearBytes > 0 && this.#opts.linear === 'error') {
      batch.releaseIfHeld();
      this.#fail(
        new DevmemError(`received SCM_DEVMEM_LINEAR (${batch.linearBytes} bytes) and linear data is refused`, {
          reason: 'LINEAR_DATA',
        }),
      );
      return;
    }
    const w = this.#waiters.shift();
    if (w) w.resolve(batch);
    else {
      this.#queue.push(batch);
      if (this.#queue.length >= this.#hwm) this.#native.pause();
    }
  }

  #fail(err: unknown, reset = false): void {
    if (this.#error !== undefined) return;
    this.#error = err;
    this.#tx.fail(err);
    if (errorChannel.hasSubscribers) errorChannel.publish({ socket: this, error: err });
    for (const w of this.#waiters.splice(0)) w.reject(err);
    if (this.listenerCount('error') > 0) this.emit('error', err);
    if (reset) this.resetAndDestroy();
    else this.close();
  }

  #flushWaiters(): void {
    if (this.#queue.length === 0) for (const w of this.#waiters.splice(0)) w.resolve(null);
  }

  /** @internal */
  releaseBatch(seq: number): ReleaseResult {
    const out = this.#releaseOut;
    this.#native.release(seq, out);
    const r: ReleaseResult = { requested: out[0]!, freed: out[1]!, calls: out[2]! };
    const errno = out[3]!;
    if (errno !== 0) {
      r.error = new DevmemError(`SO_DEVMEM_DONTNEED failed (${r.freed} of ${r.requested} fragments freed)`, {
        reason: classify(errno, undefined, 'socket'),
        errno: -errno,
        syscall: 'setsockopt',
      });
      this.emit('releaseError', r.error);
    }
    // The kernel freed fewer fragments than we returned: a kernel leak, or
    // tokens it did not know. Counted in stats().shortReleases and reported.
    if (r.freed < r.requested) this.emit('shortRelease', r);
    return r;
  }

  /**
   * The next batch, or null at end of stream. Reading starts on the first
   * call and continues ahead of the consumer up to `highWaterMark` batches.
   * With `signal`, an abort rejects the wait with an AbortError and leaves
   * the socket as it was: a batch arriving later goes to the next read.
   */
  read(options: { signal?: AbortSignal } = {}): Promise<FragmentBatch | null> {
    if (options === null || typeof options !== 'object') throw new TypeError('read() takes an options object');
    const signal = checkSignal(options.signal);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return this.#take(undefined, undefined, signal);
  }

  // read() and the async iterator in one: `wrap` shapes what the promise
  // resolves to, so the iterator hands for-await its result object directly,
  // one promise per batch, and `failed` hears of a rejection without a
  // second promise chained to catch it.
  #take<T = FragmentBatch | null>(wrap?: (b: FragmentBatch | null) => T, failed?: () => void, signal?: AbortSignal): Promise<T> {
    const next = this.#queue.shift();
    if (next) {
      if (this.#queue.length < this.#hwm && !this.#ended && !this.#closed) this.#native.resume();
      return Promise.resolve(wrap ? wrap(next) : (next as T));
    }
    const fail = (e: unknown): Promise<T> => {
      failed?.();
      return Promise.reject(e);
    };
    if (this.#error !== undefined) return fail(this.#error);
    if (this.#ended) return Promise.resolve(wrap ? wrap(null) : (null as T));
    if (this.#closed) return fail(closedError('the socket'));
    return new Promise<T>((resolve, reject) => {
      const settle = failed
        ? (e: unknown) => {
            failed();
            reject(e);
          }
        : reject;
      if (!signal) {
        this.#waiters.push({ resolve: wrap ? (b) => resolve(wrap(b)) : (resolve as (b: FragmentBatch | null) => void), reject: settle });
      } else {
        const waiter: Waiter = {
          resolve: (b) => {
            signal.removeEventListener('abort', onAbort);
            resolve(wrap ? wrap(b) : (b as T));
          },
          reject: (e) => {
            signal.removeEventListener('abort', onAbort);
            settle(e);
          },
        };
        const onAbort = () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(abortError(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(waiter);
      }
      this.#native.resume();
      this.#watchStarvation();
      this.#checkQuietAfterRemoval();
    });
  }

  // A quiet read while this socket holds fragments is the visible sign that
  // the binding's buffers ran out (see docs/kernel-notes.md#buffer-exhaustion-is-silent).
  //
  // One timer per quiet spell, not one per read: a batch only ends the wait
  // (no clearTimeout on the hot path), and the timer, when it fires, checks
  // how long the current wait has lasted and re-arms for the rest of it.
  #watchStarvation(): void {
    const ms = this.#opts.starvationTimeout ?? RECEIVE_DEFAULTS.starvationTimeout;
    if (ms === 0) return;
    this.#waitingSince = Date.now();
    if (!this.#starvation) this.#armStarvation(ms, ms);
  }

  #armStarvation(ms: number, delay: number): void {
    this.#starvation = setTimeout(() => {
      this.#starvation = undefined;
      if (this.#closed || this.#waiters.length === 0) return;
      const idleMs = Date.now() - this.#waitingSince;
      if (idleMs < ms) {
        this.#armStarvation(ms, ms - idleMs);
        return;
      }
      const s = this.#native.stats();
      if (!s.outstandingTokens) return;
      const info: StarvationInfo = {
        idleMs,
        outstandingTokens: s.outstandingTokens,
        outstandingBytes: s.outstandingBytes ?? 0,
      };
      if (starvedChannel.hasSubscribers) starvedChannel.publish({ socket: this, ...info });
      this.emit('starved', info);
    }, delay);
    this.#starvation.unref();
  }

  #stopStarvationWatch(): void {
    if (this.#starvation) clearTimeout(this.#starvation);
    this.#starvation = undefined;
  }

  /**
   * Yields each batch until the end of the stream; a failure is thrown into
   * the loop. With `release: 'auto'` each batch is released when the loop
   * asks for the next or is left; with `'manual'` that is the consumer's job.
   */
  [Symbol.asyncIterator](): AsyncGenerator<FragmentBatch, void, undefined> {
    // Written out rather than an async generator: a generator's await and
    // yield cost three promise steps per batch where this takes one, and at
    // small batches that step is most of the receive path's JS.
    const auto = (this.#opts.release ?? 'auto') === 'auto';
    let prev: FragmentBatch | undefined;
    let finished = false;
    const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
    const finish = () => {
      finished = true;
      if (auto) prev?.releaseIfHeld();
      prev = undefined;
    };
    // A step asked for while one is in flight (not for-await, which waits)
    // runs once that one settled, in order, as a generator's would.
    let busy = false;
    const queued: (() => void)[] = [];
    const settled = () => {
      busy = false;
      const q = queued.shift();
      if (q) queueMicrotask(q);
    };
    const toResult = (b: FragmentBatch | null): IteratorResult<FragmentBatch, undefined> => {
      settled();
      if (b === null) {
        finish();
        return done;
      }
      if (finished) {
        // return() came while this batch was on its way: nobody will see it.
        if (auto) b.releaseIfHeld();
        return done;
      }
      prev = b;
      return { value: b, done: false };
    };
    const failed = () => {
      finish();
      settled();
    };
    const step = (): Promise<IteratorResult<FragmentBatch, undefined>> => {
      if (auto) prev?.releaseIfHeld();
      prev = undefined;
      if (finished) return Promise.resolve(done);
      busy = true;
      return this.#take(toResult, failed);
    };
    const it: AsyncGenerator<FragmentBatch, void, undefined> = {
      next: () =>
        busy
          ? new Promise<IteratorResult<FragmentBatch, undefined>>((resolve, reject) =>
              queued.push(() => {
                step().then(resolve, reject);
              }),
            )
          : step(),
      return: () => {
        finish();
        return Promise.resolve(done);
      },
      throw: (e: unknown) => {
        finish();
        return Promise.reject(e);
      },
      [Symbol.asyncIterator]: () => it,
      [Symbol.asyncDispose]: () => {
        finish();
        return Promise.resolve();
      },
    };
    return it;
  }

  /**
   * An object-mode Readable of batches. Batches from a stream are never
   * released automatically: call `release()` (or `using`) on each.
   */
  stream(): Readable {
    const readable = new Readable({
      objectMode: true,
      highWaterMark: this.#hwm,
      read: () => {
        this.read().then(
          (b) => readable.push(b),
          (e: unknown) => readable.destroy(e as Error),
        );
      },
      destroy: (err, cb) => {
        this.close();
        cb(err);
      },
    });
    return readable;
  }

  /** Receive counters, including outstanding and released tokens. */
  stats(): SocketStats {
    return this.#native.stats() as unknown as SocketStats;
  }

  /** The local end's address, or null once closed. */
  address(): SocketAddress | null {
    return this.#native.address();
  }

  /** The peer's address, or null once closed. */
  remoteAddress(): SocketAddress | null {
    return this.#native.remoteAddress();
  }

  /**
   * The NAPI id of the last packet this socket received (SO_INCOMING_NAPI_ID):
   * which RX queue it came through, for incomingQueue() to name. Null
   * before anything arrived through a NAPI instance, and once closed.
   */
  incomingNapiId(): number | null {
    if (this.#closed) return null;
    const id = callSync('socket', 'cannot read SO_INCOMING_NAPI_ID', () => native().socketIncomingNapiId(this.#native.fd));
    return id === 0 ? null : id;
  }

  /**
   * Sends ordinary host-memory bytes (requests, acknowledgements, test
   * data), waiting for socket buffer space as needed. Device-memory payload
   * goes out with `sendDmabuf()` instead.
   */
  async write(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Buffer or Uint8Array');
    let off = 0;
    while (off < data.byteLength) {
      if (this.#closed) throw closedError('the socket');
      let n: number;
      try {
        n = this.#native.send(data.subarray(off));
      } catch (e) {
        throw fromNative(e, 'socket', 'write failed');
      }
      if (n >= 0) off += n;
      else await this.#writable();
    }
  }

  #writable(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#writableWaiters.push(resolve);
      this.#native.waitWritable();
    });
  }

  /**
   * Sends dma-buf bytes with zerocopy (Linux 6.16+): one or many ranges of
   * the TX binding's dma-buf, split into sendmsg calls of at most 1024
   * iovecs, with partial sends continued where they stopped. Resolves once
   * the kernel has completed every byte, after which the ranges may be
   * rewritten; `copied` says whether the kernel fell back to copying.
   * Ranges are checked against the dma-buf's size before any syscall.
   */
  sendDmabuf(binding: TxBindingLike, ranges: DmabufRange | DmabufRange[], options?: SendOptions): Promise<SendResult> {
    if (this.#closed) return Promise.reject(closedError('the socket'));
    return this.#tx.send(binding, ranges, options);
  }

  /** Half-closes the sending side (the peer sees EOF). */
  end(): void {
    if (!this.#closed) this.#native.shutdown();
  }

  /**
   * Closes the socket. Outstanding tokens are returned to the kernel first;
   * a later `release()` of a batch still held throws `CLOSED`, and with
   * `linearLifetime: 'batch'` those batches' `linear` bytes end here too.
   * Idempotent.
   */
  close(): void {
    this.#close(false);
  }

  /**
   * Closes the socket with a TCP RST instead of a FIN (like
   * `net.Socket.resetAndDestroy()`). Unread data is dropped and the kernel
   * frees everything the connection holds at once, including device
   * buffers (see docs/kernel-notes.md#graceful-close-to-an-unreachable-peer).
   * Otherwise as close(). Idempotent.
   */
  resetAndDestroy(): void {
    this.#close(true);
  }

  #close(reset: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopStarvationWatch();
    this.#unwatchDevice?.();
    this.#unwatchDevice = undefined;
    if (reset) this.#native.reset();
    else this.#native.close();
    const err = new DevmemError('the socket was closed during a read', { reason: 'CLOSED' });
    for (const w of this.#waiters.splice(0)) {
      if (this.#ended) w.resolve(null);
      else w.reject(err);
    }
    this.#connectWaiter?.reject(err);
    this.#connectWaiter = undefined;
    for (const w of this.#writableWaiters.splice(0)) w();
    this.#tx.fail(err);
    queueMicrotask(() => this.emit('close'));
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** Lets the process exit while this socket is open. */
  unref(): this {
    this.#native.unref();
    return this;
  }

  /** Undoes unref(). */
  ref(): this {
    this.#native.ref();
    return this;
  }
}

/**
 * Devmem transmit: sendmsg(MSG_ZEROCOPY) with an SCM_DEVMEM_DMABUF cmsg, and
 * completion tracking through the socket's error queue. Each sendmsg that
 * makes progress consumes one zerocopy notification id; the kernel reports
 * completed ids as ranges, and a send's promise settles once all of its ids
 * are done, because only then may the dma-buf bytes be rewritten.
 */
import { abortError, checkSignal, type AbortError } from './abort';
import { closedError, DevmemError, fromNative, invalidArgument } from './errors';
import type { NativeSocket } from './native';

/** A byte range of the bound dma-buf. */
export interface DmabufRange {
  /** Byte offset into the dma-buf. */
  offset: number;
  /** Bytes to send from there; more than 0, and the range must end inside the dma-buf. */
  length: number;
}

/** A TX binding, or an `{ id, size }` for one made elsewhere (another process, a daemon). */
export interface TxBindingLike {
  /** The binding id bind-tx returned: the value of the SCM_DEVMEM_DMABUF cmsg. */
  readonly id: number;
  /** Size of the bound dma-buf in bytes; ranges are checked against it before any syscall. */
  readonly size: number;
  /** True refuses the send with INVALID_BINDING before any syscall. */
  readonly closed?: boolean;
  /** `'tx'` or absent; anything else (an RxBinding's `'rx'`) is refused with INVALID_BINDING. */
  readonly kind?: string;
  /** Set by TxBinding once its device was unregistered; sends are then refused. */
  readonly deviceRemoved?: boolean;
}

/** What a sendDmabuf() did, once the kernel had completed every byte. */
export interface SendResult {
  /** Bytes sent. */
  bytes: number;
  /** sendmsg calls made. */
  sends: number;
  /** True when the kernel copied instead of sending from device memory for any part. */
  copied: boolean;
}

/** The defaults of {@link SendOptions}, defined here once. */
export const SEND_DEFAULTS = Object.freeze({
  /** {@link SendOptions.maxInFlightBytes}'s default: 64 MiB. */
  maxInFlightBytes: 64 * 2 ** 20,
  /** {@link SendOptions.enableZerocopy}'s default. */
  enableZerocopy: true,
} as const);

/** Options of {@link DevmemSocket.sendDmabuf}. */
export interface SendOptions {
  /**
   * Wait for completions while at least this many bytes are in flight (sent,
   * not yet completed by the kernel).
   * @defaultValue {@link SEND_DEFAULTS}`.maxInFlightBytes`
   */
  maxInFlightBytes?: number;
  /**
   * Set SO_ZEROCOPY on the socket before the first send. Pass false only when
   * something else manages the socket's options.
   * @defaultValue {@link SEND_DEFAULTS}`.enableZerocopy`
   */
  enableZerocopy?: boolean;
  /**
   * Stop sending: no further sendmsg is made, and once the kernel has let go
   * of what was already queued (its completions arrived) the promise rejects
   * with an AbortError. So after the rejection the ranges may be reused at
   * once; the peer got a prefix of the data, `error.bytesSent` long.
   */
  signal?: AbortSignal;
}

/** A sendDmabuf() stopped by its signal: how much the kernel had already sent. */
export interface SendAbortError extends AbortError {
  /** Bytes the kernel took before the send stopped: the peer gets exactly this prefix of the ranges. */
  bytesSent: number;
}

const MAX_IOV = 1024;

interface PendingSend {
  ids: Set<number>;
  copied: boolean;
  bytes: number;
  sends: number;
  /** Set when the send was stopped by its signal: settle with this instead. */
  aborted?: SendAbortError;
  resolve(r: SendResult): void;
  reject(e: unknown): void;
}

/** Normalises and bounds-checks ranges before any syscall. */
export function checkRanges(ranges: unknown, size: number): Float64Array {
  const list = Array.isArray(ranges) ? ranges : [ranges];
  if (list.length === 0) throw invalidArgument('sendDmabuf needs at least one range');
  const pairs = new Float64Array(list.length * 2);
  list.forEach((r: unknown, i) => {
    if (r === null || typeof r !== 'object') throw new TypeError('each range must be { offset, length }');
    const { offset, length } = r as DmabufRange;
    if (typeof offset !== 'number' || typeof length !== 'number') throw new TypeError('range offset and length must be numbers');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0)
      throw invalidArgument(`range ${i} (offset ${offset}, length ${length}) must have a non-negative offset and a positive length`);
    if (offset + length > size) throw invalidArgument(`range ${i} [${offset}, ${offset + length}) lies outside the ${size}-byte dma-buf`);
    pairs[2 * i] = offset;
    pairs[2 * i + 1] = length;
  });
  return pairs;
}

/** The TX half of a DevmemSocket. @internal */
export class Transmitter {
  readonly #native: NativeSocket;
  readonly #waitWritable: () => Promise<void>;
  #zerocopy = false;
  readonly #pending = new Set<PendingSend>();
  readonly #idOwner = new Map<number, PendingSend>();
  #inFlight = 0;
  readonly #inFlightBytes = new Map<number, number>();
  /** Sends whose last sendmsg has returned; they settle when their ids complete. */
  readonly #finished = new WeakSet<PendingSend>();
  #drainWaiters: (() => void)[] = [];
  #closedError: unknown;

  constructor(nat: NativeSocket, waitWritable: () => Promise<void>) {
    this.#native = nat;
    this.#waitWritable = waitWritable;
  }

  /** Called for each completion range the kernel reports. */
  onCompletion(lo: number, hi: number, copied: boolean): void {
    for (let id = lo; ; id = (id + 1) >>> 0) {
      const owner = this.#idOwner.get(id);
      if (owner) {
        this.#idOwner.delete(id);
        owner.ids.delete(id);
        if (copied) owner.copied = true;
        if (owner.ids.size === 0) this.#maybeSettle(owner);
      }
      this.#inFlight -= this.#inFlightBytes.get(id) ?? 0;
      this.#inFlightBytes.delete(id);
      if (id === hi) break;
    }
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  #maybeSettle(p: PendingSend): void {
    if (!this.#finished.has(p) || p.ids.size > 0) return;
    this.#pending.delete(p);
    if (p.aborted) p.reject(p.aborted);
    else p.resolve({ bytes: p.bytes, sends: p.sends, copied: p.copied });
  }

  /** Rejects everything still waiting (socket closed or failed). */
  fail(err: unknown): void {
    this.#closedError = err;
    for (const p of this.#pending) p.reject(err);
    this.#pending.clear();
    this.#idOwner.clear();
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  async send(binding: TxBindingLike, ranges: DmabufRange | DmabufRange[], opts: SendOptions = {}): Promise<SendResult> {
    if (binding === null || typeof binding !== 'object' || typeof binding.id !== 'number' || typeof binding.size !== 'number')
      throw new TypeError('binding must be a TxBinding (or { id, size } of a TX binding made elsewhere)');
    if (binding.kind !== undefined && binding.kind !== 'tx')
      throw new DevmemError('sendDmabuf needs a TX binding (bindTx()), not an RX binding', { reason: 'INVALID_BINDING' });
    if (binding.closed === true) throw closedError('the TX binding', 'INVALID_BINDING');
    // The kernel keeps a TX binding's device pointer after the device is
    // unregistered (through 7.3), so a send would make it read freed memory.
    if (binding.deviceRemoved === true)
      throw new DevmemError(`the TX binding's device was removed; binding ${binding.id} can no longer send`, {
        reason: 'DEVICE_REMOVED',
      });
    const pairs = checkRanges(ranges, binding.size);
    const signal = checkSignal(opts.signal);
    if (signal?.aborted) throw Object.assign(abortError(signal), { bytesSent: 0 });
    const maxInFlight = opts.maxInFlightBytes ?? SEND_DEFAULTS.maxInFlightBytes;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw invalidArgument('maxInFlightBytes must be a positive integer');
    if (this.#closedError !== undefined) throw this.#closedError;
    if (!this.#zerocopy && (opts.enableZerocopy ?? SEND_DEFAULTS.enableZerocopy)) {
      try {
        this.#native.enableZerocopy();
      } catch (e) {
        throw fromNative(e, 'send-dmabuf', 'cannot enable zerocopy');
      }
      this.#zerocopy = true;
    }

    let settle!: { resolve(r: SendResult): void; reject(e: unknown): void };
    const done = new Promise<SendResult>((resolve, reject) => (settle = { resolve, reject }));
    const p: PendingSend = { ids: new Set(), copied: false, bytes: 0, sends: 0, ...settle };
    this.#pending.add(p);

    let first = 0; // first pair not fully sent
    const nPairs = pairs.length / 2;
    // An abort wakes the waits below; the loop then stops before its next sendmsg.
    let wakeOnAbort: (() => void) | undefined;
    const aborted = signal
      ? new Promise<void>((r) => {
          wakeOnAbort = () => {
            r();
            for (const w of this.#drainWaiters.splice(0)) w();
          };
          signal.addEventListener('abort', wakeOnAbort, { once: true });
        })
      : undefined;
    try {
      while (first < nPairs) {
        if (this.#closedError !== undefined) throw this.#closedError;
        while (this.#inFlight >= maxInFlight && this.#closedError === undefined && !signal?.aborted)
          await new Promise<void>((r) => this.#drainWaiters.push(r));
        if (signal?.aborted) {
          p.aborted = Object.assign(abortError(signal), { bytesSent: p.bytes });
          break;
        }
        const count = Math.min(MAX_IOV, nPairs - first);
        const slice = pairs.subarray(first * 2, (first + count) * 2);
        let r: { bytes: number; id: number };
        try {
          r = this.#native.sendDmabuf(binding.id, slice, count);
        } catch (e) {
          const err = fromNative(e, 'send-dmabuf', `sendDmabuf with binding ${binding.id}`);
          if (!this.#zerocopy && err instanceof DevmemError && err.reason === 'INVALID_BINDING')
            throw new DevmemError(`sendDmabuf on a socket without SO_ZEROCOPY: ${err.message}`, {
              reason: 'ZEROCOPY_DISABLED',
              errno: err.errno,
              code: err.code,
              syscall: 'sendmsg',
            });
          throw err;
        }
        if (r.bytes < 0) {
          await (aborted ? Promise.race([this.#waitWritable(), aborted]) : this.#waitWritable());
          continue;
        }
        p.bytes += r.bytes;
        p.sends++;
        if (r.id >= 0) {
          p.ids.add(r.id);
          this.#idOwner.set(r.id, p);
          this.#inFlight += r.bytes;
          this.#inFlightBytes.set(r.id, r.bytes);
        }
        // Advance past what was sent: whole ranges, then part of one.
        let left = r.bytes;
        while (left > 0 && first < nPairs) {
          const len = pairs[first * 2 + 1]!;
          if (left >= len) {
            left -= len;
            first++;
          } else {
            pairs[first * 2] = pairs[first * 2]! + left;
            pairs[first * 2 + 1] = len - left;
            left = 0;
          }
        }
      }
    } catch (e) {
      this.#pending.delete(p);
      for (const id of p.ids) this.#idOwner.delete(id);
      throw e;
    } finally {
      if (wakeOnAbort) signal!.removeEventListener('abort', wakeOnAbort);
    }
    this.#finished.add(p);
    this.#maybeSettle(p);
    return done;
  }
}

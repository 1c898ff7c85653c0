/**
 * A batch of received fragments, column-wise: index i across `offsets`,
 * `sizes`, `tokens`, `dmabufIds` and `kinds` describes the i-th fragment in
 * stream order. No object is made per fragment.
 */
import * as dc from 'node:diagnostics_channel';

import type { DmaBuf, DmaBufView } from './dmabuf';
import { DevmemError, invalidArgument } from './errors';
import type { NativeBatchEvent } from './native';
import type { ZcrxHostArea } from './zcrx';

/** `kinds[i]` values. */
export const FragmentKind = {
  /** Payload in the dma-buf at `offsets[i]`. */
  Dmabuf: 0,
  /** SCM_DEVMEM_LINEAR: bytes the NIC left in host memory, at `offsets[i]` in `linear`. */
  Linear: 1,
  /** Ordinary data without devmem cmsgs (a flow not steered to a bound queue), in `linear`. */
  Host: 2,
  /**
   * io_uring zcrx: payload in the area at `offsets[i]` that the kernel copied
   * there (its fallback for data that missed the area's buffers). Released
   * like Dmabuf fragments.
   */
  Copied: 3,
} as const;

/** What one release of a batch did, as counted in native code. */
export interface ReleaseResult {
  /** Fragments this call asked the kernel to free (0 if already released). */
  requested: number;
  /** Fragments the kernel says it freed. */
  freed: number;
  /** SO_DEVMEM_DONTNEED calls made. */
  calls: number;
  /**
   * Set when a SO_DEVMEM_DONTNEED call failed: the kernel keeps the fragments
   * that call named until the socket closes. The socket also emits it as
   * `'releaseError'` and counts it in `stats().releaseErrors`.
   */
  error?: DevmemError;
}

const releaseChannel = dc.channel('devmem-tcp:rx:release');

/** Whether a fragment of this kind lies in the dma-buf (or zcrx area) rather than in `linear`. */
function inArea(kind: number): boolean {
  return kind === FragmentKind.Dmabuf || kind === FragmentKind.Copied;
}

/** @internal The socket side of a batch. */
export interface BatchOwner {
  readonly closed: boolean;
  releaseBatch(seq: number): ReleaseResult;
}

/**
 * The fragments a socket received in one go, in stream order, one column per
 * field: `offsets[i]`, `sizes[i]`, `tokens[i]`, `dmabufIds[i]` and `kinds[i]`
 * describe fragment i. Its dma-buf fragments are NIC buffers the kernel
 * cannot refill until they are released, so release each batch as soon as
 * its payload has been consumed.
 */
export class FragmentBatch {
  /**
   * The batch's number on its socket, from 1 in delivery order; the
   * `devmem-tcp:rx:release` channel and release()'s errors name it.
   */
  readonly seq: number;
  /** Number of fragments: the length of every column. */
  readonly count: number;
  /** dma-buf offset (Dmabuf) or offset into `linear` (Linear, Host). */
  readonly offsets: Float64Array;
  /** Each fragment's length in bytes. */
  readonly sizes: Uint32Array;
  /** Kernel tokens (0 for Linear/Host). Returned to the kernel by release(). */
  readonly tokens: Uint32Array;
  /**
   * The binding (`RxBinding.id`) each dma-buf fragment landed in; 0 for
   * Linear and Host. With a `binding` in the receive options a foreign id
   * fails the socket with FLOW_STEERING, so all are that binding's.
   */
  readonly dmabufIds: Uint32Array;
  /** Each fragment's {@link FragmentKind}: where its bytes are. */
  readonly kinds: Uint8Array;
  /**
   * Linear and host bytes, in stream order. With the receive option
   * `linearLifetime: 'batch'` it is borrowed: release() (or the socket's
   * close) detaches it, and it reads as 0 bytes from then on.
   */
  readonly linear: Buffer;
  /** Bytes in dma-buf fragments: payload that never passed through host memory. */
  readonly dmabufBytes: number;
  /** Bytes of SCM_DEVMEM_LINEAR fragments, which header split left in host memory. */
  readonly linearBytes: number;
  /** Bytes of ordinary data with no devmem cmsg, from a flow that missed the bound queues. */
  readonly hostBytes: number;
  /** zcrx: bytes of Copied fragments, which the kernel copied into the area (not in dmabufBytes). */
  readonly copiedBytes: number;
  readonly #owner: BatchOwner;
  #released = false;

  /** @internal */
  constructor(owner: BatchOwner, b: NativeBatchEvent) {
    this.#owner = owner;
    this.seq = b[1];
    this.offsets = b[2];
    this.sizes = b[3];
    this.tokens = b[4];
    this.dmabufIds = b[5];
    this.kinds = b[6];
    this.count = b[6].length;
    this.linear = b[7];
    this.dmabufBytes = b[8];
    this.linearBytes = b[9];
    this.hostBytes = b[10];
    this.copiedBytes = b[11];
  }

  /** Total payload bytes in the batch. */
  get bytes(): number {
    return this.dmabufBytes + this.linearBytes + this.hostBytes + this.copiedBytes;
  }

  /**
   * True once release(), dispose or the iterator's auto-release has run.
   * A closed socket returned the tokens without setting it.
   */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Returns this batch's dma-buf buffers to the kernel (SO_DEVMEM_DONTNEED,
   * coalesced and batched in native code).
   *
   * @throws DevmemError `ALREADY_RELEASED` when called a second time: the
   * tokens may by then name buffers holding newer data, so a repeat is a bug
   * in the caller. `CLOSED` once the socket has closed, which returned every
   * token already. Neither touches the kernel. `Symbol.dispose` (and the
   * auto-release of the async iterator) skip both cases silently.
   */
  release(): ReleaseResult {
    if (this.#released) throw new DevmemError(`batch ${this.seq} was already released`, { reason: 'ALREADY_RELEASED' });
    if (this.#owner.closed) {
      this.#released = true;
      throw new DevmemError(`the socket of batch ${this.seq} is closed, which already returned its tokens`, { reason: 'CLOSED' });
    }
    return this.releaseIfHeld();
  }

  /** @internal Releases unless already released or the socket closed. */
  releaseIfHeld(): ReleaseResult {
    if (this.#released || this.#owner.closed) {
      this.#released = true;
      return { requested: 0, freed: 0, calls: 0 };
    }
    this.#released = true;
    const r = this.#owner.releaseBatch(this.seq);
    if (releaseChannel.hasSubscribers) releaseChannel.publish({ seq: this.seq, ...r });
    return r;
  }

  /**
   * Releases the batch unless that already happened or its socket closed,
   * never throwing: what `using batch = ...` runs when its block ends.
   */
  [Symbol.dispose](): void {
    this.releaseIfHeld();
  }

  /**
   * Copies the batch's bytes, in stream order, into `target` (or a new
   * Buffer): dma-buf fragments from `dmabuf`'s CPU mapping inside one sync
   * bracket, linear and host bytes from `linear`. For validation and CPU
   * consumers; GPU consumers use the offsets directly.
   */
  copyOut(dmabuf: DmaBuf | ZcrxHostArea | undefined, target?: Uint8Array): Uint8Array {
    this.#checkLinear();
    const out = target ?? Buffer.allocUnsafe(this.bytes);
    if (!(out instanceof Uint8Array)) throw new TypeError('target must be a Uint8Array');
    if (out.byteLength < this.bytes)
      throw invalidArgument(`target holds ${out.byteLength} bytes, the batch has ${this.bytes}: pass a larger target`);
    const copy = (dm: Uint8Array | undefined) => {
      let pos = 0;
      for (let i = 0; i < this.count; i++) {
        const off = this.offsets[i]!;
        const size = this.sizes[i]!;
        const src = inArea(this.kinds[i]!) ? dm! : this.linear;
        // subarray() would clamp silently and copy short: a fragment outside
        // the view means the wrong dma-buf was passed.
        if (off + size > src.length)
          throw invalidArgument(
            `fragment ${i} [${off}, ${off + size}) lies outside the ${src.length}-byte ${src === dm ? 'dma-buf' : 'linear buffer'}: pass the dma-buf the socket's binding uses`,
          );
        out.set(src.subarray(off, off + size), pos);
        pos += size;
      }
    };
    if (this.dmabufBytes + this.copiedBytes === 0) copy(undefined);
    else {
      if (!dmabuf || typeof dmabuf.map !== 'function') throw new TypeError('copyOut needs the DmaBuf the fragments landed in');
      const view = dmabuf.map();
      if (view.mappable) view.withView(0, dmabuf.size, 'read', copy);
      else this.#copyThrough(view, out);
    }
    return out;
  }

  // A borrowed `linear` (linearLifetime 'batch') is detached once the batch
  // is released or its socket closed: its views would read as empty, and
  // copy nothing, so a late read fails here instead.
  #checkLinear(): void {
    if (this.linearBytes + this.hostBytes === 0 || this.linear.byteLength > 0) return;
    if (this.#released)
      throw new DevmemError(
        `batch ${this.seq} was released; with linearLifetime 'batch' its linear bytes are gone: copy them out before release()`,
        { reason: 'ALREADY_RELEASED' },
      );
    throw new DevmemError(
      `the socket of batch ${this.seq} closed; with linearLifetime 'batch' its linear bytes went with it: copy them out before close()`,
      { reason: 'CLOSED' },
    );
  }

  // Memory with no CPU view (CUDA): one copy per run of adjacent dma-buf
  // fragments, which the NIC usually fills in order.
  #copyThrough(view: DmaBufView, out: Uint8Array): void {
    let pos = 0;
    for (let i = 0; i < this.count;) {
      const off = this.offsets[i]!;
      let len = this.sizes[i]!;
      if (!inArea(this.kinds[i]!)) {
        out.set(this.linear.subarray(off, off + len), pos);
        pos += len;
        i++;
        continue;
      }
      let j = i + 1;
      while (j < this.count && inArea(this.kinds[j]!) && this.offsets[j] === off + len) len += this.sizes[j++]!;
      if (off + len > view.size)
        throw invalidArgument(
          `fragment ${i} [${off}, ${off + len}) lies outside the ${view.size}-byte dma-buf: pass the dma-buf the socket's binding uses`,
        );
      view.readInto(off, out.subarray(pos, pos + len));
      pos += len;
      i = j;
    }
  }

  /**
   * The linear and host chunks as Buffers (views into `linear`), in stream
   * order. Borrowed (`linearLifetime: 'batch'`), the views end with the batch.
   *
   * @throws DevmemError `ALREADY_RELEASED` (or `CLOSED`) when the batch's
   * borrowed `linear` has ended; copyOut() throws the same.
   */
  linearChunks(): Buffer[] {
    this.#checkLinear();
    const chunks: Buffer[] = [];
    for (let i = 0; i < this.count; i++) {
      if (!inArea(this.kinds[i]!)) chunks.push(this.linear.subarray(this.offsets[i]!, this.offsets[i]! + this.sizes[i]!));
    }
    return chunks;
  }
}

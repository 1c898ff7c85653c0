/** Listening sockets that hand out DevmemSockets. */
import * as net from 'node:net';

import { abortError, checkSignal } from './abort';
import { closedError, DevmemError, fromNative, invalidArgument } from './errors';
import { native, type NativeError, type NativeServer, type NativeSocket } from './native';
import { checkPort, resolveHost } from './ip';
import { checkReceiveOptions, type ReceiveOptions } from './receive-options';
import { DevmemSocket, type SocketAddress } from './socket';

/** Options of {@link createServer}: where to listen, and the receive options every accepted socket gets. */
export interface ServerOptions extends ReceiveOptions {
  /**
   * Address to listen on, or a name resolved with `dns.lookup()`. `'::'` also
   * accepts IPv4 clients, as IPv4-mapped addresses, unless `ipv6only`.
   * @defaultValue `'::'`
   */
  host?: string;
  /**
   * The port; 0 lets the kernel pick a free one, which listen() returns.
   * @defaultValue `0`
   */
  port?: number;
  /**
   * IPV6_V6ONLY on an IPv6 listener: refuse IPv4 clients.
   * @defaultValue `false`
   */
  ipv6only?: boolean;
  /**
   * SO_REUSEPORT, so that several servers (processes, workers) can listen on
   * the same port and the kernel spreads the connections among them.
   * @defaultValue `false`
   */
  reusePort?: boolean;
  /**
   * How many connections the kernel queues before they are accepted; it caps
   * this at net.core.somaxconn.
   * @defaultValue `511`
   */
  backlog?: number;
}

const MAX_QUEUED = 16;

/**
 * A listening TCP socket. `accept()` (or `for await`) yields DevmemSockets
 * configured with the server's receive options.
 */
export class DevmemServer {
  readonly #opts: ServerOptions;
  #native: NativeServer | undefined;
  readonly #ready: NativeSocket[] = [];
  readonly #waiters: { resolve(s: DevmemSocket): void; reject(e: unknown): void }[] = [];
  #closed = false;
  #error: unknown;

  /** @internal */
  constructor(opts: ServerOptions) {
    this.#opts = opts;
  }

  /** Starts listening and returns the bound address (the real port when 0 was asked). */
  async listen(): Promise<SocketAddress> {
    if (this.#native) throw invalidArgument('the server is already listening');
    if (this.#closed) throw closedError('the server');
    const host = await resolveHost(this.#opts.host ?? '::');
    const nat = new (native().NativeServer)();
    try {
      nat.listen({
        host,
        port: this.#opts.port ?? 0,
        ipv6only: this.#opts.ipv6only === true,
        reusePort: this.#opts.reusePort === true,
        ...(this.#opts.backlog === undefined ? {} : { backlog: this.#opts.backlog }),
        ...(this.#opts.receiveBufferSize === undefined ? {} : { receiveBufferSize: this.#opts.receiveBufferSize }),
      });
    } catch (e) {
      throw fromNative(e, 'socket', `cannot listen on ${host}:${this.#opts.port ?? 0}`);
    }
    nat.setCallback((type, arg) => {
      if (type === 'connection') this.#onConnection(arg as NativeSocket);
      else this.#onError(fromNative(arg as NativeError, 'socket', 'accept failed'));
    });
    this.#native = nat;
    this.#updateWatch();
    return nat.address()!;
  }

  #onConnection(s: NativeSocket): void {
    const w = this.#waiters.shift();
    if (w) w.resolve(new DevmemSocket(s, this.#opts));
    else this.#ready.push(s);
    this.#updateWatch();
  }

  #onError(e: unknown): void {
    this.#error = e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  // Accept only while there is room; beyond that the kernel's backlog waits.
  #updateWatch(): void {
    this.#native?.watch(!this.#closed && this.#ready.length < MAX_QUEUED);
  }

  /** The address listened on, or null before listen() and after close(). */
  address(): SocketAddress | null {
    return this.#native?.address() ?? null;
  }

  /** The next connection. Rejects with an AbortError when `signal` aborts. */
  accept(options: { signal?: AbortSignal } = {}): Promise<DevmemSocket> {
    const signal = checkSignal(options.signal);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const s = this.#ready.shift();
    if (s) {
      this.#updateWatch();
      return Promise.resolve(new DevmemSocket(s, this.#opts));
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#closed || !this.#native)
      return Promise.reject(
        this.#closed
          ? closedError('the server')
          : new DevmemError('the server is not listening: call listen() first', { reason: 'CLOSED' }),
      );
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (sock: DevmemSocket) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(sock);
        },
        reject: (e: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Yields each connection as accept() would, until close(), which ends the
   * loop quietly; an accept error is thrown into it.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<DevmemSocket, void, undefined> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (e) {
        if (this.#closed) return;
        throw e;
      }
    }
  }

  /** Stops listening; queued, unaccepted connections are closed. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native?.close();
    for (const s of this.#ready.splice(0)) s.close();
    const err = new DevmemError('the server was closed', { reason: 'CLOSED' });
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** Undoes unref(): a listening server keeps the process alive again. */
  ref(): this {
    this.#native?.ref();
    return this;
  }

  /** Lets the process exit while the server listens, like `net.Server.unref()`; before listen() it does nothing. */
  unref(): this {
    this.#native?.unref();
    return this;
  }
}

/** Creates a server; call `listen()` to start it. */
export function createServer(options: ServerOptions = {}): DevmemServer {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.host !== undefined && typeof options.host !== 'string') throw new TypeError('host must be a string');
  if (options.host !== undefined && options.host !== 'localhost' && !net.isIP(options.host) && !/^[\w.-]+$/.test(options.host))
    throw invalidArgument(`${JSON.stringify(options.host)} is not a host`);
  if (options.port !== undefined) checkPort(options.port);
  if (options.backlog !== undefined && (!Number.isInteger(options.backlog) || options.backlog < 1))
    throw invalidArgument('backlog must be a positive integer');
  return new DevmemServer(checkReceiveOptions(options));
}

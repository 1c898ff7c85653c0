/**
 * Connecting: connect() opens a TCP connection owned by the addon (for devmem
 * TX, with SO_BINDTODEVICE to the bound interface) and resolves once it is up.
 */
import * as net from 'node:net';

import { abortError, checkSignal } from './abort';
import { fromNative, invalidArgument } from './errors';
import { checkPort, resolveHost } from './ip';
import { native } from './native';
import { checkReceiveOptions, type ReceiveOptions } from './receive-options';
import { DevmemSocket } from './socket';

/** Options of {@link connect}: the peer, the local end, and how the socket receives. */
export interface ConnectOptions extends ReceiveOptions {
  /** The peer: an IP address, or a name resolved with `dns.lookup()` (its first address). */
  host: string;
  /** The peer's TCP port. */
  port: number;
  /** The local IP address to bind before connecting (not a name); left out, the route decides. */
  localAddress?: string;
  /** The local port to bind before connecting; left out, the kernel picks an ephemeral one. */
  localPort?: number;
  /** SO_BINDTODEVICE: the route must leave through this interface (needed for devmem TX). */
  bindToDevice?: string;
  /** Aborting before the connection is up closes the socket; connect() then rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Opens a TCP connection owned by the addon and resolves once it is up.
 *
 * @throws TypeError for options of the wrong type, DevmemError
 * INVALID_ARGUMENT for bad values (a port out of range, a `localAddress`
 * that is not an IP) and CLOSED for a closed `binding` or `dmabuf`, all
 * before any syscall. A failed connect rejects
 * with DevmemError CONNECTION_REFUSED, TIMEOUT, NO_SUCH_DEVICE (an unknown
 * `bindToDevice`) or the errno's reason; a name that does not resolve
 * rejects with the `dns.lookup()` error.
 */
export async function connect(options: ConnectOptions): Promise<DevmemSocket> {
  if (options === null || typeof options !== 'object') throw new TypeError('connect needs an options object');
  if (typeof options.host !== 'string') throw new TypeError('host must be a string');
  const port = checkPort(options.port);
  if (options.localPort !== undefined) checkPort(options.localPort, 'localPort');
  if (options.localAddress !== undefined && !net.isIP(options.localAddress)) throw invalidArgument('localAddress must be an IP address');
  if (options.bindToDevice !== undefined && typeof options.bindToDevice !== 'string')
    throw new TypeError('bindToDevice must be an interface name');
  const signal = checkSignal(options.signal);
  const opts = checkReceiveOptions(options);
  if (signal?.aborted) throw abortError(signal);
  const host = await resolveHost(options.host);
  const nat = (() => {
    try {
      const req: Parameters<ReturnType<typeof native>['connect']>[0] = { host, port };
      if (options.localAddress !== undefined) req.localAddress = options.localAddress;
      if (options.localPort !== undefined) req.localPort = options.localPort;
      if (options.bindToDevice !== undefined) req.bindToDevice = options.bindToDevice;
      if (options.receiveBufferSize !== undefined) req.receiveBufferSize = options.receiveBufferSize;
      return native().connect(req);
    } catch (e) {
      throw fromNative(e, 'socket', `connect to ${host}:${port}`);
    }
  })();
  const sock = new DevmemSocket(nat, opts, true);
  if (signal?.aborted) {
    sock.close();
    throw abortError(signal);
  }
  const connected = sock.waitConnected();
  const onAbort = () => sock.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await connected;
  } catch (e) {
    sock.close();
    if (signal?.aborted) throw abortError(signal);
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  sock.connected();
  return sock;
}

/**
 * Which RX queue a connection's packets arrive through, as the socket itself
 * reports it: the kernel marks each TCP socket with the NAPI id of the last
 * packet it received (SO_INCOMING_NAPI_ID), and the netdev queue dump says
 * which RX queue each NAPI instance serves. This is how a server that spreads
 * connections over an RSS context (NicConfig.reserveQueues()) can tell where
 * each one landed.
 */
import { callSync, invalidArgument } from './errors';
import { resolveInterface, type InterfaceSpec } from './interfaces';
import { native } from './native';
import { listQueues } from './netdev';

/** A socket to ask: a DevmemSocket, or a socket file descriptor (a Node `net.Socket`'s, for one). */
export type IncomingSocket =
  | {
      /** The NAPI id of the socket's last packet, or null: what DevmemSocket.incomingNapiId() returns. */
      incomingNapiId(): number | null;
    }
  | number;

/**
 * The NAPI id of the last packet the socket received, or null when none has
 * arrived through a NAPI instance yet (or the socket is closed, for a
 * DevmemSocket).
 *
 * @throws DevmemError for a descriptor that is not a socket (ENOTSOCK, EBADF).
 */
export function incomingNapiId(socket: IncomingSocket): number | null {
  if (typeof socket !== 'number') {
    if (socket === null || typeof socket !== 'object' || typeof socket.incomingNapiId !== 'function')
      throw new TypeError('incomingNapiId() needs a DevmemSocket or a socket file descriptor');
    return socket.incomingNapiId();
  }
  if (!Number.isInteger(socket) || socket < 0) throw invalidArgument(`a socket file descriptor is a non-negative integer, got ${socket}`);
  const id = callSync('socket', 'cannot read SO_INCOMING_NAPI_ID', () => native().socketIncomingNapiId(socket));
  return id === 0 ? null : id;
}

/**
 * The RX queue of `iface` that the socket's last packet arrived through,
 * or null when that is unknown: nothing has arrived yet, or the NAPI
 * instance serves no RX queue of `iface` (the packet came through another
 * device, or the driver reports no NAPI ids in its queue dump). Read it
 * after data has arrived; with flow steering it stays the same for the
 * whole connection.
 */
export async function incomingQueue(socket: IncomingSocket, iface: InterfaceSpec): Promise<number | null> {
  const id = incomingNapiId(socket);
  if (id === null) return null;
  const { ifindex } = await resolveInterface(iface);
  const q = (await listQueues(ifindex)).find((q) => q.type === 'rx' && q.napiId === id);
  return q?.id ?? null;
}

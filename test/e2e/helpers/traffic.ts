// Plain TCP across the netdevsim link, sent from the remote netns by one sender
// (fixtures/send.cjs, a plain node script, so it starts fast under TCG): the stream
// pattern (test/support/pattern.cjs), or bytes the test chose, which reach the sender
// through runRemote()'s input. No addon here: the environment smoke tests use it too.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import * as path from 'node:path';

import { runRemote, type RemoteResult } from './remote.js';

const SENDER = path.join(__dirname, '../fixtures/send.cjs');

/**
 * The sender's argv (to run in the remote netns): connects to host:port and sends
 * `bytes` of the stream pattern on each of `connections`, or with `bytes` '-' its stdin
 * on one; it prints each connection's local address and exits once the receiver has
 * closed every connection.
 */
export function senderArgv(host: string, port: number, bytes: number | '-', connections = 1): string[] {
  return [process.execPath, SENDER, host, String(port), String(bytes), String(connections)];
}

export interface SendOptions {
  /** Connections, each carrying `what` when it is a byte count of the pattern (default 1). */
  connections?: number;
  /** Kill the sender (SIGKILL) after this long; default 240 s. */
  timeoutMs?: number;
}

/**
 * Sends from the remote netns to host:port: `what` bytes of the stream pattern, or the
 * bytes of a Buffer. Resolves once the receiver closed; rejects if the sender failed.
 */
export function sendFromRemote(host: string, port: number, what: number | Buffer, options: SendOptions = {}): Promise<RemoteResult> {
  const { connections = 1, timeoutMs = 240_000 } = options;
  if (typeof what === 'number') return runRemote(senderArgv(host, port, what, connections), { timeoutMs });
  return runRemote(senderArgv(host, port, '-'), { input: what, timeoutMs });
}

export interface Transfer {
  received: Buffer;
  /** Address the server saw the connection come from. */
  peerAddress: string | undefined;
  /** Local address the remote sender reported. */
  clientAddress: string;
}

/** Sends `data` from the remote netns to a plain server on localAddress and returns what arrived. */
export async function receiveFromRemote(localAddress: string, data: Buffer, timeoutMs = 60_000): Promise<Transfer> {
  const server = createServer();
  server.listen(0, localAddress);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const arrival = new Promise<{ received: Buffer; peerAddress: string | undefined }>((resolve, reject) => {
      server.once('connection', (socket: Socket) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('error', reject);
        socket.on('end', () => {
          socket.end();
          resolve({ received: Buffer.concat(chunks), peerAddress: socket.remoteAddress });
        });
      });
    });
    const [{ received, peerAddress }, { stdout }] = await Promise.all([arrival, sendFromRemote(localAddress, port, data, { timeoutMs })]);
    return { received, peerAddress, clientAddress: stdout.trim() };
  } finally {
    server.close();
  }
}

// Plain TCP across the netdevsim link: a server in the local netns (this process) and a
// client in the remote netns (a second node started with `ip netns exec`), which
// forwards its stdin to the connection. The payload reaches the client through
// runRemote()'s input, so the test decides the bytes and checks them on arrival.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { runRemote } from './remote.js';

// argv: HOST PORT. Connects, copies stdin to the socket, ends it, exits 0 once the
// server has closed its side; prints the local address it used.
const CLIENT_SOURCE = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const socket = net.connect({ host, port: Number(port) }, () => {
  console.log(socket.localAddress);
  process.stdin.pipe(socket);
});
socket.on('error', (err) => { console.error(err.message); process.exit(1); });
socket.on('close', (hadError) => process.exit(hadError ? 1 : 0));
socket.resume();
`;

export interface Transfer {
  received: Buffer;
  /** Address the server saw the connection come from. */
  peerAddress: string | undefined;
  /** Local address the remote client reported. */
  clientAddress: string;
}

/** Sends `data` from the remote netns to a server on localAddress and returns what arrived. */
export async function sendFromRemote(localAddress: string, data: Buffer, timeoutMs = 60_000): Promise<Transfer> {
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
    const client = runRemote([process.execPath, '-e', CLIENT_SOURCE, localAddress, String(port)], {
      input: data,
      timeoutMs,
    });
    const [{ received, peerAddress }, { stdout }] = await Promise.all([arrival, client]);
    return { received, peerAddress, clientAddress: stdout.trim() };
  } finally {
    server.close();
  }
}

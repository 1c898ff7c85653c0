/**
 * `devmem peer`: the plain-TCP far end for devmem tests, so a remote host
 * needs only this package, not socat. It is what the kernel's devmem tests do
 * with socat:
 *   send   --host H --port P [--bind ADDR] --bytes N [--pattern K] [--connections C]
 *                                                                    connect from ADDR:P, send, close
 *   stream --host H --port P [--bind ADDR] [--pattern K] [--seconds S]  send until S seconds or a reset
 *   listen [--host H] --port P                                        accept one connection, copy it to stdout
 * The pattern is `devmem nc -v K`'s (1..K-1 then '\n'); without --pattern, zeros.
 * Connecting retries for up to 30 s while nothing listens yet.
 */
import * as net from 'node:net';
import { parseArgs } from 'node:util';

export const PEER_HELP = `Usage: devmem peer send|stream|listen [options]

Plain TCP far end for devmem tests (what devmem.py uses socat for).
  send    connect, send --bytes N of the pattern, close, wait for the receiver to close
  stream  connect and send the pattern until --seconds S have passed (or the peer resets)
  listen  accept one connection and copy it to stdout until EOF

Options:
  --host ADDR      address to connect to (send, stream) or listen on (listen; default ::)
  --port PORT      TCP port
  --bind ADDR      local address to connect from, with the same port (for 5-tuple rules;
                   with --connections above 1, from ports the kernel picks)
  --bytes N        bytes to send (send; on each connection)
  --connections C  send: open C connections at once, each sending --bytes (default 1)
  --pattern K      devmem nc -v K pattern; default zeros
  --seconds S      how long to stream (stream; default until reset)
  -h, --help       this help
`;

function pattern(period: number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  if (period > 0) for (let i = 0; i < bytes; i++) out[i] = (i + 1) % period || 0x0a;
  return out;
}

function connectRetrying(
  host: string,
  port: number,
  bind: string | undefined,
  deadline: number,
  localPort: number | null = port,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // null: the kernel picks the local port.
    const from = bind ? { localAddress: bind, ...(localPort === null ? {} : { localPort }) } : {};
    const s = net.connect({ host, port, noDelay: true, ...from });
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      s.destroy();
      // EADDRINUSE: the previous connection from bind:port is still in TIME_WAIT.
      if ((e.code === 'ECONNREFUSED' || e.code === 'EADDRINUSE') && Date.now() < deadline)
        setTimeout(() => void connectRetrying(host, port, bind, deadline, localPort).then(resolve, reject), 100);
      else reject(e);
    });
  });
}

function int(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--${name} needs a non-negative integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

export async function runPeer(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      bind: { type: 'string' },
      bytes: { type: 'string' },
      pattern: { type: 'string' },
      seconds: { type: 'string' },
      connections: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const mode = positionals[0];
  if (values.help || !mode) {
    process.stdout.write(PEER_HELP);
    return values.help ? 0 : 1;
  }
  const port = int(values.port, 'port');
  if (port === undefined || port < 1 || port > 65535) throw new Error('--port PORT (1..65535) is required');
  const period = int(values.pattern, 'pattern') ?? 0;

  if (mode === 'listen') {
    const srv = net.createServer();
    const conn = new Promise<net.Socket>((resolve) => srv.once('connection', resolve));
    await new Promise<void>((resolve) => srv.listen({ host: values.host ?? '::', port }, resolve));
    process.stderr.write('listening\n');
    const c = await conn;
    srv.close();
    c.pipe(process.stdout);
    await new Promise((resolve) => c.on('close', resolve));
    return 0;
  }
  if (mode !== 'send' && mode !== 'stream') throw new Error(`unknown mode "${mode}": send, stream or listen`);
  if (!values.host) throw new Error('--host ADDR is required');
  const host = values.host;
  const connections = int(values.connections, 'connections') ?? 1;
  if (connections < 1 || (connections > 1 && mode !== 'send')) throw new Error('--connections C (1 or more) is for send');
  if (mode === 'send') {
    const bytes = int(values.bytes, 'bytes');
    if (bytes === undefined) throw new Error('--bytes N is required');
    const data = pattern(period, bytes);
    const deadline = Date.now() + 30_000;
    // Several connections cannot share one local port: the kernel picks theirs.
    const localPort = connections === 1 ? port : null;
    const sockets = await Promise.all(
      Array.from({ length: connections }, () => connectRetrying(host, port, values.bind, deadline, localPort)),
    );
    await Promise.all(
      sockets.map((s) => {
        s.end(data);
        // Stay until the receiver closes, so retransmits are never abandoned.
        s.resume();
        return new Promise((resolve) => s.on('close', resolve));
      }),
    );
    return 0;
  }
  const s = await connectRetrying(host, port, values.bind, Date.now() + 30_000);
  const seconds = int(values.seconds, 'seconds');
  const chunk = pattern(period, Math.max(1, period) * 8192);
  let sent = 0;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    s.on('error', stop);
    s.on('close', stop);
    if (seconds !== undefined)
      setTimeout(() => {
        s.end(() => resolve());
      }, seconds * 1000);
    const pump = () => {
      while (!s.writableEnded && s.write(chunk)) sent += chunk.length;
    };
    s.on('drain', pump);
    pump();
  });
  s.resume();
  await new Promise((resolve) => (s.closed ? resolve(undefined) : s.on('close', resolve)));
  process.stderr.write(`sent ${sent} bytes\n`);
  return 0;
}

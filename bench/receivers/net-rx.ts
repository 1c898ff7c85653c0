/**
 * Loopback receiver on Node's own path: net.Socket 'data' events.
 * Usage: net-rx [host]
 */
import * as net from 'node:net';

const server = net.createServer((sock) => {
  server.close();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let bytes = 0;
  let check = 0;
  let reads = 0;
  sock.on('data', (d: Buffer) => {
    bytes += d.length;
    reads++;
    check ^= d[d.length - 1]!;
  });
  sock.on('end', () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    sock.end();
    process.stdout.write(`${JSON.stringify({ bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, reads, check })}\n`);
  });
});
server.listen(0, process.argv[2] ?? '127.0.0.1', () => {
  process.stdout.write(`port ${(server.address() as net.AddressInfo).port}\n`);
});

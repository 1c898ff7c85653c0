/**
 * Loopback receiver on our path: a DevmemSocket reading with
 * recvmsg(MSG_SOCK_DEVMEM), every batch's bytes delivered to JS as `linear`.
 * Usage: devmem-rx [host]
 */
import { createServer } from '../../lib/index';

async function main(): Promise<void> {
  const server = createServer({ host: process.argv[2] ?? '127.0.0.1', port: 0 });
  await server.listen();
  process.stdout.write(`port ${server.address()!.port}\n`);
  const sock = await server.accept();
  server.close();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let bytes = 0;
  let check = 0;
  for await (const batch of sock) {
    bytes += batch.bytes;
    // Touch the delivered bytes' last page, as any consumer would.
    if (batch.linear.length) check ^= batch.linear[batch.linear.length - 1]!;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const s = sock.stats();
  sock.close();
  process.stdout.write(
    `${JSON.stringify({ bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, recvmsgCalls: s.recvmsgCalls, batches: s.batches, check })}\n`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

/**
 * Loopback receiver on our path: a DevmemSocket reading with
 * recvmsg(MSG_SOCK_DEVMEM), every batch's bytes delivered to JS as `linear`.
 * With --borrowed it reads with linearLifetime 'batch', and at the end checks
 * that the last batch's bytes are gone after its release (a use after
 * release is caught), reporting useAfterReleaseCaught: 1.
 * With --coalesce US it receives with `coalesce: { waitMicros: US }`.
 * Usage: devmem-rx [--borrowed] [--coalesce US] [host]
 */
import { DevmemError, createServer, type FragmentBatch } from '../../lib/index';

function useAfterReleaseCaught(b: FragmentBatch | undefined): number {
  if (!b?.released || b.linear.length !== 0) return 0;
  try {
    b.copyOut(undefined);
    return 0;
  } catch (e) {
    return e instanceof DevmemError && e.reason === 'ALREADY_RELEASED' ? 1 : 0;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const borrowed = args[0] === '--borrowed';
  if (borrowed) args.shift();
  const coalesce = args[0] === '--coalesce' ? Number(args.splice(0, 2)[1]) : undefined;
  const server = createServer({
    host: args[0] ?? '127.0.0.1',
    port: 0,
    linearLifetime: borrowed ? 'batch' : 'owned',
    ...(coalesce ? { coalesce: { waitMicros: coalesce } } : {}),
  });
  await server.listen();
  process.stdout.write(`port ${server.address()!.port}\n`);
  const sock = await server.accept();
  server.close();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let bytes = 0;
  let check = 0;
  let last: FragmentBatch | undefined;
  for await (const batch of sock) {
    bytes += batch.bytes;
    last = batch;
    // Touch the delivered bytes' last page, as any consumer would.
    if (batch.linear.length) check ^= batch.linear[batch.linear.length - 1]!;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const s = sock.stats();
  sock.close();
  const report = {
    bytes,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    recvmsgCalls: s.recvmsgCalls,
    batches: s.batches,
    coalesceWaits: s.coalesceWaits,
    check,
  };
  process.stdout.write(`${JSON.stringify(borrowed ? { ...report, useAfterReleaseCaught: useAfterReleaseCaught(last) } : report)}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

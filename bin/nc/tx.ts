/**
 * `devmem nc -s ADDR -p PORT` without -l: ncdevmem's client. bind-tx, connect
 * through the interface, then for each stdin line: copy it into the dma-buf,
 * send it from there with zerocopy (split into -z sized iovecs), and wait for
 * the completion before the buffer is reused for the next line.
 */
import { bindTx } from '../../lib/bindings';
import { connect } from '../../lib/connect';
import type { DmabufRange } from '../../lib/tx';
import { allocNcBuffer, describeBuffer } from './buffer';
import { lines } from './lines';
import type { NcOptions } from './options';
import { fail, ok, type Outcome } from './outcome';
import type { Reporter } from './reporter';

export function chunkRanges(length: number, maxChunk: number | undefined): DmabufRange[] {
  if (!maxChunk || maxChunk >= length) return [{ offset: 0, length }];
  const out: DmabufRange[] = [];
  for (let off = 0; off < length; off += maxChunk) out.push({ offset: off, length: Math.min(maxChunk, length - off) });
  return out;
}

export async function runTx(o: NcOptions, r: Reporter, input: AsyncIterable<Buffer | string> = process.stdin): Promise<Outcome> {
  if (o.dryRun) {
    r.log(
      `plan: bind-tx on ${o.iface}, connect to ${o.server} port ${o.port} through ${o.iface}${o.client ? ` from ${o.client}` : ''}, send stdin line by line`,
    );
    r.log('TX changes no NIC settings');
    return ok('dry run: nothing was changed');
  }
  const dmabuf = allocNcBuffer(o.memory);
  try {
    const binding = await bindTx(o.iface, dmabuf);
    try {
      r.log(`got tx dmabuf id=${binding.id}`);
      r.event('bound', { dmabufId: binding.id, dmabufSize: dmabuf.size, memory: describeBuffer(dmabuf) });
      const sock = await connect({
        host: o.server!,
        port: o.port!,
        bindToDevice: o.iface,
        ...(o.client ? { localAddress: o.client, localPort: o.port! } : {}),
      });
      try {
        let sent = 0;
        let lineCount = 0;
        for await (const line of lines(input)) {
          if (line.length > dmabuf.size) return fail(`a line of ${line.length} bytes does not fit the ${dmabuf.size}-byte dma-buf`);
          dmabuf.write(0, line);
          const res = await sock.sendDmabuf(binding, chunkRanges(line.length, o.maxChunk));
          if (res.bytes !== line.length) return fail(`sent ${res.bytes} of ${line.length} bytes`);
          sent += res.bytes;
          lineCount++;
          r.log(`tx complete: ${res.bytes} bytes in ${res.sends} sendmsg call(s)${res.copied ? ' (the kernel copied)' : ''}`);
          r.event('tx', { bytes: res.bytes, sends: res.sends, copied: res.copied });
        }
        sock.end();
        r.log(`tx ok: ${lineCount} line(s), ${sent} bytes`);
        r.event('sent', { lines: lineCount, bytes: sent, stats: sock.stats() });
        return ok();
      } finally {
        sock.close();
      }
    } finally {
      binding.close();
    }
  } finally {
    dmabuf.close();
  }
}

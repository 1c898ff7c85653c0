// NicConfig's steering on the patched netdevsim, which routes packets by the
// n-tuple rules and the RSS table: RSS isolation keeps ordinary flows off a
// bound queue, and without it they land there and fail.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';

import { allocUdmabuf, ethtool, NicConfig, readNicState } from '../../../lib/index';
import { e2eEnv } from '../helpers/env';
import { startPeer } from '../helpers/nc';

const env = e2eEnv();
let nextPort = 6501;

/** Receives `flows` ordinary TCP flows of `bytes` each from the remote; resolves with how many arrived whole and how many errored. */
async function plainFlows(flows: number, bytes: number): Promise<{ whole: number; errors: string[] }> {
  const port = nextPort++;
  const errors: string[] = [];
  let whole = 0;
  const srv = net.createServer();
  const finished = new Promise<void>((resolve) => {
    let done = 0;
    srv.on('connection', (c) => {
      let got = 0;
      c.on('data', (d: Buffer) => (got += d.length));
      const end = (err?: Error) => {
        if (err) errors.push((err as NodeJS.ErrnoException).code ?? err.message);
        else if (got === bytes) whole++;
        c.destroy();
        if (++done === flows) resolve();
      };
      c.once('error', end);
      c.once('end', () => end());
    });
  });
  await new Promise<void>((r) => srv.listen(port, env.addr4Local, r));
  const peers = Array.from({ length: flows }, () =>
    startPeer(['send', '--host', env.addr4Local, '--port', String(port), '--bytes', String(bytes)]),
  );
  await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
  for (const p of peers) p.child.kill();
  await Promise.all(peers.map((p) => p.done));
  srv.close();
  return { whole, errors };
}

describe('NicConfig steering on the patched netdevsim', function () {
  this.timeout(180_000);

  it('RSS isolation keeps ordinary flows off the bound queue; pointing RSS at it makes them fail', async () => {
    const before = await readNicState(env.ifLocal);
    const last = env.queues - 1;
    const dmabuf = allocUdmabuf(4 * 1024 * 1024);
    const nic = await NicConfig.open(env.ifLocal);
    try {
      await nic.enableHeaderSplit();
      await nic.isolateQueues(last);
      await nic.bindRx([last], dmabuf);
      const isolated = await plainFlows(8, 256 * 1024);
      assert.deepEqual(isolated, { whole: 8, errors: [] });

      // The control: every hash bucket on the bound queue. Payload lands in the
      // dma-buf, which an ordinary socket cannot read.
      ethtool.setRssIndirection(env.ifLocal, new Uint32Array(ethtool.getRssIndirection(env.ifLocal).length).fill(last));
      const exposed = await plainFlows(2, 64 * 1024);
      assert.equal(exposed.whole, 0, `flows on the bound queue must not arrive as plain data: ${JSON.stringify(exposed)}`);
    } finally {
      nic.close();
      dmabuf.close();
    }
    assert.deepEqual(await readNicState(env.ifLocal), before);
  });
});

import * as assert from 'node:assert/strict';

import { allocUdmabuf, bindRx, bindTx, createServer, type DmaBuf, type TxBinding } from '../../../lib/index';
import { hostileCases, itRejectsHostileInput, type HostileFixture } from '../../support/hostile-cases';
import { allQueues, enableHeaderSplit } from '../helpers/devmem-rx';
import { e2eEnv } from '../helpers/env';
import { sendFromRemote } from '../helpers/traffic';

const env = e2eEnv();
const MiB = 1024 * 1024;
let nextPort = 5401;

// The whole table, with real dma-bufs and bindings: every case ends in a
// TypeError or DevmemError, and leaves no fd, bound queue or NIC setting behind.
describe('hostile input at the public API (patched netdevsim)', function () {
  this.timeout(120_000);
  let restoreRings: () => Promise<void>;
  let dmabuf: DmaBuf;
  let tx: TxBinding;
  const fx: HostileFixture = { ifname: env.ifLocal, ifindex: env.ifindexLocal, rxQueues: env.queues };

  before(async () => {
    restoreRings = await enableHeaderSplit();
    dmabuf = allocUdmabuf(4 * MiB);
    const closed = allocUdmabuf(64 * 1024);
    closed.close();
    tx = await bindTx(env.ifLocal, dmabuf);
    const rx = await bindRx(env.ifLocal, [0], dmabuf);
    rx.close();
    Object.assign(fx, {
      dmabuf,
      closedDmabuf: closed,
      txBinding: tx,
      closedRxBinding: rx,
      // A batch of real dma-buf fragments, received over the netdevsim link;
      // done() closes everything and unbinds.
      dmabufBatch: async () => {
        const binding = await bindRx(env.ifLocal, allQueues(), dmabuf);
        const port = nextPort++;
        const server = createServer({ host: env.addr4Local, port, binding, dmabuf, release: 'manual' });
        await server.listen();
        const sending = sendFromRemote(env.addr4Local, port, MiB).catch(() => undefined);
        const sock = await server.accept();
        let batch = await sock.read();
        while (batch && batch.dmabufBytes === 0) batch = await sock.read();
        assert.ok(batch, 'a batch with dma-buf fragments arrived');
        return {
          batch,
          done: () => {
            sock.close();
            server.close();
            binding.close();
            void sending;
          },
        };
      },
    });
  });
  after(async () => {
    tx?.close();
    dmabuf?.close();
    await restoreRings?.();
  });

  itRejectsHostileInput(hostileCases, () => fx);
});

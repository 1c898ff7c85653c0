import * as assert from 'node:assert/strict';
import * as os from 'node:os';

import { connect, createServer, DevmemError, type DevmemServer, type DevmemSocket } from '../../lib/index';

const E = os.constants.errno;

// No device on the host kernel can bind TX, so these cover the error paths
// against the real kernel; the guest suite covers real sends.
describe('sendDmabuf error paths on the host kernel', () => {
  let server: DevmemServer;
  let client: DevmemSocket;
  let peer: DevmemSocket;

  beforeEach(async () => {
    server = createServer({ host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    [client, peer] = await Promise.all([connect({ host: '127.0.0.1', port }), server.accept()]);
  });
  afterEach(() => {
    client.close();
    peer.close();
    server.close();
  });

  it("maps the kernel's EINVAL for an id no binding has to INVALID_BINDING", async () => {
    await assert.rejects(client.sendDmabuf({ id: 424242, size: 1 << 20 }, { offset: 0, length: 4096 }), (e: unknown) => {
      assert.ok(e instanceof DevmemError, String(e));
      assert.equal(e.reason, 'INVALID_BINDING');
      assert.equal(e.errno, -E.EINVAL);
      assert.equal(e.syscall, 'sendmsg');
      return true;
    });
    assert.equal(client.stats().zerocopySends, 0);
  });

  it('maps sending without SO_ZEROCOPY to ZEROCOPY_DISABLED', async () => {
    await assert.rejects(
      client.sendDmabuf({ id: 424242, size: 1 << 20 }, { offset: 0, length: 10 }, { enableZerocopy: false }),
      (e: unknown) => e instanceof DevmemError && e.reason === 'ZEROCOPY_DISABLED' && e.errno === -E.EINVAL,
    );
  });

  it('refuses ranges outside the dma-buf before any syscall', async () => {
    const b = { id: 424242, size: 8192 };
    for (const ranges of [
      { offset: 8000, length: 193 },
      [
        { offset: 0, length: 10 },
        { offset: 8192, length: 1 },
      ],
      { offset: -1, length: 10 },
      { offset: 0, length: 0 },
      { offset: 0.5, length: 10 },
      [],
    ]) {
      await assert.rejects(client.sendDmabuf(b, ranges), (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT');
    }
    await assert.rejects(client.sendDmabuf(b, { offset: '0', length: 1 } as never), TypeError);
    // Nothing reached the kernel: SO_ZEROCOPY was never even set, so a later
    // send still reaches the binding check and not the zerocopy check.
    assert.equal(client.stats().zerocopySends, 0);
    await assert.rejects(client.sendDmabuf(b, { offset: 0, length: 1 }, { enableZerocopy: false }), { reason: 'ZEROCOPY_DISABLED' });
  });

  it('refuses RX and closed bindings before any syscall', async () => {
    await assert.rejects(client.sendDmabuf({ id: 1, size: 4096, kind: 'rx' }, { offset: 0, length: 1 }), { reason: 'INVALID_BINDING' });
    await assert.rejects(client.sendDmabuf({ id: 1, size: 4096, closed: true }, { offset: 0, length: 1 }), { reason: 'INVALID_BINDING' });
    await assert.rejects(client.sendDmabuf(null as never, { offset: 0, length: 1 }), TypeError);
  });

  it('refuses to send on a closed socket', async () => {
    client.close();
    await assert.rejects(client.sendDmabuf({ id: 1, size: 4096 }, { offset: 0, length: 1 }), { reason: 'CLOSED' });
  });
});

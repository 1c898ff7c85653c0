import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { allocDmaHeap, allocDrm, allocUdmabuf, DevmemError, DmaBuf, drmNodes, udmabufSizeLimit } from '../../lib/index';

const isReason = (reason: string) => (e: unknown) => {
  assert.ok(e instanceof DevmemError, String(e));
  assert.equal(e.reason, reason, e.message);
  return true;
};

describe('dma-buf memory on the host kernel', () => {
  const page = 4096;

  it('reports a missing /dev/udmabuf as NO_UDMABUF, naming the kernel option', function () {
    if (fs.existsSync('/dev/udmabuf')) this.skip(); // the guest suite covers kernels that have it
    assert.throws(
      () => allocUdmabuf(16 * page),
      (e: unknown) => {
        isReason('NO_UDMABUF')(e);
        assert.match((e as DevmemError).advice, /CONFIG_UDMABUF/);
        assert.equal((e as DevmemError).code, 'ENOENT');
        return true;
      },
    );
  });

  // Argument checks run before anything touches the kernel: on this host a
  // syscall would have failed with NO_UDMABUF instead.
  for (const [name, size] of [
    ['zero', 0],
    ['negative', -4096],
    ['unaligned', 4097],
    ['fractional', 4096.5],
    ['NaN', NaN],
    ['beyond safe integers', 2 ** 60],
  ] as const) {
    it(`refuses a ${name} size before any syscall`, () => {
      assert.throws(() => allocUdmabuf(size), isReason('INVALID_ARGUMENT'));
    });
  }

  it('refuses a size over the udmabuf limit before any syscall', () => {
    const limit = udmabufSizeLimit();
    assert.throws(
      () => allocUdmabuf(limit + 4096),
      (e: unknown) => {
        isReason('UDMABUF_SIZE_LIMIT')(e);
        assert.match((e as Error).message, /size_limit_mb/);
        return true;
      },
    );
  });

  it('names the rounded-up size for an unaligned request', () => {
    assert.throws(() => allocUdmabuf(5000), /round it up to 8192/);
  });

  it('needs 2 MiB alignment with hugepages', () => {
    assert.throws(() => allocUdmabuf(1024 * 1024, { hugepages: true }), isReason('INVALID_ARGUMENT'));
  });

  it('refuses non-number sizes and bad options with TypeError', () => {
    assert.throws(() => allocUdmabuf('4096' as unknown as number), TypeError);
    assert.throws(() => allocUdmabuf(4096, null as unknown as object), TypeError);
  });

  it('reports a missing dma-heap as NO_DMA_HEAP and refuses path tricks', () => {
    assert.throws(() => allocDmaHeap(page, { heap: 'no-such-heap' }), isReason('NO_DMA_HEAP'));
    assert.throws(() => allocDmaHeap(page, { heap: '../../dev/null' }), isReason('INVALID_ARGUMENT'));
  });

  describe('allocDrm', () => {
    it('checks the size and the device before any syscall', () => {
      assert.throws(() => allocDrm(100), isReason('INVALID_ARGUMENT'));
      assert.throws(() => allocDrm(0), isReason('INVALID_ARGUMENT'));
      assert.throws(() => allocDrm(page, { device: '/etc/passwd' }), isReason('INVALID_ARGUMENT'));
      assert.throws(() => allocDrm(page, { device: '/dev/dri/../sda' }), isReason('INVALID_ARGUMENT'));
      assert.throws(() => allocDrm(page, { device: 0 as unknown as string }), TypeError);
      assert.throws(() => allocDrm(page, null as unknown as object), TypeError);
    });

    it('reports a card node that does not exist as NO_DRM, with advice', () => {
      assert.throws(
        () => allocDrm(page, { device: '/dev/dri/card97' }),
        (e: unknown) => {
          isReason('NO_DRM')(e);
          assert.match((e as DevmemError).message, /card97/);
          assert.match((e as DevmemError).advice, /vgem/);
          return true;
        },
      );
    });

    it('lists what /dev/dri holds; with no card node, the default pick is NO_DRM', function () {
      const nodes = drmNodes();
      const present = fs.existsSync('/dev/dri') ? fs.readdirSync('/dev/dri').filter((n) => /^(card|renderD)\d+$/.test(n)) : [];
      assert.deepEqual(nodes.map((n) => path.basename(n.path)).sort(), present.sort());
      if (nodes.some((n) => !n.render)) this.skip(); // the guest suite allocates on vgem
      assert.throws(() => allocDrm(page), isReason('NO_DRM'));
    });
  });

  describe('DmaBuf.fromFd', () => {
    it('refuses fds that are not dma-bufs with NOT_A_DMABUF', async () => {
      const file = path.join(os.tmpdir(), `devmem-notdmabuf-${process.pid}`);
      const fd = fs.openSync(file, 'w+');
      try {
        assert.throws(() => DmaBuf.fromFd(fd), isReason('NOT_A_DMABUF'));
      } finally {
        fs.closeSync(fd);
        fs.unlinkSync(file);
      }
      const server = net.createServer().listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      try {
        const sfd = (server as unknown as { _handle: { fd: number } })._handle.fd;
        assert.throws(() => DmaBuf.fromFd(sfd), isReason('NOT_A_DMABUF'));
      } finally {
        server.close();
      }
    });

    it('refuses a closed fd with NOT_A_DMABUF and EBADF', () => {
      const fd = fs.openSync('/dev/null', 'r');
      fs.closeSync(fd);
      assert.throws(
        () => DmaBuf.fromFd(fd),
        (e: unknown) => {
          isReason('NOT_A_DMABUF')(e);
          assert.equal((e as DevmemError).code, 'EBADF');
          return true;
        },
      );
    });

    it('refuses negative, fractional and non-number fds', () => {
      assert.throws(() => DmaBuf.fromFd(-1), isReason('INVALID_ARGUMENT'));
      assert.throws(() => DmaBuf.fromFd(1.5), isReason('INVALID_ARGUMENT'));
      assert.throws(() => DmaBuf.fromFd('3' as unknown as number), TypeError);
    });
  });
});

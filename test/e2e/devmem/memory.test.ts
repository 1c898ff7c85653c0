import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { allocDmaHeap, allocUdmabuf, DevmemError, DmaBuf, udmabufSizeLimit } from '../../../lib/index';

describe('dma-buf memory in the guest', () => {
  it('writes a udmabuf through the view and reads it back intact', () => {
    using buf = allocUdmabuf(4 * 1024 * 1024);
    assert.equal(buf.exporter, 'udmabuf');
    const data = randomBytes(1024 * 1024 + 3);
    buf.write(4093, data);
    assert.ok(buf.read(4093, data.length).equals(data));
    const into = new Uint8Array(10);
    buf.map().readInto(4093, into);
    assert.deepEqual([...into], [...data.subarray(0, 10)]);
  });

  it('writes a dma-heap buffer and reads it back intact', () => {
    using buf = allocDmaHeap(2 * 1024 * 1024);
    assert.equal(buf.exporter, 'system');
    const data = randomBytes(2 * 1024 * 1024);
    buf.write(0, data);
    assert.ok(buf.read(0, data.length).equals(data));
  });

  it('gives a zero-copy view only inside the sync bracket', () => {
    using buf = allocUdmabuf(64 * 1024);
    let kept: Uint8Array | undefined;
    const sum = buf.map().withView(0, 4096, 'readwrite', (v) => {
      v.fill(7);
      kept = v;
      return v.reduce((a, b) => a + b, 0);
    });
    assert.equal(sum, 7 * 4096);
    assert.equal(kept!.byteLength, 0, 'the view is detached after the callback');
    assert.equal(buf.read(4095, 2)[0], 7);
  });

  it('adopts a dma-buf fd from another owner with DmaBuf.fromFd', () => {
    using original = allocUdmabuf(8192);
    original.write(0, Buffer.from('shared'));
    using adopted = DmaBuf.fromFd(original.fd);
    assert.notEqual(adopted.fd, original.fd, 'a duplicate, so both can close independently');
    assert.equal(adopted.size, 8192);
    assert.equal(adopted.exporter, 'udmabuf');
    assert.equal(adopted.read(0, 6).toString(), 'shared');
  });

  it('refuses out-of-range access and use after close', () => {
    const buf = allocUdmabuf(8192);
    assert.throws(
      () => buf.read(8190, 4),
      (e: unknown) => e instanceof DevmemError && e.reason === 'INVALID_ARGUMENT',
    );
    assert.throws(() => buf.write(-1, Buffer.alloc(1)), DevmemError);
    buf.close();
    buf.close(); // idempotent
    assert.throws(
      () => buf.map(),
      (e: unknown) => e instanceof DevmemError && e.reason === 'CLOSED',
    );
  });

  it('checks the size against size_limit_mb before asking the kernel', () => {
    const limit = udmabufSizeLimit();
    assert.equal(limit, Number(require('node:fs').readFileSync('/sys/module/udmabuf/parameters/size_limit_mb', 'utf8')) * 1024 * 1024);
    assert.throws(
      () => allocUdmabuf(limit + 4096),
      (e: unknown) => {
        assert.ok(e instanceof DevmemError);
        assert.equal(e.reason, 'UDMABUF_SIZE_LIMIT');
        assert.match(e.message, /size_limit_mb/);
        return true;
      },
    );
  });
});

// What openZcrx() checks before it touches the kernel (zcrxPlan): the area's
// size, the buffer size and the refill ring, with the defaults it picks.
// Needs no device and no privilege.
import * as assert from 'node:assert/strict';

import { DevmemError, openZcrx, ZCRX_MAX_RQ_ENTRIES } from '../../lib/index';
import { zcrxPlan } from '../../lib/internal';

const KiB = 1024;
const MiB = 1024 * KiB;

function invalid(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof DevmemError, String(e));
    assert.equal(e.reason, 'INVALID_ARGUMENT', e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

describe('zcrxPlan: the checks openZcrx() makes before registering', () => {
  it('defaults to page-sized buffers and the smallest refill ring that takes every buffer back at once', () => {
    assert.deepEqual(zcrxPlan({ area: { size: 64 * KiB } }, 4096), { areaSize: 64 * KiB, rqEntries: 16, rxBufLen: 0 });
    // Not a power of two of buffers: the ring rounds up.
    assert.deepEqual(zcrxPlan({ area: { size: 12 * 4096 } }, 4096), { areaSize: 12 * 4096, rqEntries: 16, rxBufLen: 0 });
    // 16 KiB pages: a quarter of the buffers.
    assert.deepEqual(zcrxPlan({ area: { size: 64 * KiB } }, 16384), { areaSize: 64 * KiB, rqEntries: 4, rxBufLen: 0 });
    // ncdevmem's size (page size * 16000), what `devmem nc --zcrx` registers.
    assert.equal(zcrxPlan({ area: { size: 4096 * 16000 } }, 4096).rqEntries, 16384);
  });

  it('caps the default refill ring at the kernel limit, 32768 entries', () => {
    assert.equal(ZCRX_MAX_RQ_ENTRIES, 32768);
    assert.equal(zcrxPlan({ area: { size: 512 * MiB } }, 4096).rqEntries, 32768);
    assert.equal(zcrxPlan({ area: { size: 512 * MiB }, rqEntries: 32768 }, 4096).rqEntries, 32768);
  });

  it('sizes the ring by the buffer size when rxBufLen is given', () => {
    assert.deepEqual(zcrxPlan({ area: { size: 8 * MiB }, rxBufLen: 16384 }, 4096), { areaSize: 8 * MiB, rqEntries: 512, rxBufLen: 16384 });
    assert.equal(zcrxPlan({ area: { size: 8 * MiB }, rxBufLen: 4096 }, 4096).rqEntries, 2048);
    assert.equal(
      zcrxPlan({ area: { size: 8 * MiB }, rxBufLen: 16384, rqEntries: 4096 }, 4096).rqEntries,
      4096,
      'larger than needed is fine',
    );
  });

  it('refuses a refill ring that is not a power of two, above the limit, or too small', () => {
    for (const rqEntries of [0, 3, 1000, 3000, 1.5, -16, NaN])
      assert.throws(
        () => zcrxPlan({ area: { size: MiB }, rqEntries }, 4096),
        invalid(/rqEntries must be a power of two up to 32768/),
        String(rqEntries),
      );
    assert.throws(() => zcrxPlan({ area: { size: 512 * MiB }, rqEntries: 65536 }, 4096), invalid(/up to 32768, got 65536/));
    assert.throws(
      () => zcrxPlan({ area: { size: MiB }, rqEntries: 128 }, 4096),
      invalid(/a refill ring of 128 entries is too small for an area of 256 buffers: use at least 256/),
    );
    assert.throws(
      () => zcrxPlan({ area: { size: 8 * MiB }, rxBufLen: 16384, rqEntries: 256 }, 4096),
      invalid(/too small for an area of 512 buffers/),
    );
  });

  it('refuses a buffer size that is not a power of two of at least the page size', () => {
    for (const rxBufLen of [0, 2048, 5000, 12288, -4096])
      assert.throws(
        () => zcrxPlan({ area: { size: MiB }, rxBufLen }, 4096),
        invalid(/rxBufLen must be a power of two of at least the page size \(4096\)/),
        String(rxBufLen),
      );
    assert.throws(() => zcrxPlan({ area: { size: MiB }, rxBufLen: 4096 }, 16384), invalid(/at least the page size \(16384\), got 4096/));
    assert.throws(
      () => zcrxPlan({ area: { size: 8192 }, rxBufLen: 16384 }, 4096),
      invalid(/an area of 8192 bytes holds no 16384-byte buffer/),
    );
  });

  it('refuses an area size that is not a positive multiple of the page size', () => {
    for (const size of [0, -4096, 1000, 4097, 1.5 * 4096, NaN, Infinity])
      assert.throws(
        () => zcrxPlan({ area: { size } }, 4096),
        invalid(/the area size must be a positive multiple of the page size \(4096\)/),
        String(size),
      );
    assert.throws(() => zcrxPlan({ area: { size: 8192 } }, 16384), invalid(/multiple of the page size \(16384\), got 8192/));
  });

  it('refuses options without an area as a TypeError', () => {
    for (const options of [undefined, null, 7, {}, { area: null }, { area: 4096 }, { area: { size: '4096' } }])
      assert.throws(() => zcrxPlan(options as never, 4096), TypeError, JSON.stringify(options));
  });

  it('openZcrx() runs the same checks first: a bad plan is refused before any interface is looked up', async () => {
    // No such interface: had openZcrx() gone further it would say NO_SUCH_DEVICE.
    await assert.rejects(openZcrx('nosuchif0', 1, { area: { size: MiB }, rqEntries: 3 }), invalid(/rqEntries must be a power of two/));
    await assert.rejects(openZcrx('nosuchif0', 1, { area: { size: 1000 } }), invalid(/multiple of the page size/));
    await assert.rejects(openZcrx('nosuchif0', -1, { area: { size: MiB } }), invalid(/queue must be a non-negative integer/));
  });
});

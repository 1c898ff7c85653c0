// The error model: one list of reasons, which native code's own reason hints
// belong to; message and advice apart; an errno only where a syscall failed.
import * as assert from 'node:assert/strict';

import { DEVMEM_REASONS, DevmemError, ethtool, NicConfig } from '../../lib/index';
import { closedError, describeError, invalidArgument } from '../../lib/errors';
import { native } from '../../lib/native';

describe('DevmemError', () => {
  it('every reason native code decides itself is one of DEVMEM_REASONS', () => {
    const hints = native().reasonHints;
    assert.ok(hints.length > 0);
    for (const h of hints) assert.ok((DEVMEM_REASONS as readonly string[]).includes(h), `native reason hint ${h} is not a DevmemReason`);
  });

  it('every reason has advice, kept out of the message', () => {
    for (const reason of DEVMEM_REASONS) {
      const e = new DevmemError('something failed', { reason });
      assert.equal(e.message, 'something failed');
      assert.ok(e.advice.length > 10, `${reason} has no advice`);
      assert.equal(describeError(e), `something failed\n  ${e.advice}`);
    }
  });

  it('has no errno and an ERR_DEVMEM_ code where no syscall failed, the errno name where one did', () => {
    const bad = invalidArgument('queue -1 is not a queue');
    assert.equal(bad.errno, undefined);
    assert.equal(bad.code, 'ERR_DEVMEM_INVALID_ARGUMENT');
    const closed = closedError('the socket');
    assert.deepEqual(
      [closed.message, closed.reason, closed.code, closed.errno],
      ['the socket is closed', 'CLOSED', 'ERR_DEVMEM_CLOSED', undefined],
    );
    const sys = new DevmemError('open failed', { reason: 'NO_UDMABUF', errno: -2, syscall: 'open' });
    assert.deepEqual([sys.code, sys.errno, sys.syscall], ['ENOENT', -2, 'open']);
  });

  it('a closed NicConfig says so, with no invented errno', async () => {
    const nic = await NicConfig.open('lo', { dryRun: true });
    nic.close();
    await assert.rejects(
      nic.enableHeaderSplit(),
      (e: unknown) => e instanceof DevmemError && e.code === 'ERR_DEVMEM_CLOSED' && e.errno === undefined,
    );
  });

  it('advice names functions that exist', () => {
    // The advice is read by people who then look for what it names.
    const advice = new DevmemError('x', { reason: 'HEADER_SPLIT_DISABLED' }).advice;
    assert.match(advice, /ethtool\.setRings\(\)/);
    assert.equal(typeof ethtool.setRings, 'function');
    assert.equal(typeof NicConfig.prototype.enableHeaderSplit, 'function');
  });
});

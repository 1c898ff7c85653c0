import * as assert from 'node:assert/strict';

import { allocUdmabuf, bindRx, bindTx, DevmemError, ethtool } from '../../../lib/index';
import { e2eEnv } from '../helpers/env';

const env = e2eEnv();

describe('bindings on stock netdevsim (negative cases)', function () {
  this.timeout(60_000);

  before(async () => {
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'enabled', hdsThresh: 0 });
  });
  after(async () => {
    await ethtool.setRings(env.ifLocal, { tcpDataSplit: 'unknown' });
  });

  it("bind-rx gives DEVICE_UNSUPPORTED with the kernel's DMA message", async () => {
    using buf = allocUdmabuf(4 * 1024 * 1024);
    await assert.rejects(bindRx(env.ifLocal, [1], buf), (e: unknown) => {
      assert.ok(e instanceof DevmemError);
      assert.equal(e.reason, 'DEVICE_UNSUPPORTED');
      assert.equal(e.code, 'ENOTSUP');
      assert.match(e.extack?.message ?? '', /Device doesn't support DMA/i);
      return true;
    });
  });

  it('bind-tx gives DEVICE_UNSUPPORTED: "Driver does not support netmem TX"', async () => {
    using buf = allocUdmabuf(1024 * 1024);
    await assert.rejects(bindTx(env.ifLocal, buf), (e: unknown) => {
      assert.ok(e instanceof DevmemError);
      assert.equal(e.reason, 'DEVICE_UNSUPPORTED');
      assert.equal(e.extack?.message, 'Driver does not support netmem TX');
      return true;
    });
  });
});

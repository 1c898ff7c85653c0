import * as assert from 'node:assert/strict';

import { bindRx, bindTx, DevmemError } from '../../lib/index';

// These fail in argument checks, before any syscall: nothing can be half-bound.
describe('bindRx/bindTx argument checks', () => {
  const cases: [string, () => Promise<unknown>, 'TypeError' | 'INVALID_ARGUMENT' | 'CLOSED'][] = [
    ['empty queue list', () => bindRx('lo', [], 0), 'INVALID_ARGUMENT'],
    ['duplicate queues', () => bindRx('lo', [1, 1], 0), 'INVALID_ARGUMENT'],
    ['negative queue', () => bindRx('lo', [-1], 0), 'INVALID_ARGUMENT'],
    ['fractional queue', () => bindRx('lo', [0.5], 0), 'INVALID_ARGUMENT'],
    ['queue as string', () => bindRx('lo', ['0' as unknown as number], 0), 'TypeError'],
    ['queues not an array', () => bindRx('lo', 0 as unknown as number[], 0), 'TypeError'],
    ['negative fd', () => bindRx('lo', [0], -1), 'INVALID_ARGUMENT'],
    ['NaN fd', () => bindRx('lo', [0], NaN), 'INVALID_ARGUMENT'],
    ['fd as string', () => bindRx('lo', [0], '3' as unknown as number), 'TypeError'],
    ['closed dma-buf', () => bindTx('lo', { fd: 3, closed: true } as unknown as { fd: number }), 'CLOSED'],
    ['interface null', () => bindRx(null as unknown as string, [0], 0), 'TypeError'],
    ['ifindex 0', () => bindRx(0, [0], 0), 'INVALID_ARGUMENT'],
    ['over-long ifname', () => bindTx('x'.repeat(16), 0), 'INVALID_ARGUMENT'],
    ['rxPageSize not a power of two', () => bindRx('lo', [0], 0, { rxPageSize: 5000 }), 'INVALID_ARGUMENT'],
  ];
  for (const [name, fn, expected] of cases) {
    it(`rejects ${name}`, async () => {
      await assert.rejects(fn(), (e: unknown) => {
        if (expected === 'TypeError') assert.ok(e instanceof TypeError, String(e));
        else {
          assert.ok(e instanceof DevmemError, String(e));
          assert.equal(e.reason, expected);
        }
        return true;
      });
    });
  }
});

import * as assert from 'node:assert/strict';

import { FragmentKind } from '../../lib/index';
import { native } from '../../lib/native';
import { cmsg, CMSG_SPACE_DMABUF, control, MSG_CTRUNC, SOL_SOCKET, type Frag } from './helpers/cmsg';

const t = () => native().testing;

function parse(frags: Frag[] | Buffer, nbytes: number, opts: { flags?: number; iov?: Buffer; id?: number } = {}) {
  const ctl = Buffer.isBuffer(frags) ? frags : control(frags);
  return t().parseRecvmsg(ctl, opts.flags ?? 0, nbytes, opts.iov ?? Buffer.alloc(Math.max(nbytes, 1)), opts.id ?? 0);
}

describe('recvmsg(MSG_SOCK_DEVMEM) control parsing (ABI-exact buffers)', () => {
  it('matches the kernel ABI sizes', () => {
    assert.equal(native().constants.CMSG_SPACE_DMABUF, CMSG_SPACE_DMABUF);
    assert.equal(native().constants.DMABUF_CMSG_SIZE, 24);
    assert.equal(native().constants.CMSG_LEN_DMABUF, 40);
  });

  it('keeps mixed linear and dma-buf fragments in stream order', () => {
    const iov = Buffer.alloc(4 + 4096 + 3 + 100);
    iov.write('HEADxyz');
    const r = parse(
      [
        { type: 'linear', size: 4 },
        { type: 'dmabuf', offset: 8192, size: 4096, token: 7, id: 3 },
        { type: 'linear', size: 3 },
        { type: 'dmabuf', offset: 2 ** 40, size: 100, token: 8, id: 3 },
      ],
      4 + 4096 + 3 + 100,
      { iov, id: 3 },
    );
    assert.equal(r.error, '');
    assert.deepEqual([...r.kinds], [FragmentKind.Linear, FragmentKind.Dmabuf, FragmentKind.Linear, FragmentKind.Dmabuf]);
    assert.deepEqual([...r.offsets], [0, 8192, 4, 2 ** 40]);
    assert.deepEqual([...r.sizes], [4, 4096, 3, 100]);
    assert.deepEqual([...r.tokens], [0, 7, 0, 8]);
    assert.equal(r.linear.toString(), 'HEADxyz');
  });

  it('reports a foreign dmabuf id as FLOW_STEERING naming it, and still keeps every token', () => {
    const r = parse(
      [
        { type: 'dmabuf', offset: 0, size: 10, token: 1, id: 3 },
        { type: 'dmabuf', offset: 10, size: 10, token: 2, id: 9 },
      ],
      20,
      { id: 3 },
    );
    assert.equal(r.error, 'FLOW_STEERING');
    assert.equal(r.foreignId, 9);
    assert.deepEqual([...r.tokens], [1, 2]);
  });

  it('does not check ids without a binding', () => {
    const r = parse([{ type: 'dmabuf', size: 10, token: 1, id: 9 }], 10);
    assert.equal(r.error, '');
  });

  it('treats MSG_CTRUNC as lost tokens', () => {
    const r = parse([{ type: 'dmabuf', size: 10, token: 1, id: 1 }], 10, { flags: MSG_CTRUNC });
    assert.equal(r.error, 'CONTROL_TRUNCATED');
    assert.deepEqual([...r.tokens], [1], 'what did arrive is still tracked');
  });

  // Found by the rx_recvmsg fuzzer (fuzz/regressions/rx_recvmsg/): the cut
  // cmsg keeps its full cmsg_len, so MSG_CTRUNC was never reported (see
  // docs/kernel-notes.md#truncated-control-messages).
  it('reports MSG_CTRUNC when the last cmsg was cut short, keeping the tokens before it', () => {
    const whole = control([
      { type: 'dmabuf', size: 10, token: 4, id: 1 },
      { type: 'dmabuf', size: 10, token: 5, id: 1 },
    ]);
    const cut = whole.subarray(0, CMSG_SPACE_DMABUF + 20);
    const r = parse(cut, 20, { flags: MSG_CTRUNC });
    assert.equal(r.error, 'CONTROL_TRUNCATED');
    assert.deepEqual([...r.tokens], [4]);
  });

  it('rejects a cmsg whose length runs past the control buffer', () => {
    const ctl = control([{ type: 'dmabuf', size: 10, token: 1, id: 1 }]);
    ctl.writeBigUInt64LE(4000n, 0);
    assert.equal(parse(ctl, 10).error, 'PROTOCOL_ERROR');
  });

  it('rejects a devmem cmsg too short to hold struct dmabuf_cmsg', () => {
    assert.equal(parse(cmsg(SOL_SOCKET, 79, Buffer.alloc(8)), 10).error, 'PROTOCOL_ERROR');
  });

  it('rejects fragments that do not add up to the bytes returned', () => {
    assert.match(parse([{ type: 'dmabuf', size: 10, token: 1 }], 11).detail, /add up to 10 bytes but recvmsg returned 11/);
    assert.equal(parse([{ type: 'linear', size: 50 }], 20).error, 'PROTOCOL_ERROR');
  });

  it('accepts zero-length fragments', () => {
    const r = parse(
      [
        { type: 'dmabuf', size: 0, token: 5 },
        { type: 'linear', size: 0 },
        { type: 'dmabuf', size: 4, token: 6 },
      ],
      4,
    );
    assert.equal(r.error, '');
    assert.deepEqual([...r.sizes], [0, 0, 4]);
    assert.deepEqual([...r.tokens], [5, 0, 6]);
  });

  it('surfaces data without any devmem cmsg as host data', () => {
    const iov = Buffer.from('plain tcp');
    const r = parse([], 9, { iov });
    assert.deepEqual([...r.kinds], [FragmentKind.Host]);
    assert.equal(r.linear.toString(), 'plain tcp');
  });

  it('skips cmsgs of other levels and types', () => {
    const other = cmsg(0, 11, Buffer.alloc(4));
    const r = parse(Buffer.concat([other, control([{ type: 'dmabuf', size: 3, token: 1 }])]), 3);
    assert.equal(r.error, '');
    assert.equal(r.kinds.length, 1);
  });

  it('keeps non-consecutive tokens as they came', () => {
    const toks = [9, 3, 4, 100, 5];
    const r = parse(
      toks.map((token) => ({ type: 'dmabuf' as const, size: 1, token })),
      5,
    );
    assert.deepEqual([...r.tokens], toks);
  });
});

describe('token coalescing and SO_DEVMEM_DONTNEED planning', () => {
  // The obvious, slow version: expand every call back into tokens.
  function expand(calls: { ranges: Uint32Array }[]): number[] {
    const out: number[] = [];
    for (const c of calls)
      for (let i = 0; i < c.ranges.length; i += 2) for (let k = 0; k < c.ranges[i + 1]!; k++) out.push(c.ranges[i]! + k);
    return out;
  }

  it('coalesces consecutive tokens into ranges', () => {
    const calls = t().planDontneed(Uint32Array.from([5, 1, 2, 3, 7, 6, 10]));
    assert.equal(calls.length, 1);
    assert.deepEqual([...calls[0]!.ranges], [1, 3, 5, 3, 10, 1]);
  });

  it('never exceeds 128 ranges or 1024 fragments per call', () => {
    const spread = Uint32Array.from({ length: 1000 }, (_, i) => 1 + i * 2); // nothing coalesces
    const calls = t().planDontneed(spread);
    assert.equal(calls.length, Math.ceil(1000 / 128));
    for (const c of calls) assert.ok(c.ranges.length / 2 <= 128);
    const run = Uint32Array.from({ length: 5000 }, (_, i) => i + 1); // one long range
    const runCalls = t().planDontneed(run);
    assert.equal(runCalls.length, 5, 'ceil(5000 / 1024) calls for consecutive tokens');
    for (const c of runCalls) assert.ok(c.fragments <= 1024);
  });

  it('agrees with a brute-force reference on random token sequences', () => {
    let seed = 99;
    const rand = (n: number) => (seed = (seed * 1664525 + 1013904223) >>> 0) % n;
    for (let round = 0; round < 300; round++) {
      const set = new Set<number>();
      const len = rand(3000);
      let cur = 1 + rand(1000);
      for (let i = 0; i < len; i++) {
        cur += rand(10) < 8 ? 1 : 1 + rand(50); // mostly consecutive, with gaps
        set.add(cur);
      }
      const tokens = [...set];
      for (let i = tokens.length - 1; i > 0; i--) {
        const j = rand(i + 1);
        [tokens[i], tokens[j]] = [tokens[j]!, tokens[i]!];
      }
      const calls = t().planDontneed(Uint32Array.from(tokens));
      assert.deepEqual(
        expand(calls),
        [...set].sort((a, b) => a - b),
      );
      let fragments = 0;
      for (const c of calls) {
        assert.ok(c.ranges.length / 2 <= 128 && c.fragments <= 1024);
        fragments += c.fragments;
      }
      assert.equal(fragments, set.size);
      // Ranges are maximal: two ranges inside a call never touch.
      for (const c of calls) for (let i = 2; i < c.ranges.length; i += 2) assert.notEqual(c.ranges[i - 2]! + c.ranges[i - 1]!, c.ranges[i]);
    }
  });

  it('drops token 0, which the kernel never hands out', () => {
    assert.deepEqual(expand(t().planDontneed(Uint32Array.from([0, 1]))), [1]);
  });
});

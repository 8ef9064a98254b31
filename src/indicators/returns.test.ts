import { describe, expect, it } from 'vitest';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';
import { LogReturns, Returns } from './returns.js';

describeIndicatorContract({
  name: 'Returns',
  create: () => new Returns(),
  restore: (snapshot) => Returns.restore(snapshot),
  feed: (returns, bar, out) => {
    out[0] = returns.update(bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'return', scale: 'none' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, kind: 'log-returns' }),
});

describeIndicatorContract({
  name: 'LogReturns',
  create: () => new LogReturns(),
  restore: (snapshot) => LogReturns.restore(snapshot),
  feed: (returns, bar, out) => {
    out[0] = returns.update(bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'log_return', scale: 'none' }],
  bitExact: false,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, previousClose: '1.5' }),
});

describe('Returns', () => {
  it('computes close/previous − 1 and ln(close/previous)', () => {
    const simple = new Returns();
    const log = new LogReturns();
    expect([100, 110, 99].map((x) => simple.update(x))).toEqual([undefined, 110 / 100 - 1, 99 / 110 - 1]);
    expect([100, 110].map((x) => log.update(x))).toEqual([undefined, Math.log(1.1)]);
  });
});

import { describe, expect, it } from 'vitest';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';
import { Momentum } from './momentum.js';

describeIndicatorContract({
  name: 'Momentum(14)',
  create: () => new Momentum(14),
  restore: (snapshot) => Momentum.restore(snapshot),
  feed: (momentum, bar, out) => {
    out[0] = momentum.update(bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'mom14', scale: 'price' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, window: 'abc' }),
});

describe('Momentum', () => {
  it('is close[t] − close[t−period]', () => {
    const momentum = new Momentum(2);
    expect([1, 2, 4, 8, 3].map((x) => momentum.update(x))).toEqual([undefined, undefined, 3, 6, -1]);
  });
});

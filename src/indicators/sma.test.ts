import { describe, expect, it } from 'vitest';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';
import { Sma } from './sma.js';

describeIndicatorContract({
  name: 'Sma(20) on closes',
  create: () => new Sma(20),
  restore: (snapshot) => Sma.restore(snapshot),
  feed: (sma, bar, out) => {
    out[0] = sma.update(bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'sma20', scale: 'price' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, window: [1, 2, 3] }),
});

describeIndicatorContract({
  name: 'Sma(20) on volumes',
  create: () => new Sma(20, 'volume'),
  restore: (snapshot) => Sma.restore(snapshot),
  feed: (sma, bar, out) => {
    out[0] = sma.update(bar.volume) ?? Number.NaN;
  },
  outputs: [{ golden: 'volume_sma20', scale: 'volume' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, scale: 'shares' }),
});

describe('Sma', () => {
  it('adds the new value, divides, then subtracts the oldest (TA-Lib order)', () => {
    const sma = new Sma(3);
    expect([1, 2, 3, 4, 10].map((x) => sma.update(x))).toEqual([undefined, undefined, 2, 3, 17 / 3]);
    expect(sma.value).toBe(17 / 3);
  });

  it('with period 1 returns each input', () => {
    const sma = new Sma(1);
    expect([5, 7.5, 1e-9].map((x) => sma.update(x))).toEqual([5, 7.5, 1e-9]);
  });

  it('rejects periods outside [1, 100000]', () => {
    for (const period of [0, -1, 2.5, 100_001, Number.NaN]) expect(() => new Sma(period)).toThrow(/period/);
  });
});

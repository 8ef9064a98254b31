import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BollingerBands } from './bollinger-bands.js';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';

describeIndicatorContract({
  name: 'BollingerBands(20, 2, 2)',
  create: () => new BollingerBands(20, 2, 2),
  restore: (snapshot) => BollingerBands.restore(snapshot),
  feed: (bands, bar, out) => {
    bands.update(bar.close, out, 0);
  },
  outputs: [
    { golden: 'bb_upper', scale: 'price' },
    { golden: 'bb_middle', scale: 'price' },
    { golden: 'bb_lower', scale: 'price' },
  ],
  bitExact: true,
  // the std dev is sqrt(E[x²] − mean²): rescaled running sums differ from sums of rescaled prices in the last bits
  adjustTolerance: 5e-11,
  corrupt: (snapshot) => ({ ...snapshot, deviationsUp: 'wide' }),
});

describe('BollingerBands', () => {
  it('has zero width on a constant series of exactly representable prices', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 4 }),
        (units, halvings) => {
          const price = units / 2 ** halvings;
          const bands = new BollingerBands(20, 2, 2);
          const out = new Float64Array(3);
          for (let i = 0; i < 60; i++) bands.update(price, out);
          expect(out[0]).toBe(price);
          expect(out[1]).toBe(price);
          expect(out[2]).toBe(price);
        },
      ),
    );
  });

  it('has (near) zero width on any constant series: TA-Lib rounding leaves at most ~1e-7 of the price', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-4, max: 1e8, noNaN: true }), (price) => {
        const bands = new BollingerBands(20, 2, 2);
        const out = new Float64Array(3);
        for (let i = 0; i < 60; i++) bands.update(price, out);
        expect((out[0] as number) - (out[2] as number)).toBeLessThanOrEqual(1e-6 * price);
      }),
    );
  });

  it('exposes upper, middle and lower', () => {
    const bands = new BollingerBands(3, 2, 1);
    const out = new Float64Array(3);
    for (const x of [1, 2, 3]) bands.update(x, out);
    const std = Math.sqrt(14 / 3 - 4);
    expect(bands.value).toBe(2);
    expect(bands.upper).toBeCloseTo(2 + 2 * std, 14);
    expect(bands.lower).toBeCloseTo(2 - std, 14);
    expect(out[0]).toBe(bands.upper);
    expect(out[2]).toBe(bands.lower);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HistoricalVolatility } from './historical-volatility.js';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';

describeIndicatorContract({
  name: 'HistoricalVolatility(21, 252)',
  create: () => new HistoricalVolatility(21, 252),
  restore: (snapshot) => HistoricalVolatility.restore(snapshot),
  feed: (volatility, bar, out) => {
    out[0] = volatility.update(bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'hv21', scale: 'none' }],
  bitExact: false,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, periodsPerYear: -1 }),
});

/** sample std dev of xs, two passes, exact enough to be the reference */
function naiveDeviation(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
}

describe('HistoricalVolatility', () => {
  it('stays exact when a huge return leaves the window and tiny ones remain (no running-sum residue)', () => {
    const volatility = new HistoricalVolatility(5, 1);
    const closes = [100, 100, 400, 400.0001, 400.0002, 400.0001, 400.0003, 400.0002, 400.0004, 400.0001];
    let value: number | undefined;
    for (const close of closes) value = volatility.update(close);
    const logReturns = closes.slice(1).map((close, i) => Math.log(close / (closes[i] as number)));
    const expected = naiveDeviation(logReturns.slice(-5));
    expect(Math.abs((value as number) - expected) / expected).toBeLessThan(1e-12);
  });

  it('property: stays within 1e-10 relative of a two-pass per window through calm, flat and crash regimes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('calm', 'flat', 'tiny', 'crash', 'wild'),
            length: fc.integer({ min: 1, max: 60 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (regimes, seed) => {
          let state = seed;
          const uniform = (): number => {
            state = (state * 48271) % 2147483647;
            return state / 2147483647 - 0.5;
          };
          const volatility = new HistoricalVolatility(21, 252);
          const logReturns: number[] = [];
          let close = 100;
          let previous = Number.NaN;
          volatility.update(close);
          for (const { kind, length } of regimes)
            for (let i = 0; i < length; i++) {
              previous = close;
              if (kind === 'calm') close *= 1 + 0.02 * uniform();
              else if (kind === 'tiny') close *= 1 + 1e-9 * uniform();
              else if (kind === 'crash') close *= i === 0 ? 0.01 : 1 + 0.01 * uniform();
              else if (kind === 'wild') close *= Math.exp(4 * uniform());
              logReturns.push(Math.log(close / previous));
              const value = volatility.update(close);
              if (logReturns.length < 21) {
                expect(value).toBeUndefined();
                continue;
              }
              const expected = naiveDeviation(logReturns.slice(-21)) * Math.sqrt(252);
              const error = Math.abs((value as number) - expected);
              expect(error, `${kind} ${i}`).toBeLessThanOrEqual(1e-10 * expected + 1e-15);
            }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('annualises by sqrt(periodsPerYear)', () => {
    const daily = new HistoricalVolatility(3, 1);
    const yearly = new HistoricalVolatility(3, 252);
    let d: number | undefined;
    let y: number | undefined;
    for (const close of [1, 1.1, 1.05, 1.2, 1.1]) {
      d = daily.update(close);
      y = yearly.update(close);
    }
    expect(y).toBeCloseTo((d as number) * Math.sqrt(252), 14);
  });

  it('rejects a non-positive periodsPerYear', () => {
    expect(() => new HistoricalVolatility(21, 0)).toThrow(/periodsPerYear/);
  });
});

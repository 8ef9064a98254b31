import { describe, expect, it } from 'vitest';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';
import { Rsi } from './rsi.js';

describeIndicatorContract({
  name: 'Rsi(14)',
  create: () => new Rsi(14),
  restore: (snapshot) => Rsi.restore(snapshot),
  feed: (rsi, bar, out) => {
    out[0] = rsi.update(bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'rsi14', scale: 'none' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, period: 1 }),
});

describe('Rsi', () => {
  it('is 0 on a constant series (TA-Lib: gain+loss below 1e-14 gives 0)', () => {
    const rsi = new Rsi(14);
    let last: number | undefined;
    for (let i = 0; i < 40; i++) last = rsi.update(123.4567);
    expect(last).toBe(0);
  });

  it('is 100 on a rising series and 0 on a falling one', () => {
    const up = new Rsi(5);
    const down = new Rsi(5);
    let rising: number | undefined;
    let falling: number | undefined;
    for (let i = 0; i < 20; i++) {
      rising = up.update(100 + i);
      falling = down.update(100 - i);
    }
    expect(rising).toBe(100);
    expect(falling).toBe(0);
  });

  it('stays within [0, 100] on a violent series', () => {
    const rsi = new Rsi(14);
    for (let i = 0; i < 500; i++) {
      const value = rsi.update(i % 7 === 0 ? 1e-3 : 1e5 * (1 + Math.sin(i)));
      if (value !== undefined) {
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(100);
      }
    }
  });
});

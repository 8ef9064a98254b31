import { describe, expect, it } from 'vitest';
import { generateBars } from '../benchmarks/lib/synthetic-bars.js';
import { loadGolden } from './support/indicator-contract.js';

describe('benchmarks/lib generateBars', () => {
  it('reproduces the golden input.csv bar for bar (same generator, so benchmark bars look like the golden set)', () => {
    const golden = loadGolden().bars;
    const bars = generateBars(golden.length);
    golden.forEach((bar, i) => {
      expect([bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]], `bar ${i}`).toEqual([
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
      ]);
    });
  });

  it('keeps low ≤ open, close ≤ high on a long series', () => {
    const bars = generateBars(100_000, 7);
    for (let i = 0; i < bars.length; i++) {
      const low = bars.low[i] as number;
      const high = bars.high[i] as number;
      if (!(
        low <= Math.min(bars.open[i] as number, bars.close[i] as number) &&
        high >= Math.max(bars.open[i] as number, bars.close[i] as number)
      ))
        expect.fail(`bar ${i} breaks OHLC order`);
    }
  });
});

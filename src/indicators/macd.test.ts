import { describe, expect, it } from 'vitest';
import { describeIndicatorContract, loadGolden } from '../../test/support/indicator-contract.js';
import { Macd } from './macd.js';

describeIndicatorContract({
  name: 'Macd(12, 26, 9)',
  create: () => new Macd(12, 26, 9),
  restore: (snapshot) => Macd.restore(snapshot),
  feed: (macd, bar, out) => {
    macd.update(bar.close, out, 0);
  },
  outputs: [
    { golden: 'macd', scale: 'price' },
    { golden: 'macd_signal', scale: 'price' },
    { golden: 'macd_hist', scale: 'price' },
  ],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, slowPeriod: 3 }),
});

describe('Macd', () => {
  it('returns the MACD line and exposes signal and histogram', () => {
    const macd = new Macd();
    const out = new Float64Array(3);
    let line: number | undefined;
    for (const bar of loadGolden().bars.slice(0, 40)) line = macd.update(bar.close, out);
    expect(line).toBe(out[0]);
    expect(macd.value).toBe(out[0]);
    expect(macd.signalValue).toBe(out[1]);
    expect(macd.histogram).toBe(out[2]);
  });

  it('swaps the periods when slow < fast, as TA_MACD does', () => {
    const swapped = new Macd(26, 12, 9);
    const normal = new Macd(12, 26, 9);
    for (const bar of loadGolden().bars.slice(0, 60))
      expect(swapped.update(bar.close)).toBe(normal.update(bar.close));
  });
});

import { describe, expect, it } from 'vitest';
import { Atr, trueRange } from './atr.js';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';

describeIndicatorContract({
  name: 'Atr(14)',
  create: () => new Atr(14),
  restore: (snapshot) => Atr.restore(snapshot),
  feed: (atr, bar, out) => {
    out[0] = atr.update(bar.high, bar.low, bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'atr14', scale: 'price' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, atr: null }),
});

describe('Atr', () => {
  it('true range takes the largest of high−low and the gaps to the previous close', () => {
    expect(trueRange(10, 8, 9)).toBe(2);
    expect(trueRange(10, 8, 5)).toBe(5);
    expect(trueRange(10, 8, 13)).toBe(5);
  });

  it('starts from bar 1 (bar 0 has no previous close) and averages TR[1..period] first', () => {
    const atr = new Atr(2);
    expect(atr.update(10, 8, 9)).toBeUndefined();
    expect(atr.update(11, 9, 10)).toBeUndefined(); // TR 2
    expect(atr.update(14, 10, 13)).toBe(3); // TR 4 → mean(2, 4)
    expect(atr.update(13, 12, 12.5)).toBe(2); // TR 1 → (3·1 + 1)/2
  });
});

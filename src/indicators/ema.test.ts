import { describe, expect, it } from 'vitest';
import { Ema } from './ema.js';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';

describeIndicatorContract({
  name: 'Ema(50)',
  create: () => new Ema(50),
  restore: (snapshot) => Ema.restore(snapshot),
  feed: (ema, bar, out) => {
    out[0] = ema.update(bar.close) ?? Number.NaN;
  },
  outputs: [{ golden: 'ema50', scale: 'price' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, ema: 'abc' }),
});

describe('Ema', () => {
  it('seeds with the mean of the first period inputs, then (x − ema)·k + ema', () => {
    const ema = new Ema(3);
    expect([1, 2, 3, 4, 8].map((x) => ema.update(x))).toEqual([undefined, undefined, 2, 3, 5.5]);
  });

  it('k is 2/(period+1)', () => {
    expect(new Ema(50).k).toBe(2 / 51);
  });
});

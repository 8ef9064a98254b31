import { describe, expect, it } from 'vitest';
import { describeIndicatorContract } from '../../test/support/indicator-contract.js';
import { Obv } from './obv.js';

describeIndicatorContract({
  name: 'Obv',
  create: () => new Obv(),
  restore: (snapshot) => Obv.restore(snapshot),
  feed: (obv, bar, out) => {
    out[0] = obv.update(bar.close, bar.volume);
  },
  outputs: [{ golden: 'obv', scale: 'volume' }],
  bitExact: true,
  adjustTolerance: 1e-13,
  corrupt: (snapshot) => ({ ...snapshot, obv: [1] }),
});

describe('Obv', () => {
  it('starts at the first volume, then adds on up closes, subtracts on down closes, keeps on equal', () => {
    const obv = new Obv();
    expect(
      [
        [10, 5],
        [11, 3],
        [11, 100],
        [9, 2],
      ].map(([close, volume]) => obv.update(close as number, volume as number)),
    ).toEqual([5, 8, 8, 6]);
  });
});

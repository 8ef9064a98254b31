import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pushRollingVariance, ROLLING_VARIANCE_STATS, STAT_M2, STAT_MEAN } from './rolling-variance.js';

/** Two-pass mean and M2 of the last `window` values. */
function twoPass(values: number[], window: number): { mean: number; m2: number } {
  const tail = values.slice(-window);
  const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
  return { mean, m2: tail.reduce((a, b) => a + (b - mean) ** 2, 0) };
}

function feed(values: number[], window: number, offset = 3): { mean: number; m2: number }[] {
  // a ring placed at an offset inside a larger array, statistics after it, as FeatureSet lays it out
  const state = new Float64Array(offset + window + ROLLING_VARIANCE_STATS + 5).fill(-7);
  state.fill(0, offset);
  const stats = offset + window;
  return values.map((x, i) => {
    const m2 = pushRollingVariance(state, offset, stats, window, i % window, Math.min(i, window), x);
    expect(m2).toBe(state[stats + STAT_M2]);
    return { mean: state[stats + STAT_MEAN] as number, m2 };
  });
}

describe('pushRollingVariance', () => {
  it('property: mean and M2 track a two-pass over the window, through jumps of 12 orders of magnitude', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }),
        fc.array(
          fc.oneof(
            fc.double({ min: -1, max: 1, noNaN: true }).filter((x) => x === 0 || Math.abs(x) > 1e-100), // no underflow
            fc.double({ min: 1e5, max: 1e6, noNaN: true }),
            fc.constant(0),
            fc.double({ min: 1e-7, max: 1e-6, noNaN: true }),
          ),
          { minLength: 1, maxLength: 200 },
        ),
        (window, values) => {
          const got = feed(values, window);
          got.forEach(({ mean, m2 }, i) => {
            const expected = twoPass(values.slice(0, i + 1), window);
            const scale = Math.max(...values.slice(Math.max(0, i + 1 - window), i + 1).map(Math.abs));
            expect(Math.abs(mean - expected.mean)).toBeLessThanOrEqual(1e-12 * scale + 1e-300);
            // M2 relative to itself: the collapse re-sum keeps it exact even after a huge value leaves
            expect(Math.abs(m2 - expected.m2)).toBeLessThanOrEqual(
              1e-9 * expected.m2 + 1e-30 * scale * scale,
            );
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is exactly 0 on a constant window, whatever came before', () => {
    const got = feed([5, 1e9, -3, 2.5, 2.5, 2.5, 2.5], 4);
    expect(got.at(-1)).toEqual({ mean: 2.5, m2: 0 });
  });

  it('leaves the array outside its ring and statistics untouched', () => {
    const state = new Float64Array(20).fill(9);
    state.fill(0, 2, 2 + 5 + ROLLING_VARIANCE_STATS);
    for (let i = 0; i < 30; i++) pushRollingVariance(state, 2, 7, 5, i % 5, Math.min(i, 5), Math.sin(i));
    expect([...state.slice(0, 2), ...state.slice(2 + 5 + ROLLING_VARIANCE_STATS)]).toEqual(
      new Array(2 + 20 - 11).fill(9),
    );
  });
});

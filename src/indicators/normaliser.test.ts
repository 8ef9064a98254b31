import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../errors.js';
import { FixedNormaliser, RollingNormaliser } from './normaliser.js';
import { Random } from '../streams/random.js';

/** Seeded uniform (0, 1). */
function uniformFrom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.uniform();
}

/** rows × columns of random data: column c has offset 10^c·c and scale 10^(c−2); ~10% NaN. */
function randomRows(seed: number, rows: number, columns: number, nanShare = 0.1): Float64Array[] {
  const uniform = uniformFrom(seed);
  return Array.from({ length: rows }, () =>
    Float64Array.from({ length: columns }, (_, c) =>
      uniform() < nanShare ? Number.NaN : 10 ** c * c + 10 ** (c - 2) * (uniform() - 0.5),
    ),
  );
}

/** The reference: two-pass mean and std over the column's last `window` finite values (current included). */
function naiveZ(history: number[], window: number, minCount: number, ddof: number): number {
  return naive(history, window, minCount, ddof).z;
}

/**
 * The reference z-score and the error any double computation of it carries: z is (x − mean)/std, so a
 * mean rounded to eps·|mean| moves z by about eps·|mean|/std (ill-conditioned for large offsets).
 */
function naive(
  history: number[],
  window: number,
  minCount: number,
  ddof: number,
): { z: number; tolerance: number } {
  const values = history.slice(-window);
  const x = values[values.length - 1] as number;
  if (values.length < minCount) return { z: Number.NaN, tolerance: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - ddof);
  if (variance === 0) return { z: 0, tolerance: 0 };
  const std = Math.sqrt(variance);
  return {
    z: (x - mean) / std,
    tolerance: 1e-9 + 1e3 * Number.EPSILON * ((Math.abs(mean) + Math.abs(x)) / std),
  };
}

function expectSame(actual: Float64Array, expected: Float64Array): void {
  for (let i = 0; i < expected.length; i++)
    if (!Object.is(actual[i], expected[i]))
      expect.fail(`column ${i}: expected ${expected[i]}, got ${actual[i]}`);
}

describe('RollingNormaliser', () => {
  it('matches a two-pass computation on random data (window 50, NaN gaps, offsets up to 1e4)', () => {
    for (const [window, minCount, ddof] of [
      [50, 50, 0],
      [50, 10, 1],
      [7, 2, 0],
    ] as const) {
      const columns = 5;
      const normaliser = new RollingNormaliser({ columns, window, minCount, ddof });
      const histories: number[][] = Array.from({ length: columns }, () => []);
      const out = new Float64Array(columns);
      let worst = 0;
      for (const row of randomRows(window * 31 + ddof, 5_000, columns)) {
        normaliser.normalise(row, out);
        for (let c = 0; c < columns; c++) {
          const x = row[c] as number;
          if (Number.isNaN(x)) {
            expect(out[c]).toBeNaN();
            continue;
          }
          (histories[c] as number[]).push(x);
          const expected = naiveZ(histories[c] as number[], window, minCount, ddof);
          if (Number.isNaN(expected)) expect(out[c]).toBeNaN();
          else worst = Math.max(worst, Math.abs((out[c] as number) - expected));
        }
      }
      expect(worst).toBeLessThan(1e-9);
    }
  });

  it('property: random data, windows and NaN shares stay within 1e-9 (plus the conditioning eps·|mean|/std) of two-pass', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 2, max: 40 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (seed, window, nanShare) => {
          const normaliser = new RollingNormaliser({ columns: 3, window, minCount: 2, ddof: 1 });
          const histories: number[][] = [[], [], []];
          const out = new Float64Array(3);
          for (const row of randomRows(seed, 300, 3, nanShare)) {
            normaliser.normalise(row, out);
            for (let c = 0; c < 3; c++) {
              if (Number.isNaN(row[c])) continue;
              (histories[c] as number[]).push(row[c] as number);
              const { z, tolerance } = naive(histories[c] as number[], window, 2, 1);
              if (Number.isNaN(z)) expect(out[c]).toBeNaN();
              else expect(Math.abs((out[c] as number) - z)).toBeLessThanOrEqual(tolerance);
            }
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('stays accurate over a long run on an ill-conditioned column, huge outliers leaving the window included', () => {
    // values 1e6 + [0, 0.01): |mean|/std ≈ 3e8, so a few ulps of the mean already move z by ~1e-7; the
    // reference works on the exactly shifted values x − 1e6
    const window = 100;
    const normaliser = new RollingNormaliser({ columns: 1, window });
    const uniform = uniformFrom(99);
    const shifted: number[] = [];
    const out = new Float64Array(1);
    let worst = 0;
    for (let i = 0; i < 50_000; i++) {
      const x = 1e6 + 1e-2 * uniform() + (i % 5_000 === 0 ? 1e3 : 0);
      shifted.push(x - 1e6);
      normaliser.normalise([x], out);
      if (i >= window)
        worst = Math.max(worst, Math.abs((out[0] as number) - naiveZ(shifted, window, window, 0)));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('re-sums when a large value leaves: z-scores of a quiet window after an outlier stay exact to 1e-9', () => {
    const normaliser = new RollingNormaliser({ columns: 1, window: 20 });
    const uniform = uniformFrom(5);
    const history: number[] = [];
    const out = new Float64Array(1);
    let worst = 0;
    for (let i = 0; i < 2_000; i++) {
      const x = i % 150 === 0 ? 1e9 : 10 + uniform();
      history.push(x);
      normaliser.normalise([x], out);
      if (i >= 20) worst = Math.max(worst, Math.abs((out[0] as number) - naiveZ(history, 20, 20, 0)));
    }
    expect(worst).toBeLessThan(1e-9);
  });

  it('gives 0 for a constant column and NaN for non-finite inputs, which do not enter the window', () => {
    const normaliser = new RollingNormaliser({ columns: 2, window: 3 });
    const out = new Float64Array(2);
    for (const row of [
      [5, 1],
      [5, Number.POSITIVE_INFINITY],
      [5, 2],
      [5, Number.NaN],
      [5, 3],
    ])
      normaliser.normalise(row, out);
    expect(out[0]).toBe(0);
    expect(out[1]).toBeCloseTo((3 - 2) / Math.sqrt(2 / 3), 12);
    normaliser.normalise([Number.NaN, 4], out);
    expect(out[0]).toBeNaN();
    expect(normaliser.mean(0)).toBe(5);
    expect(normaliser.mean(1)).toBeCloseTo(3, 14);
    expect(normaliser.std(1)).toBeCloseTo(Math.sqrt(2 / 3), 14);
  });

  it('replaceLast equals normalising the revised row instead', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(fc.boolean(), { maxLength: 200 }),
        (seed, replaces) => {
          const rows = randomRows(seed, replaces.length + 1, 4, 0.2);
          const live = new RollingNormaliser({ columns: 4, window: 9, minCount: 3 });
          const kept: Float64Array[] = [];
          const out = new Float64Array(4);
          rows.forEach((row, i) => {
            if (i > 0 && replaces[i - 1] === true) {
              live.replaceLast(row, out);
              kept[kept.length - 1] = row;
            } else {
              live.normalise(row, out);
              kept.push(row);
            }
          });
          const replay = new RollingNormaliser({ columns: 4, window: 9, minCount: 3 });
          const expected = new Float64Array(4);
          for (const row of kept) replay.normalise(row, expected);
          expectSame(out, expected);
          expect(JSON.stringify(live.snapshot().state)).toBe(JSON.stringify(replay.snapshot().state));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('snapshot → JSON → restore, then continuing, equals the unbroken run bit for bit', () => {
    const rows = randomRows(5, 400, 3);
    const unbroken = new RollingNormaliser({ columns: 3, window: 25, minCount: 5, ddof: 1 });
    const expected = rows.map((row) => {
      const out = new Float64Array(3);
      unbroken.normalise(row, out);
      return out;
    });
    for (const cut of [0, 1, 24, 25, 26, 200]) {
      const first = new RollingNormaliser({ columns: 3, window: 25, minCount: 5, ddof: 1 });
      const out = new Float64Array(3);
      for (const row of rows.slice(0, cut)) first.normalise(row, out);
      const json = JSON.stringify(first.snapshot());
      const resumed = RollingNormaliser.restore(JSON.parse(json));
      expect(JSON.stringify(resumed.snapshot())).toBe(json);
      rows.slice(cut).forEach((row, i) => {
        resumed.normalise(row, out);
        expectSame(out, expected[cut + i] as Float64Array);
      });
    }
  });

  it('reset gives a fresh instance; replaceLast before any row throws', () => {
    const normaliser = new RollingNormaliser({ columns: 2, window: 4 });
    const out = new Float64Array(2);
    expect(() => normaliser.replaceLast([1, 2], out)).toThrow(/no row/);
    for (const row of randomRows(3, 20, 2)) normaliser.normalise(row, out);
    normaliser.reset();
    expect(normaliser.snapshot()).toEqual(new RollingNormaliser({ columns: 2, window: 4 }).snapshot());
    expect(() => normaliser.replaceLast([1, 2], out)).toThrow(/no row/);
  });

  it('restore rejects garbage with MlfpError snapshot_invalid', () => {
    const good = JSON.parse(
      JSON.stringify(new RollingNormaliser({ columns: 2, window: 4 }).snapshot()),
    ) as Record<string, unknown>;
    for (const value of [
      null,
      { ...good, kind: 'feature-set' },
      { ...good, version: 0 },
      { ...good, window: 1 },
      { ...good, state: [1, 2, 3] },
      { ...good, state: (good['state'] as number[]).map((value, i) => (i === 9 ? 0.5 : value)) },
      { ...good, undo: (good['undo'] as number[]).map((value, i) => (i === 4 ? 99 : value)) },
      { ...good, hasLast: 'yes' },
      { ...good, ddof: 2 },
    ]) {
      let thrown: unknown;
      try {
        RollingNormaliser.restore(value);
      } catch (error) {
        thrown = error;
      }
      expect(isMlfpError(thrown) && thrown.code === 'snapshot_invalid', JSON.stringify(value)).toBe(true);
    }
  });

  it('rejects bad options and short rows', () => {
    expect(() => new RollingNormaliser({ columns: 0, window: 10 })).toThrow(/columns/);
    expect(() => new RollingNormaliser({ columns: 2, window: 1 })).toThrow(/window/);
    expect(() => new RollingNormaliser({ columns: 2, window: 10, minCount: 11 })).toThrow(/minCount/);
    expect(() => new RollingNormaliser({ columns: 2, window: 10, minCount: 1, ddof: 1 })).toThrow(/minCount/);
    expect(() =>
      new RollingNormaliser({ columns: 2, window: 10 }).normalise([1], new Float64Array(2)),
    ).toThrow(/2 values/);
  });
});

describe('FixedNormaliser', () => {
  it('applies (x − mean)/std per column; NaN and infinities give NaN', () => {
    const normaliser = new FixedNormaliser({ mean: [1, -2, 0], std: [2, 0.5, 1] });
    const out = new Float64Array(3);
    normaliser.normalise([5, -2.5, Number.NaN], out);
    expect([...out]).toEqual([2, -1, Number.NaN]);
    normaliser.normalise([1, Number.POSITIVE_INFINITY, 3], out);
    expect([...out]).toEqual([0, Number.NaN, 3]);
  });

  it('rejects mismatched lengths, non-finite means and non-positive stds', () => {
    expect(() => new FixedNormaliser({ mean: [1, 2], std: [1] })).toThrow(/equal length/);
    expect(() => new FixedNormaliser({ mean: [Number.NaN], std: [1] })).toThrow(/mean\[0\]/);
    expect(() => new FixedNormaliser({ mean: [0], std: [0] })).toThrow(/std\[0\]/);
    expect(() => new FixedNormaliser({ mean: [0], std: [-1] })).toThrow(/std\[0\]/);
  });
});

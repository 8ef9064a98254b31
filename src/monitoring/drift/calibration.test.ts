import { describe, expect, it } from 'vitest';
import { Random } from '../../streams/random.js';
import {
  automaticBlockLength,
  bootstrapCut,
  CircularBlockSampler,
  detectorBeta,
  detectorCount,
  lag1Autocorrelation,
  splitFalseAlarmBudget,
} from './calibration.js';
import { KsDetector, KsReference } from './ks.js';
import { BinnedReference } from './reference.js';

const NORMAL_DECILES = [
  -1.2815515655446004, -0.8416212335729143, -0.5244005127080407, -0.2533471031357997, 0,
];
const NORMAL = {
  edges: [
    -4.1,
    ...NORMAL_DECILES,
    ...NORMAL_DECILES.slice(0, 4)
      .map((e) => -e)
      .reverse(),
    4.2,
  ],
  proportions: Array.from({ length: 10 }, () => 0.1),
};

/** Stationary AR(1) with unit variance. */
function ar1Source(random: Random, phi: number): () => number {
  let x = random.normal();
  const innovation = Math.sqrt(1 - phi * phi);
  return () => (x = phi * x + innovation * random.normal());
}

function series(seed: number, phi: number, count: number): Float64Array {
  const next = ar1Source(new Random(seed), phi);
  return Float64Array.from({ length: count }, next);
}

describe('false-alarm budget', () => {
  it('β = 1 − (1 − 1/ERT)^(1/d), and d detectors at β together give 1/ERT', () => {
    for (const [ert, d] of [
      [2, 1],
      [100, 7],
      [2_000, 96],
      [1e4, 480_000],
    ] as const) {
      const beta = detectorBeta(ert, d);
      const direct = 1 - (1 - 1 / ert) ** (1 / d);
      // the direct form itself is only good to about one ulp of 1 (1e-16 absolute)
      expect(Math.abs(beta - direct)).toBeLessThan(1e-15);
      // P(at least one of d alarms in a round) = 1/ERT
      expect(Math.abs(-Math.expm1(d * Math.log1p(-beta)) * ert - 1)).toBeLessThan(1e-12);
    }
    expect(detectorBeta(500, 1)).toBe(1 / 500);
    // far below double resolution of 1 − x the stable form keeps its digits: β ≈ 1/(ERT·d)
    const tiny = detectorBeta(1e9, 1e6);
    expect(Math.abs(tiny - 1e-15) / 1e-15).toBeLessThan(1e-6);
    expect(() => detectorBeta(0.5, 3)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('splits one budget across timeframes by detector-evaluations', () => {
    const d5m = detectorCount({ features: 16, symbols: 100, timeframes: 1, statistics: 2 });
    expect(d5m).toBe(3_200);
    const [only] = splitFalseAlarmBudget([{ name: '5m', detectors: d5m, evaluationsPerWeek: 7.8 }]);
    expect(only!.ert).toBeCloseTo(7.8, 12);
    expect(only!.beta).toBe(detectorBeta(7.8, d5m));
    const groups = splitFalseAlarmBudget(
      [
        { name: '5m', detectors: 3_200, evaluationsPerWeek: 7.8 },
        { name: '1d', detectors: 3_200, evaluationsPerWeek: 5 },
      ],
      2,
    );
    expect(groups[0]!.alarmsPerWeek).toBeCloseTo((2 * 7.8) / 12.8, 12);
    expect(groups[0]!.alarmsPerWeek + groups[1]!.alarmsPerWeek).toBeCloseTo(2, 12);
    // every detector evaluation gets about the same β, whatever its timeframe
    expect(Math.abs(groups[0]!.beta / groups[1]!.beta - 1)).toBeLessThan(1e-3);
    // 0.1 evaluation rounds a week cannot carry 1 false alarm a week: refused, named
    expect(() => splitFalseAlarmBudget([{ name: '1d', detectors: 10, evaluationsPerWeek: 0.1 }], 1)).toThrow(
      expect.objectContaining({ field: 'budget.1d.evaluationsPerWeek' }),
    );
    // per group, P(a false alarm in a round) × rounds per week = its share of the budget
    for (const g of groups)
      expect(-Math.expm1(g.detectors * Math.log1p(-g.beta)) * g.evaluationsPerWeek).toBeCloseTo(
        g.alarmsPerWeek,
        12,
      );
  });
});

describe('block bootstrap calibration', () => {
  it('lag-1 autocorrelation and block length follow the dependence', () => {
    expect(Math.abs(lag1Autocorrelation(series(1, 0.9, 50_000)) - 0.9)).toBeLessThan(0.01);
    expect(lag1Autocorrelation([2, 2, 2])).toBe(0);
    expect(automaticBlockLength(series(2, 0, 50_000), 1_000).blockLength).toBeLessThanOrEqual(3);
    expect(automaticBlockLength(new Float64Array(100).fill(3), 1_000).blockLength).toBe(1);
    const choices = [0.3, 0.6, 0.9].map((phi) => automaticBlockLength(series(3, phi, 50_000), 1_000));
    const lengths = choices.map((choice) => choice.blockLength);
    expect(lengths).toStrictEqual([...lengths].sort((a, b) => a - b));
    // AR(1) φ = 0.9: long-run ratio (1+φ)/(1−φ) = 19, G/g = 2φ/(1−φ²) = 9.47, so the 5% bias bound is ≈ 190
    const ar09 = choices[2]!;
    expect(Math.abs(ar09.longRunRatio - 19) / 19).toBeLessThan(0.25);
    expect(ar09.optimal).toBeGreaterThan(35);
    expect(ar09.optimal).toBeLessThan(70);
    expect(ar09.blockLength).toBe(ar09.biasBound);
    expect(ar09.blockLength).toBeGreaterThan(140);
    expect(ar09.blockLength).toBeLessThan(250);
    // persistent series are bootstrapped by whole windows
    expect(automaticBlockLength(series(4, 0.99, 50_000), 1_000).blockLength).toBe(1_000);
  });

  it('the circular sampler replays history in blocks, wrapping around', () => {
    const history = Float64Array.from([0, 1, 2, 3, 4]);
    const starts = [0.99, 0.1];
    const sampler = new CircularBlockSampler(history, 3, { uniform: () => starts.shift() ?? 0.5 });
    expect(Array.from({ length: 6 }, () => sampler.next())).toStrictEqual([4, 0, 1, 0, 1, 2]);
  });

  it('cuts the mean of i.i.d. values at its normal quantiles, empirical and extrapolated', () => {
    const history = series(2, 0, 20_000);
    const statistic = (window: Float64Array): number =>
      window.reduce((a, b) => a + b, 0) / Math.sqrt(window.length);
    const common = { history, windowSize: 100, statistic, replicates: 4_000, blockLength: 1 };
    const five = bootstrapCut({ ...common, beta: 0.05, random: new Random(3) });
    expect(five.method).toBe('empirical');
    expect(Math.abs(five.cut - 1.645)).toBeLessThan(0.12);
    const far = bootstrapCut({ ...common, beta: 1e-4, random: new Random(3) });
    expect(far.method).toBe('extrapolated');
    expect(Math.abs(far.cut - 3.719)).toBeLessThan(0.35);
    expect(far.cut).toBeGreaterThanOrEqual(far.quantiles.p99);
  });

  it('blocks keep autocorrelation: an AR(1) φ = 0.9 mean gets a spread ≈ √19 times wider', () => {
    const history = series(4, 0.9, 50_000);
    const statistic = (window: Float64Array): number =>
      window.reduce((a, b) => a + b, 0) / Math.sqrt(window.length);
    const options = { history, windowSize: 1_000, statistic, replicates: 2_000 };
    // spread between the median and the 95% point, so the history's own mean offset cancels
    const width = (blockLength?: number): number =>
      bootstrapCut({ ...options, beta: 0.05, random: new Random(5), blockLength }).cut -
      bootstrapCut({ ...options, beta: 0.5, random: new Random(5), blockLength }).cut;
    const blocks = bootstrapCut({ ...options, beta: 0.05, random: new Random(5) });
    expect(blocks.blockChoice?.blockLength).toBe(blocks.blockLength);
    expect(blocks.blockLength).toBeGreaterThan(140);
    // the long-run standard deviation of an AR(1) mean is √((1+φ)/(1−φ)) = 4.36 times the i.i.d. one
    const ratio = width(undefined) / width(1);
    expect(ratio).toBeGreaterThan(3.8);
    expect(ratio).toBeLessThan(4.8);
  });

  it('refuses a history shorter than a window and a statistic with no tail', () => {
    const random = new Random(1);
    expect(() =>
      bootstrapCut({ history: [1, 2, 3], windowSize: 10, statistic: () => 1, beta: 0.01, random }),
    ).toThrow(expect.objectContaining({ field: 'calibration.history' }));
    expect(() =>
      bootstrapCut({ history: series(1, 0, 100), windowSize: 10, statistic: () => 1, beta: 1e-4, random }),
    ).toThrow(expect.objectContaining({ field: 'calibration.statistic' }));
  });
});

describe('run length to a false alarm (a fast version of benchmarks/drift-harness.ts)', () => {
  /** Mean evaluations to the first alarm over `runs` AR(1) streams, censored at `cap` evaluations. */
  function meanRunLength(cut: number, phi: number, runs: number, cap: number): number {
    const reference = KsReference.fromHistogram(new BinnedReference(NORMAL));
    const random = new Random(99);
    let total = 0;
    for (let run = 0; run < runs; run++) {
      const detector = new KsDetector(reference, { cut, window: 200, minCount: 200, every: 10 });
      const next = ar1Source(random, phi);
      let evaluations = 0;
      for (let t = 0; evaluations < cap; t++) {
        if (!detector.update(next(), t)) continue;
        evaluations++;
        if (detector.status === 'alarm') break;
      }
      total += evaluations;
    }
    return total / runs;
  }

  it('a KS cut calibrated by block bootstrap for ERT 50 lasts ≥ 50 evaluations on AR(1) φ = 0.9; an i.i.d. bootstrap does not', () => {
    const target = 50;
    const reference = KsReference.fromHistogram(new BinnedReference(NORMAL));
    const options = {
      history: series(21, 0.9, 40_000),
      windowSize: 200,
      statistic: (window: Float64Array) => reference.statistic(window) * reference.scale(window.length),
      beta: 1 / target,
      replicates: 1_000,
    };
    const calibrated = bootstrapCut({ ...options, random: new Random(22) });
    const naive = bootstrapCut({ ...options, random: new Random(22), blockLength: 1 });
    expect(meanRunLength(calibrated.cut, 0.9, 30, 10 * target)).toBeGreaterThanOrEqual(target);
    expect(meanRunLength(naive.cut, 0.9, 30, 10 * target)).toBeLessThan(target / 2);
  });
});

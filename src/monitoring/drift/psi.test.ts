import { describe, expect, it } from 'vitest';
import { Random } from '../../streams/random.js';
import { PsiDetector, psiStatistic, type PsiSnapshot } from './psi.js';
import { BinnedReference, type ReferenceHistogram } from './reference.js';

/** Standard normal deciles, outer edges at the training min/max as a manifest writes them. */
const NORMAL_DECILES = [
  -1.2815515655446004, -0.8416212335729143, -0.5244005127080407, -0.2533471031357997, 0,
];
const NORMAL: ReferenceHistogram = {
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

function ar1(seed: number, phi: number, count: number, offset = 0, scale = 1): number[] {
  const random = new Random(seed);
  const values: number[] = [];
  let x = random.normal();
  for (let i = 0; i < count; i++) {
    x = phi * x + Math.sqrt(1 - phi * phi) * random.normal();
    values.push(offset + scale * x);
  }
  return values;
}

/** Two-pass lag-1 autocorrelation, the textbook way. */
function batchRho(window: readonly number[]): number {
  const n = window.length;
  const mean = window.reduce((a, b) => a + b, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (let i = 0; i < n; i++) {
    denominator += (window[i]! - mean) ** 2;
    if (i + 1 < n) numerator += (window[i]! - mean) * (window[i + 1]! - mean);
  }
  return numerator / denominator;
}

/** PSI by a linear scan of the edges (outer bins open), floor 1e-4. */
function batchPsi(histogram: ReferenceHistogram, window: readonly number[]): number {
  const bins = histogram.proportions.length;
  const counts = new Array<number>(bins).fill(0);
  for (const x of window) {
    let bin = 0;
    for (let i = 1; i < bins; i++) if (x >= histogram.edges[i]!) bin = i;
    counts[bin]!++;
  }
  const missing = histogram.missing ?? 0;
  let psi = 0;
  for (let i = 0; i < bins; i++) {
    const actual = Math.max(counts[i]! / window.length, 1e-4);
    const expected = Math.max(histogram.proportions[i]! / (1 - missing), 1e-4);
    psi += (actual - expected) * Math.log(actual / expected);
  }
  return psi;
}

describe('PsiDetector', () => {
  it('keeps ρ₁, ESS and PSI equal to batch computations over the sliding window', () => {
    for (const [phi, offset, scale] of [
      [0, 0, 1],
      [0.98, 0, 1],
      [0.9, 100, 0.01], // prices far from zero: running sums are centred on the reference median
    ] as const) {
      const histogram: ReferenceHistogram = {
        edges: NORMAL.edges.map((e) => offset + scale * e),
        proportions: NORMAL.proportions,
      };
      const detector = new PsiDetector(new BinnedReference(histogram), {
        window: 300,
        minCount: 50,
        every: 7,
      });
      const values = ar1(7, phi, 1_700, offset, scale);
      let checked = 0;
      for (let t = 0; t < values.length; t++) {
        detector.update(values[t]!, t);
        if (t < 2 || t % 13 !== 0) continue;
        const window = values.slice(Math.max(0, t + 1 - 300), t + 1);
        const rho = batchRho(window);
        expect(Math.abs(detector.lag1Autocorrelation() - rho)).toBeLessThan(1e-12);
        const ess = rho <= 0 ? window.length : (window.length * (1 - rho)) / (1 + rho);
        expect(Math.abs(detector.effectiveSampleSize() - ess) / ess).toBeLessThan(1e-10);
        expect(detector.currentPsi()).toBe(batchPsi(histogram, window));
        checked++;
      }
      expect(checked).toBeGreaterThan(100);
    }
  });

  it('evaluates every `every` values once minCount are in, and only when the ESS reaches minEss', () => {
    const reference = new BinnedReference(NORMAL);
    const iid = new PsiDetector(reference, { window: 1_000, minCount: 500, every: 50, minEss: 500 });
    const evaluatedAt: number[] = [];
    ar1(1, 0, 1_000).forEach((x, t) => {
      if (iid.update(x, t * 1_000)) evaluatedAt.push(t);
    });
    expect(evaluatedAt[0]).toBe(499);
    expect(evaluatedAt).toHaveLength(11);
    expect(iid.status).toBe('ok');
    expect(iid.evaluatedAtMs).toBe(999_000);
    expect(iid.psi).toBe(batchPsi(NORMAL, ar1(1, 0, 1_000)));

    const persistent = new PsiDetector(reference, { window: 1_000, minEss: 500 });
    for (const [t, x] of ar1(2, 0.98, 1_000).entries()) persistent.update(x, t);
    expect(persistent.status).toBe('gated');
    expect(persistent.psi).toBeNaN();
    expect(persistent.ess).toBeLessThan(100);
    // the same window without the gate reads a PSI that would alert on no drift at all
    expect(persistent.currentPsi()).toBeGreaterThan(0.1);
  });

  it('warns and alerts on a shifted window; outer bins take values beyond the training range', () => {
    const reference = new BinnedReference(NORMAL);
    const detector = new PsiDetector(reference, { window: 1_000 });
    for (const [t, x] of ar1(3, 0, 1_000).entries()) detector.update(x + 1, t);
    expect(detector.status).toBe('alert');
    expect(detector.psi).toBeGreaterThan(0.25);
    const outside = new PsiDetector(reference, { window: 10, minCount: 10, every: 10, minEss: 0 });
    for (let t = 0; t < 10; t++) outside.update(t < 5 ? -1e9 : 1e9, t);
    expect(outside.psi).toBe(batchPsi(NORMAL, [-1e9, -1e9, -1e9, -1e9, -1e9, 1e9, 1e9, 1e9, 1e9, 1e9]));
  });

  it('skips non-finite values (missing data is data quality, not drift)', () => {
    const detector = new PsiDetector(new BinnedReference(NORMAL), { window: 10, minCount: 2 });
    detector.update(Number.NaN, 1);
    detector.update(Number.POSITIVE_INFINITY, 2);
    detector.update(0.5, 3);
    expect(detector.skipped).toBe(2);
    expect(detector.size).toBe(1);
  });

  it('renormalises proportions to the non-missing share', () => {
    const histogram = { edges: [0, 1, 2, 3], proportions: [0.2, 0.3, 0.3], missing: 0.2 };
    const reference = new BinnedReference(histogram);
    expect(Array.from(reference.expected)).toStrictEqual([0.2 / 0.8, 0.3 / 0.8, 0.3 / 0.8]);
    expect(psiStatistic(reference, [0.5, 1.5, 1.5, 2.5, 2.5, 2.5, 0.1, 1.1])).toBe(
      batchPsi(histogram, [0.5, 1.5, 1.5, 2.5, 2.5, 2.5, 0.1, 1.1]),
    );
  });

  it('refuses bad options and bad references naming the key', () => {
    const reference = new BinnedReference(NORMAL);
    expect(() => new PsiDetector(reference, { window: 1 })).toThrow(
      expect.objectContaining({ code: 'config_invalid', field: 'psi.window' }),
    );
    expect(() => new PsiDetector(reference, { window: 100, minCount: 200 })).toThrow(
      expect.objectContaining({ field: 'psi.minCount' }),
    );
    expect(() => new PsiDetector(reference, { warn: 0.3, alert: 0.2 })).toThrow(
      expect.objectContaining({ field: 'psi.alert' }),
    );
    expect(
      () => new BinnedReference({ edges: [0, 2, 1], proportions: [0.5, 0.5] }, 'reference.inputs.rsi_14'),
    ).toThrow(expect.objectContaining({ code: 'config_invalid', field: 'reference.inputs.rsi_14.edges' }));
    expect(() => new BinnedReference({ edges: [0, 1, 2], proportions: [0.5, 0.4] })).toThrow(
      expect.objectContaining({ field: 'reference.proportions' }),
    );
  });
});

describe('PsiDetector snapshots', () => {
  const reference = new BinnedReference(NORMAL);
  const options = { window: 400, minCount: 100, every: 25, minEss: 50 };

  function runTo(count: number): PsiDetector {
    const detector = new PsiDetector(reference, options);
    for (const [t, x] of ar1(11, 0.5, count).entries()) detector.update(x, t);
    return detector;
  }

  it('snapshot → JSON → restore continues as an unbroken run, bit for bit', () => {
    for (const cut of [0, 37, 400, 401, 1_234]) {
      const unbroken = runTo(cut);
      const restored = PsiDetector.restore(JSON.parse(JSON.stringify(unbroken.snapshot())), reference);
      expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
      for (const [t, x] of ar1(12, 0.5, 900).entries()) {
        expect(restored.update(x, 10_000 + t)).toBe(unbroken.update(x, 10_000 + t));
        expect(restored.psi).toBe(unbroken.psi);
        expect(restored.ess).toBe(unbroken.ess);
        expect(restored.status).toBe(unbroken.status);
      }
      expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
    }
  });

  it('reset gives a fresh detector', () => {
    const detector = runTo(777);
    detector.reset();
    expect(detector.snapshot()).toStrictEqual(new PsiDetector(reference, options).snapshot());
  });

  it('refuses bad snapshots with snapshot_invalid naming the field', () => {
    const good = runTo(1_000).snapshot();
    const cases: Array<[string, (s: PsiSnapshot) => unknown]> = [
      ['kind', (s) => ({ ...s, kind: 'mlfp.drift.ks' })],
      ['version', (s) => ({ ...s, version: 1 })],
      ['reference', (s) => ({ ...s, reference: '0000000000000000' })],
      ['window', (s) => ({ ...s, window: 1 })],
      ['values', (s) => ({ ...s, values: s.values.slice(1) })],
      ['values', (s) => ({ ...s, values: [Number.NaN, ...s.values.slice(1)] })],
      ['sums', (s) => ({ ...s, sums: s.sums.map((v, i) => (i === 1 ? v + 1 : v)) })],
      ['sums', (s) => ({ ...s, sums: s.sums.slice(1) })],
      ['status', (s) => ({ ...s, status: 'firing' })],
      ['seen', (s) => ({ ...s, seen: -1 })],
      ['psi', (s) => ({ ...s, psi: 'high' })],
    ];
    for (const [field, corrupt] of cases) {
      const bad = corrupt(JSON.parse(JSON.stringify(good)) as PsiSnapshot);
      expect(() => PsiDetector.restore(bad, reference), field).toThrow(
        expect.objectContaining({ code: 'snapshot_invalid', field }),
      );
    }
    expect(() => PsiDetector.restore('nope', reference)).toThrow(
      expect.objectContaining({ code: 'snapshot_invalid' }),
    );
    const other = new BinnedReference({ ...NORMAL, edges: NORMAL.edges.map((e) => e * 2) });
    expect(() => PsiDetector.restore(good, other)).toThrow(expect.objectContaining({ field: 'reference' }));
  });
});

describe('PsiDetector without autocorrelation (the caller gates, as ModelDrift does)', () => {
  const reference = new BinnedReference(NORMAL);
  const options = { window: 400, minCount: 100, every: 25, minEss: 0 };
  const values = [...ar1(13, 0.5, 900), ...ar1(14, 0.5, 400, 0.6)];

  function runTo(count: number): PsiDetector {
    const detector = new PsiDetector(reference, { ...options, autocorrelation: false });
    for (let t = 0; t < count; t++) detector.update(values[t]!, t);
    return detector;
  }

  it('reads the same PSI and status as the tracked detector at every evaluation, ρ₁ and ESS NaN', () => {
    const tracked = new PsiDetector(reference, options);
    const binsOnly = new PsiDetector(reference, { ...options, autocorrelation: false });
    let evaluations = 0;
    for (const [t, x] of values.entries()) {
      const bin = reference.binOf(x);
      expect(binsOnly.updateBinned(x, bin, t)).toBe(tracked.update(x, t));
      expect(binsOnly.psi).toBe(tracked.psi);
      expect(binsOnly.status).toBe(tracked.status);
      if (binsOnly.evaluatedAtMs === t) evaluations++;
    }
    expect(evaluations).toBe(Math.floor(values.length / 25) - 3);
    expect(binsOnly.status).toBe('alert');
    expect([binsOnly.rho1, binsOnly.ess, binsOnly.lag1Autocorrelation()]).toEqual([NaN, NaN, NaN]);
    expect(() => new PsiDetector(reference, { ...options, minEss: 10, autocorrelation: false })).toThrow(
      expect.objectContaining({ code: 'config_invalid', field: 'psi.minEss' }),
    );
  });

  it('snapshot → JSON → restore continues as an unbroken run, bit for bit; bad bins refused', () => {
    for (const cut of [0, 37, 400, 401, 1_000]) {
      const unbroken = runTo(cut);
      const restored = PsiDetector.restore(JSON.parse(JSON.stringify(unbroken.snapshot())), reference);
      expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
      for (let t = cut; t < values.length; t++) {
        expect(restored.update(values[t]!, t)).toBe(unbroken.update(values[t]!, t));
        expect(restored.psi).toBe(unbroken.psi);
      }
      expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
    }
    const good = runTo(500).snapshot();
    expect([good.values.length, good.bins.length]).toEqual([0, 400]);
    const cases: Array<[string, (s: PsiSnapshot) => unknown]> = [
      ['bins', (s) => ({ ...s, bins: s.bins.slice(1) })],
      ['bins', (s) => ({ ...s, bins: s.bins.map((b, i) => (i === 3 ? 10 : b)) })],
      ['values', (s) => ({ ...s, values: [0.5] })],
      ['sums', (s) => ({ ...s, sums: s.sums.map((v, i) => (i === 0 ? 1 : v)) })],
      ['minEss', (s) => ({ ...s, minEss: 5 })],
    ];
    for (const [field, corrupt] of cases) {
      const bad = corrupt(JSON.parse(JSON.stringify(good)) as PsiSnapshot);
      expect(() => PsiDetector.restore(bad, reference), field).toThrow(
        expect.objectContaining({ code: 'snapshot_invalid', field }),
      );
    }
  });
});

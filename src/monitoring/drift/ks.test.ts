import { describe, expect, it } from 'vitest';
import { Random } from '../../streams/random.js';
import { KsDetector, KsReference, SCAN_MAX_BUCKETS, type KsSnapshot } from './ks.js';
import { BinnedReference, type ReferenceHistogram } from './reference.js';

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

/** Normal draws rounded to `step`, so the window and the reference share values (ties). */
function normals(seed: number, count: number, step = 0.1, shift = 0): number[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => Math.round((random.normal() + shift) / step) * step);
}

/** Two-sample KS the textbook way: sup over every observed x of |F_n(x) − G_m(x)|, right-continuous. */
function batchTwoSample(window: readonly number[], reference: readonly number[]): number {
  let d = 0;
  for (const x of [...window, ...reference]) {
    const f = window.filter((v) => v <= x).length / window.length;
    const g = reference.filter((v) => v <= x).length / reference.length;
    d = Math.max(d, Math.abs(f - g));
  }
  return d;
}

/** KS against a histogram's CDF at its inner edges: max |#{x < e_i}/n − Σ_{k<i} p_k|. */
function batchAtEdges(window: readonly number[], histogram: ReferenceHistogram): number {
  let d = 0;
  let cumulative = 0;
  for (let i = 1; i < histogram.edges.length - 1; i++) {
    cumulative += histogram.proportions[i - 1]!;
    const below = window.filter((v) => v < histogram.edges[i]!).length / window.length;
    d = Math.max(d, Math.abs(below - cumulative));
  }
  return d;
}

describe('KsDetector', () => {
  // step 0.1: about 100 buckets, over SCAN_MAX_BUCKETS (segment tree); step 1: about 15 (scanned)
  it.each([0.1, 1])(
    'equals the textbook two-sample statistic (ties included), values rounded to %s',
    (step) => {
      const referenceValues = normals(1, 300, step);
      const reference = KsReference.fromSample(referenceValues);
      expect(reference.buckets > SCAN_MAX_BUCKETS).toBe(step === 0.1);
      const detector = new KsDetector(reference, { cut: 1.5, window: 120, minCount: 40, every: 9 });
      const values = [...normals(2, 400, step), ...normals(3, 300, step, 0.4)];
      let evaluations = 0;
      for (let t = 0; t < values.length; t++) {
        if (!detector.update(values[t]!, t)) continue;
        const window = values.slice(Math.max(0, t + 1 - 120), t + 1);
        const expected = batchTwoSample(window, referenceValues);
        expect(Math.abs(detector.statistic - expected)).toBeLessThan(1e-12);
        expect(detector.scaled).toBe(
          detector.statistic * Math.sqrt((window.length * 300) / (window.length + 300)),
        );
        expect(reference.statistic(window)).toBe(detector.currentDistance());
        evaluations++;
      }
      expect(evaluations).toBe(Math.floor(700 / 9) - 4);
      expect(detector.status).toBe('alarm');
    },
  );

  it('against the manifest deciles equals the distance at the inner edges', () => {
    const reference = KsReference.fromHistogram(new BinnedReference(NORMAL));
    const detector = new KsDetector(reference, { cut: 1.36, window: 200, minCount: 50, every: 10 });
    const values = normals(4, 900, 0.01);
    for (let t = 0; t < values.length; t++) {
      if (!detector.update(values[t]!, t)) continue;
      const window = values.slice(Math.max(0, t + 1 - 200), t + 1);
      expect(Math.abs(detector.statistic - batchAtEdges(window, NORMAL))).toBeLessThan(1e-12);
      // the same scan as KsReference.statistic and the calibration bootstrap: equal, not just close
      expect(detector.statistic).toBe(reference.statistic(window));
    }
    expect(detector.scaled).toBe(detector.statistic * Math.sqrt(200));
  });

  it('alarms only above the cut and skips non-finite values', () => {
    const reference = KsReference.fromHistogram(new BinnedReference(NORMAL));
    const quiet = new KsDetector(reference, { cut: 2.5, window: 500, minCount: 500, every: 50 });
    for (const [t, x] of normals(5, 1_000, 1e-6).entries()) quiet.update(x, t);
    expect(quiet.status).toBe('ok');
    const shifted = new KsDetector(reference, { cut: 2.5, window: 500, minCount: 500, every: 50 });
    for (const [t, x] of normals(5, 1_000, 1e-6, 0.5).entries()) shifted.update(x, t);
    expect(shifted.status).toBe('alarm');
    shifted.update(Number.NaN, 0);
    expect(shifted.skipped).toBe(1);
    expect(() => new KsDetector(reference, { cut: 0 })).toThrow(
      expect.objectContaining({ code: 'config_invalid', field: 'ks.cut' }),
    );
    expect(() => KsReference.fromSample([1, Number.NaN])).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });
});

describe('KsDetector snapshots', () => {
  const reference = KsReference.fromSample(normals(6, 200));
  const options = { cut: 1.4, window: 150, minCount: 60, every: 10 };

  function runTo(count: number): KsDetector {
    const detector = new KsDetector(reference, options);
    for (const [t, x] of normals(7, count).entries()) detector.update(x, t);
    return detector;
  }

  it('snapshot → JSON → restore continues as an unbroken run, bit for bit', () => {
    for (const cut of [0, 59, 150, 151, 987]) {
      const unbroken = runTo(cut);
      const restored = KsDetector.restore(JSON.parse(JSON.stringify(unbroken.snapshot())), reference);
      expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
      for (const [t, x] of normals(8, 500, 0.1, 0.2).entries()) {
        expect(restored.update(x, t)).toBe(unbroken.update(x, t));
        expect(restored.statistic).toBe(unbroken.statistic);
        expect(restored.status).toBe(unbroken.status);
      }
      expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
    }
  });

  it('reset gives a fresh detector', () => {
    const detector = runTo(400);
    detector.reset();
    expect(detector.snapshot()).toStrictEqual(new KsDetector(reference, options).snapshot());
  });

  it('refuses bad snapshots with snapshot_invalid naming the field', () => {
    const good = runTo(500).snapshot();
    const cases: Array<[string, (s: KsSnapshot) => unknown]> = [
      ['kind', (s) => ({ ...s, kind: 'mlfp.drift.psi' })],
      ['version', (s) => ({ ...s, version: 0 })],
      ['reference', (s) => ({ ...s, reference: 'x' })],
      ['cut', (s) => ({ ...s, cut: -1 })],
      ['buckets', (s) => ({ ...s, buckets: s.buckets.slice(2) })],
      ['buckets', (s) => ({ ...s, buckets: s.buckets.map((b, i) => (i === 3 ? reference.buckets : b)) })],
      ['buckets', (s) => ({ ...s, buckets: s.buckets.map((b, i) => (i === 3 ? 1.5 : b)) })],
      ['status', (s) => ({ ...s, status: 'alert' })],
      ['statistic', (s) => ({ ...s, statistic: null })],
    ];
    for (const [field, corrupt] of cases) {
      const bad = corrupt(JSON.parse(JSON.stringify(good)) as KsSnapshot);
      expect(() => KsDetector.restore(bad, reference), field).toThrow(
        expect.objectContaining({ code: 'snapshot_invalid', field }),
      );
    }
    const other = KsReference.fromSample(normals(9, 200));
    expect(() => KsDetector.restore(good, other)).toThrow(expect.objectContaining({ field: 'reference' }));
  });
});

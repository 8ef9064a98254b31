import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LabelRecord, ModelKind, PerformanceRecord } from '../../domain/types.js';
import { Random } from '../../streams/random.js';
import { PageHinkley } from '../drift/page-hinkley.js';
import { batchPerformance, pairwiseSum } from './performance-metrics.js';
import {
  PerformanceTracker,
  type PerformanceModel,
  type PerformanceTrackerOptions,
  type PerformanceTrackerSnapshot,
} from './performance-tracker.js';

const T0 = Date.UTC(2024, 0, 2);
const M5 = 300_000;

interface ReferenceCase {
  name: string;
  kind: ModelKind;
  classes?: string[];
  labels: { predicted: number | string; actual: number | string; realisedReturn: number }[];
  expected: Record<string, number>;
}
const REFERENCE = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/performance/reference.json', import.meta.url), 'utf8'),
) as { cases: ReferenceCase[] };

function identity(kind: ModelKind, classes?: readonly string[]): PerformanceModel {
  return { model: 'm', version: '1', kind, timeframe: '5m', ...(classes === undefined ? {} : { classes }) };
}

function label(
  kind: ModelKind,
  symbol: string,
  bar: number,
  predicted: number | string,
  actual: number | string,
  realisedReturn: number,
  revision = 0,
): LabelRecord {
  return {
    symbol,
    timeframe: '5m',
    ts: T0 + bar * M5,
    model: 'm',
    version: '1',
    kind,
    horizonBars: 1,
    labelTs: T0 + (bar + 1) * M5,
    state: 'labelled',
    revision,
    realisedReturn,
    actual,
    predicted,
  };
}

function expired(kind: ModelKind, bar: number): LabelRecord {
  return {
    ...label(kind, 'ZZZ', bar, kind === 'classifier' ? 'up' : 0.1, 'up', Number.NaN),
    state: 'expired',
    reason: 'gap',
    actual: null,
  };
}

/** Relative closeness for the reference: |got − want| ≤ 1e-12 · |want| (exact when want is 0). */
function expectClose(got: number | undefined, want: number, what: string): void {
  expect(got, what).toBeTypeOf('number');
  expect(Math.abs(got! - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-12 * Math.abs(want));
}

describe('batchPerformance against scikit-learn and numpy (test/fixtures/performance/reference.json)', () => {
  it.each(REFERENCE.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const labels = c.labels.map((l, i) => label(c.kind, 'AAA', i, l.predicted, l.actual, l.realisedReturn));
    const metrics = batchPerformance(labels, c.kind, c.classes);
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(c.expected).sort());
    for (const [name, want] of Object.entries(c.expected)) expectClose(metrics[name], want, name);
    // the streaming tracker over one full window reports the same doubles
    const tracker = new PerformanceTracker(identity(c.kind, c.classes), {
      window: labels.length,
      every: labels.length,
      errorThreshold: 10,
    });
    let record: PerformanceRecord | undefined;
    for (const l of labels) record = tracker.onLabel(l);
    expect(record?.metrics).toStrictEqual(metrics);
    expect(record?.count).toBe(labels.length);
  });

  it('infers sorted classes when none are given, and leaves out expired and unreadable labels', () => {
    const labels = [
      label('classifier', 'A', 0, 'up', 'down', -0.01),
      label('classifier', 'A', 1, 'down', 'down', -0.02),
      expired('classifier', 2),
      label('classifier', 'A', 3, 'up', 'up', 0.03),
    ];
    const metrics = batchPerformance(labels, 'classifier');
    expect(metrics['accuracy']).toBe(2 / 3);
    expect(metrics['precision_up']).toBe(1 / 2);
    expect(batchPerformance([expired('regressor', 0)], 'regressor')).toEqual({});
    expect(batchPerformance(labels, 'classifier', ['down', 'flat', 'up'])['recall_flat']).toBe(0);
  });

  it('sums as numpy does (pairwise over blocks of 128 with 8 accumulators)', () => {
    const random = new Random(5);
    const values = Float64Array.from({ length: 1_000 }, () => random.normal() * 1e-3 + 1e-4);
    for (const n of [0, 1, 7, 8, 9, 127, 128, 129, 300, 1_000]) {
      let simple = 0;
      for (let i = 0; i < n; i++) simple += values[i]!;
      expect(Math.abs(pairwiseSum(values, 0, n) - simple)).toBeLessThan(1e-15);
    }
    // 0.1 × 10: naive left-to-right gives 0.9999999999999999; numpy's 8 accumulators give 1
    expect(pairwiseSum(new Float64Array(10).fill(0.1), 0, 10)).toBe(1);
  });

  it('takes max_drawdown as max(1 − equity / peak) over every label exactly, negative and infinite equity included', () => {
    const random = new Random(11);
    for (let run = 0; run < 200; run++) {
      const labels: LabelRecord[] = [];
      const n = 1 + random.int(300);
      for (let i = 0; i < n; i++) {
        const draw = random.uniform();
        // mostly small moves, some ruinous (1 + x < 0 on a short), some huge, some flat (x = ±0)
        const r =
          draw < 0.8
            ? random.normal() * 0.02
            : draw < 0.9
              ? 1 + random.uniform() * 3
              : draw < 0.95
                ? 1e300
                : 0;
        const predicted = random.uniform() < 0.1 ? 0 : random.normal();
        labels.push(label('regressor', 'AAA', i, predicted, r, r));
      }
      let equity = 1;
      let peak = 1;
      let maxDrawdown = 0;
      for (const l of labels) {
        equity *= 1 + Math.sign(l.predicted as number) * l.realisedReturn;
        if (equity > peak) peak = equity;
        const drawdown = 1 - equity / peak;
        if (drawdown > maxDrawdown) maxDrawdown = drawdown;
      }
      expect(batchPerformance(labels, 'regressor')['max_drawdown']).toBe(maxDrawdown);
    }
  });
});

/** Random labels of one model with revisions (in and out of the window), repeats and expired records. */
function randomLabels(
  seed: number,
  kind: ModelKind,
  classes: readonly string[],
  count: number,
): LabelRecord[] {
  const random = new Random(seed);
  const symbols = ['AAA', 'BBB', 'CCC', 'DDD'];
  const labels: LabelRecord[] = [];
  const issued: LabelRecord[] = [];
  for (let bar = 0; labels.length < count; bar++) {
    for (const symbol of symbols) {
      const realised = random.normal() * 0.01;
      const value = (): number | string =>
        kind === 'classifier'
          ? classes[random.int(classes.length)]!
          : random.uniform() < 0.05
            ? 0
            : random.normal() * 0.01;
      const r = random.uniform();
      if (r < 0.04) labels.push(expired(kind, bar));
      else {
        const l = label(
          kind,
          symbol,
          bar,
          value(),
          kind === 'classifier' ? value() : realised * 100,
          realised,
        );
        labels.push(l);
        issued.push(l);
      }
      if (random.uniform() < 0.12 && issued.length > 0) {
        // a revision of a recent label (sometimes one evicted from the window long ago), or a repeat
        const back =
          random.uniform() < 0.9 ? random.int(Math.min(issued.length, 40)) : random.int(issued.length);
        const old = issued[issued.length - 1 - back]!;
        const realisedAgain = random.normal() * 0.01;
        const revised: LabelRecord = {
          ...old,
          revision: random.uniform() < 0.1 ? old.revision : old.revision + 1,
          realisedReturn: realisedAgain,
          actual: kind === 'classifier' ? value() : realisedAgain * 100,
        };
        issued[issued.length - 1 - back] = revised;
        labels.push(revised);
      }
    }
  }
  return labels;
}

/** The window as a list: the last `window` distinct labels in first-arrival order, revisions in place. */
class WindowModel {
  readonly entries: LabelRecord[] = [];

  constructor(private readonly window: number) {}

  add(l: LabelRecord): boolean {
    if (l.state !== 'labelled') return false;
    const at = this.entries.findIndex((e) => e.symbol === l.symbol && e.ts === l.ts);
    if (at >= 0) {
      if (!(l.revision > this.entries[at]!.revision)) return false;
      this.entries[at] = l;
      return true;
    }
    if (l.revision > 0) return false;
    this.entries.push(l);
    if (this.entries.length > this.window) this.entries.shift();
    return true;
  }
}

describe('PerformanceTracker', () => {
  const variants: [string, ModelKind, string[]][] = [
    ['binary classifier', 'classifier', ['down', 'up']],
    ['three-class classifier', 'classifier', ['sell', 'hold', 'buy']],
    ['regressor', 'regressor', []],
  ];

  it.each(variants)(
    '%s: every record equals batchPerformance over the window, exactly',
    (_name, kind, classes) => {
      for (let seed = 1; seed <= 12; seed++) {
        const window = [7, 50, 128, 500][seed % 4]!;
        const every = [1, 3, 50][seed % 3]!;
        const tracker = new PerformanceTracker(identity(kind, kind === 'classifier' ? classes : undefined), {
          window,
          every,
          errorThreshold: 5,
        });
        const model = new WindowModel(window);
        let accepted = 0;
        let records = 0;
        let replaced = 0;
        for (const l of randomLabels(seed, kind, classes, 1_500)) {
          const inWindow = model.entries.some((e) => e.symbol === l.symbol && e.ts === l.ts);
          const took = model.add(l);
          if (took && inWindow) replaced++;
          if (took) accepted++;
          const record = tracker.onLabel(l);
          if (!took || accepted % every !== 0) {
            expect(record).toBeUndefined();
            continue;
          }
          records++;
          expect(record!.count).toBe(model.entries.length);
          expect(record!.ts).toBe(Math.max(...model.entries.map((e) => e.labelTs)));
          expect(record!.metrics).toStrictEqual(batchPerformance(model.entries, kind, classes));
        }
        expect(records).toBeGreaterThan(10);
        expect(replaced).toBeGreaterThan(10);
        expect(tracker.stale).toBeGreaterThan(0);
        expect(tracker.expired).toBeGreaterThan(0);
        expect(tracker.accepted).toBe(accepted);
      }
    },
  );

  it('feeds Page-Hinkley each new label’s error once: 0/1 for a classifier, |error| / errorScale for a regressor', () => {
    const classifier = new PerformanceTracker(identity('classifier', ['down', 'up']), {
      errorThreshold: 3,
      errorDelta: 0.01,
      every: 1,
    });
    const regressor = new PerformanceTracker(identity('regressor'), {
      errorThreshold: 3,
      errorDelta: 0.01,
      errorScale: 0.5,
      every: 1,
    });
    const phClassifier = new PageHinkley({ delta: 0.01, threshold: 3 });
    const phRegressor = new PageHinkley({ delta: 0.01, threshold: 3 });
    const random = new Random(9);
    for (let i = 0; i < 400; i++) {
      const wrong = random.uniform() < (i < 200 ? 0.2 : 0.6);
      const c = classifier.onLabel(label('classifier', 'A', i, wrong ? 'down' : 'up', 'up', 0.01))!;
      phClassifier.update(wrong ? 1 : 0, T0 + (i + 1) * M5);
      expect(c.errorDrift).toStrictEqual({
        statistic: phClassifier.statistic,
        threshold: 3,
        alarm: phClassifier.status === 'alarm',
      });
      const predicted = random.normal() * 0.01;
      const actual = random.normal() * 0.01;
      const r = regressor.onLabel(label('regressor', 'A', i, predicted, actual, actual))!;
      phRegressor.update(Math.abs(predicted - actual) / 0.5, T0 + (i + 1) * M5);
      expect(r.errorDrift.statistic).toBe(phRegressor.statistic);
    }
    expect(phClassifier.status).toBe('alarm');
    // a revision replaces the window entry but is not fed to Page-Hinkley again
    const statistic = classifier.report()!.errorDrift.statistic;
    classifier.onLabel(label('classifier', 'A', 399, 'down', 'down', -0.01, 1));
    expect(classifier.report()!.errorDrift.statistic).toBe(statistic);
  });

  it('calibrates the threshold on the first labels: NaN until then, quiet on no drift, alarms on decay', () => {
    const tracker = new PerformanceTracker(identity('classifier', ['down', 'up']), {
      random: new Random(1),
      every: 100,
    });
    const random = new Random(2);
    let firstAlarm = -1;
    for (let i = 0; i < 12_000; i++) {
      const errorRate = i < 10_000 ? 0.35 : 0.6;
      const wrong = random.uniform() < errorRate;
      const record = tracker.onLabel(label('classifier', 'A', i, wrong ? 'down' : 'up', 'up', 0.001));
      if (i < 499) {
        expect(tracker.errorCalibrated).toBe(false);
        if (record !== undefined)
          expect(record.errorDrift).toStrictEqual({ statistic: NaN, threshold: NaN, alarm: false });
      }
      if (i === 499) expect(tracker.errorCalibrated).toBe(true);
      if (record?.errorDrift.alarm && firstAlarm < 0) firstAlarm = i;
    }
    const threshold = tracker.report()!.errorDrift.threshold;
    // λ for 100,000 labels on Bernoulli(0.35) errors with δ = 0.1σ: about 35 to 37 σ (σ ≈ 0.48)
    expect(threshold).toBeGreaterThan(14);
    expect(threshold).toBeLessThan(22);
    expect(firstAlarm).toBeGreaterThan(10_000);
    expect(firstAlarm).toBeLessThan(10_400);
  });

  it('retries calibration on errors without spread', () => {
    const tracker = new PerformanceTracker(identity('classifier', ['down', 'up']), {
      random: new Random(1),
      errorCalibration: 50,
    });
    for (let i = 0; i < 50; i++) tracker.onLabel(label('classifier', 'A', i, 'up', 'up', 0.01));
    expect(tracker.errorCalibrated).toBe(false);
    expect(tracker.calibrationRetries).toBe(1);
    for (let i = 50; i < 100; i++)
      tracker.onLabel(label('classifier', 'A', i, i % 3 === 0 ? 'down' : 'up', 'up', 0.01));
    expect(tracker.errorCalibrated).toBe(true);
  });

  it('calibrates on strongly autocorrelated errors (a block as long as the whole history) without throwing', () => {
    // a regressor whose error follows a slow sine: the automatic block length exceeds the 500 calibration errors
    const tracker = new PerformanceTracker(identity('regressor'), { random: new Random(3), every: 100 });
    for (let i = 0; i < 1_200; i++) {
      const actual = 0.01 * Math.sin(i / 400);
      expect(() =>
        tracker.onLabel(label('regressor', 'A', i, actual + 0.02 * Math.sin(i / 300), actual, actual)),
      ).not.toThrow();
    }
    expect(tracker.errorCalibrated).toBe(true);
    expect(Number.isFinite(tracker.report()!.errorDrift.threshold)).toBe(true);
  });

  it('counts expired, unreadable and stale labels without scoring them; refuses another model’s label', () => {
    const tracker = new PerformanceTracker(identity('classifier', ['down', 'up']), {
      errorThreshold: 5,
      every: 1,
    });
    expect(tracker.onLabel(expired('classifier', 0))).toBeUndefined();
    expect(tracker.onLabel(label('classifier', 'A', 1, 'sideways', 'up', 0.01))).toBeUndefined();
    expect(tracker.onLabel(label('classifier', 'A', 2, 'up', 'up', 0.01, 1))).toBeUndefined();
    expect(tracker.onLabel(label('classifier', 'A', 3, 'up', 'up', 0.01))).toBeDefined();
    expect(tracker.onLabel(label('classifier', 'A', 3, 'up', 'up', 0.01))).toBeUndefined();
    expect([tracker.expired, tracker.skipped, tracker.stale, tracker.size]).toEqual([1, 1, 2, 1]);
    expect(() =>
      tracker.onLabel({ ...label('classifier', 'A', 4, 'up', 'up', 0.01), model: 'other' }),
    ).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it('refuses bad options naming the key', () => {
    const bad = (model: PerformanceModel, options: PerformanceTrackerOptions, field: string): void =>
      expect(() => new PerformanceTracker(model, options)).toThrow(
        expect.objectContaining({ code: 'config_invalid', field }),
      );
    const ok = { errorThreshold: 5 };
    bad(identity('classifier'), ok, 'performance.classes');
    bad(identity('classifier', ['up', 'up']), ok, 'performance.classes');
    bad({ ...identity('regressor'), timeframe: '2m' as never }, ok, 'performance.timeframe');
    bad(identity('regressor'), { ...ok, window: 0 }, 'performance.window');
    bad(identity('regressor'), { ...ok, every: 1.5 }, 'performance.every');
    bad(identity('regressor'), { ...ok, errorScale: 0 }, 'performance.errorScale');
    bad(identity('regressor'), { ...ok, errorRunLength: 1 }, 'performance.errorRunLength');
    bad(identity('regressor'), { ...ok, errorThreshold: -1 }, 'performance.errorThreshold');
    bad(
      identity('regressor'),
      { errorCalibration: 10, random: new Random(1) },
      'performance.errorCalibration',
    );
    bad(identity('regressor'), {}, 'performance.random');
  });
});

describe('PerformanceTracker snapshot', () => {
  function feedAll(
    tracker: PerformanceTracker,
    labels: readonly LabelRecord[],
  ): (PerformanceRecord | undefined)[] {
    return labels.map((l) => tracker.onLabel(l));
  }

  it.each([
    ['classifier, calibrating', 'classifier', ['sell', 'hold', 'buy'], 60, 700],
    ['classifier, calibrated', 'classifier', ['down', 'up'], 600, 900],
    ['regressor, calibrated', 'regressor', [], 550, 1_000],
  ] as const)(
    '%s: snapshot → JSON → restore continues as the unbroken run',
    (_name, kind, classes, cut, total) => {
      const model = identity(kind, kind === 'classifier' ? classes : undefined);
      const options: PerformanceTrackerOptions = {
        window: 200,
        every: 7,
        errorCalibration: 100,
        random: new Random(4),
      };
      const labels = randomLabels(11, kind, classes, total);
      const unbroken = new PerformanceTracker(model, { ...options, random: new Random(4) });
      const expected = feedAll(unbroken, labels);
      const before = new PerformanceTracker(model, { ...options, random: new Random(4) });
      feedAll(before, labels.slice(0, cut));
      const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as PerformanceTrackerSnapshot;
      const restored = PerformanceTracker.restore(snapshot, model, { ...options, random: new Random(4) });
      expect(restored.snapshot()).toStrictEqual(before.snapshot());
      expect(feedAll(restored, labels.slice(cut))).toStrictEqual(expected.slice(cut));
      expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
    },
  );

  it('refuses a bad snapshot naming the field; a smaller window keeps the newest entries', () => {
    const model = identity('classifier', ['down', 'up']);
    const tracker = new PerformanceTracker(model, { errorThreshold: 5, window: 50 });
    feedAll(tracker, randomLabels(3, 'classifier', ['down', 'up'], 80));
    const good = (): PerformanceTrackerSnapshot =>
      JSON.parse(JSON.stringify(tracker.snapshot())) as PerformanceTrackerSnapshot;
    const smaller = PerformanceTracker.restore(good(), model, { window: 10 });
    expect(smaller.snapshot().entries).toStrictEqual(good().entries.slice(-10));
    const cases: [string, (s: PerformanceTrackerSnapshot) => void][] = [
      ['kind', (s) => ((s as { kind: string }).kind = 'mlfp.other')],
      ['model', (s) => (s.model = 'other')],
      ['modelVersion', (s) => (s.modelVersion = '2')],
      ['classes', (s) => (s.classes = ['up', 'down'])],
      ['accepted', (s) => (s.accepted = -1)],
      ['entries[0].symbol', (s) => (s.entries[0]!.symbol = '')],
      ['entries[0].predicted', (s) => (s.entries[0]!.predicted = 'sideways')],
      [
        'entries[1].ts',
        (s) => (s.entries[1] = { ...s.entries[1]!, symbol: s.entries[0]!.symbol, ts: s.entries[0]!.ts }),
      ],
      ['entries[0].realisedReturn', (s) => (s.entries[0]!.realisedReturn = 'NaN' as never)],
      ['pageHinkley.threshold', (s) => (s.pageHinkley!.threshold = -1)],
    ];
    for (const [field, corrupt] of cases) {
      const snapshot = good();
      corrupt(snapshot);
      expect(() => PerformanceTracker.restore(snapshot, model, { errorThreshold: 5 }), field).toThrow(
        expect.objectContaining({ code: 'snapshot_invalid', field }),
      );
    }
    const calibrating = new PerformanceTracker(model, { random: new Random(1) });
    calibrating.onLabel(label('classifier', 'A', 0, 'up', 'down', -0.01));
    const partial = JSON.parse(JSON.stringify(calibrating.snapshot())) as PerformanceTrackerSnapshot;
    partial.calibrationValues = [0.5];
    expect(() => PerformanceTracker.restore(partial, model, { random: new Random(1) })).toThrow(
      expect.objectContaining({ code: 'snapshot_invalid', field: 'calibrationValues' }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { Random } from '../../streams/random.js';
import {
  PageHinkley,
  runLengthTable,
  thresholdForRunLength,
  type PageHinkleySnapshot,
  type RunLengthRow,
} from './page-hinkley.js';

function bernoulli(seed: number, p: number): () => number {
  const random = new Random(seed);
  return () => (random.uniform() < p ? 1 : 0);
}

/** m_t − min m_s recomputed from the whole prefix, the textbook way. */
function batchStatistic(values: readonly number[], delta: number): number {
  let mean = 0;
  let cumulative = 0;
  let minimum = 0;
  for (let i = 0; i < values.length; i++) {
    mean += (values[i]! - mean) / (i + 1);
    cumulative += values[i]! - mean - delta;
    minimum = Math.min(minimum, cumulative);
  }
  return cumulative - minimum;
}

describe('PageHinkley', () => {
  it('equals the batch statistic at every step and alarms on an upward change only', () => {
    const next = bernoulli(1, 0.3);
    const values = Array.from({ length: 600 }, (_, t) => (t < 400 ? next() : Math.min(1, next() + next())));
    const detector = new PageHinkley({ delta: 0.05, threshold: 8 });
    let firstAlarm = -1;
    let crossingStart = -1;
    let previous = false;
    for (let t = 0; t < values.length; t++) {
      const alarm = detector.update(values[t]!, t * 60_000);
      expect(detector.statistic).toBe(batchStatistic(values.slice(0, t + 1), 0.05));
      if (alarm && firstAlarm < 0) firstAlarm = t;
      if (alarm && !previous) crossingStart = t;
      previous = alarm;
    }
    expect(firstAlarm).toBeGreaterThan(400);
    expect(firstAlarm).toBeLessThan(520);
    expect(detector.status).toBe('alarm');
    // alarmAtMs is when the current crossing began
    expect(detector.alarmAtMs).toBe(crossingStart * 60_000);

    const down = new PageHinkley({ delta: 0.05, threshold: 8 });
    const high = bernoulli(2, 0.6);
    for (let t = 0; t < 2_000; t++) down.update(t < 500 ? high() : 0, t);
    expect(down.status).toBe('ok');
  });

  it('warms up for minCount values and skips non-finite ones', () => {
    const detector = new PageHinkley({ delta: 0, threshold: 0.5, minCount: 3 });
    expect(detector.update(0, 1)).toBe(false);
    expect(detector.update(Number.NaN, 2)).toBe(false);
    expect(detector.update(5, 3)).toBe(false);
    expect(detector.status).toBe('warming');
    expect(detector.update(5, 4)).toBe(true);
    expect(detector.skipped).toBe(1);
    expect(() => new PageHinkley({ delta: -1, threshold: 1 })).toThrow(
      expect.objectContaining({ code: 'config_invalid', field: 'pageHinkley.delta' }),
    );
  });

  it('snapshot → JSON → restore continues bit for bit; bad snapshots are refused naming the field', () => {
    const next = bernoulli(3, 0.4);
    const unbroken = new PageHinkley({ delta: 0.02, threshold: 20 });
    for (let t = 0; t < 777; t++) unbroken.update(next(), t);
    const good = JSON.parse(JSON.stringify(unbroken.snapshot())) as PageHinkleySnapshot;
    const restored = PageHinkley.restore(good);
    for (let t = 0; t < 500; t++) {
      const x = next();
      expect(restored.update(x, t)).toBe(unbroken.update(x, t));
    }
    expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
    unbroken.reset();
    expect(unbroken.snapshot()).toStrictEqual(new PageHinkley({ delta: 0.02, threshold: 20 }).snapshot());

    const cases: Array<[string, (s: PageHinkleySnapshot) => unknown]> = [
      ['kind', (s) => ({ ...s, kind: 'mlfp.drift.psi' })],
      ['version', (s) => ({ ...s, version: 9 })],
      ['threshold', (s) => ({ ...s, threshold: 0 })],
      ['mean', (s) => ({ ...s, mean: 'NaN' })],
      ['minimum', (s) => ({ ...s, minimum: s.cumulative + 1 })],
      ['status', (s) => ({ ...s, status: 'alarm' })],
      ['status', (s) => ({ ...s, status: 'warming' })],
      ['count', (s) => ({ ...s, count: 1.5 })],
    ];
    for (const [field, corrupt] of cases)
      expect(() => PageHinkley.restore(corrupt(good)), field).toThrow(
        expect.objectContaining({ code: 'snapshot_invalid', field }),
      );
  });
});

describe('run-length table', () => {
  it('interpolates ln(run length) between bracketing rows and extrapolates beyond', () => {
    const table: RunLengthRow[] = [1, 2, 3, 4].map((threshold) => ({
      threshold,
      meanRunLength: Math.exp(threshold),
      standardError: 0,
      censored: 0,
      runs: 10,
    }));
    expect(thresholdForRunLength(table, Math.exp(2.5))).toBeCloseTo(2.5, 12);
    expect(thresholdForRunLength(table, Math.exp(6))).toBeCloseTo(6, 12);
    expect(thresholdForRunLength(table, 1)).toBe(1);
    // censored rows are lower bounds, not used
    const censored = [
      ...table.slice(0, 1),
      { threshold: 9, meanRunLength: 50, standardError: 1, censored: 3, runs: 10 },
    ];
    // with a standard error, the row counts at mean − 2 se: a higher threshold for the same target
    const noisy = table.map((row) => ({ ...row, standardError: row.meanRunLength * 0.1 }));
    expect(thresholdForRunLength(noisy, Math.exp(2.5))).toBeGreaterThan(2.6);
    expect(thresholdForRunLength(noisy, Math.exp(2.5), 0)).toBeCloseTo(2.5, 12);
    expect(() => thresholdForRunLength(censored, 100)).toThrow(expect.objectContaining({ field: 'table' }));
  });

  it('a threshold read from the table gives about its target run length on fresh streams', () => {
    const target = 300;
    const table = runLengthTable(bernoulli(4, 0.3), {
      delta: 0.05,
      thresholds: [1, 2, 3, 4, 5, 6, 8, 10],
      runs: 150,
      maxLength: 20 * target,
    });
    const lengths = table.map((row) => row.meanRunLength);
    expect(lengths).toStrictEqual([...lengths].sort((a, b) => a - b));
    const threshold = thresholdForRunLength(table, target);
    const next = bernoulli(5, 0.3);
    let total = 0;
    const runs = 150;
    for (let run = 0; run < runs; run++) {
      const detector = new PageHinkley({ delta: 0.05, threshold });
      let t = 0;
      while (!detector.update(next(), t) && t < 20 * target) t++;
      total += t + 1;
    }
    const measured = total / runs;
    // the table is read at mean − 2 se, so the measured run length sits at or a little above the target
    expect(measured).toBeGreaterThan(0.85 * target);
    expect(measured).toBeLessThan(1.6 * target);
  });
});

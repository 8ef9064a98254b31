// Page-Hinkley test for an upward change in the mean of a stream (the 0/1 error of a classifier, or
// |error|/ATR of a regressor): m_t = Σ (x_i − x̄_i − δ) with x̄_i the running mean, alarm while
// m_t − min_{s≤t} m_s > λ. The threshold λ is read from a run-length table (simulated on no-drift input,
// e.g. a block bootstrap of the error history) for a target expected run length, not guessed.
// O(1) per value, no allocation; the caller passes each value's time.

import { SnapshotReader, encodeNumber, type SnapshotNumber } from '../../indicators/snapshot-codec.js';
import { MlfpError } from '../../errors.js';
import { asSnapshotError, checkInteger, checkNumber } from './checks.js';

export interface PageHinkleyOptions {
  /** tolerated increase of the mean before the sum grows (e.g. half the smallest change worth detecting) */
  delta: number;
  /** alarm threshold λ on m_t − min m_s: from thresholdForRunLength */
  threshold: number;
  /** values before an alarm can be raised (default 30) */
  minCount?: number;
}

export type PageHinkleyStatus = 'warming' | 'ok' | 'alarm';
const STATUSES: readonly PageHinkleyStatus[] = ['warming', 'ok', 'alarm'];
const DEFAULT_MIN_COUNT = 30;

export interface PageHinkleySnapshot {
  kind: 'mlfp.drift.page-hinkley';
  version: 1;
  delta: number;
  threshold: number;
  minCount: number;
  count: number;
  skipped: number;
  mean: number;
  cumulative: number;
  minimum: number;
  status: PageHinkleyStatus;
  alarmAtMs: SnapshotNumber;
  lastTimeMs: SnapshotNumber;
}

export class PageHinkley {
  readonly delta: number;
  readonly threshold: number;
  readonly minCount: number;

  status: PageHinkleyStatus = 'warming';
  /** time of the value that started the current alarm (NaN when not alarming) */
  alarmAtMs = Number.NaN;
  lastTimeMs = Number.NaN;
  /** non-finite values passed and not used */
  skipped = 0;

  private count = 0;
  private mean = 0;
  private cumulative = 0;
  private minimum = 0;

  constructor(options: PageHinkleyOptions) {
    this.delta = checkNumber('pageHinkley.delta', options.delta, 0, 1e12);
    this.threshold = checkNumber('pageHinkley.threshold', options.threshold, 0, 1e15, true);
    this.minCount = checkInteger('pageHinkley.minCount', options.minCount ?? DEFAULT_MIN_COUNT, 1);
  }

  /** m_t − min m_s: what the threshold applies to. */
  get statistic(): number {
    return this.cumulative - this.minimum;
  }

  /** Running mean of the values so far. */
  get runningMean(): number {
    return this.count === 0 ? Number.NaN : this.mean;
  }

  get size(): number {
    return this.count;
  }

  /** Adds one value observed at `timeMs`; true while the statistic is over the threshold. */
  update(x: number, timeMs: number): boolean {
    if (!Number.isFinite(x)) {
      this.skipped++;
      return false;
    }
    const count = ++this.count;
    this.mean += (x - this.mean) / count;
    const cumulative = this.cumulative + (x - this.mean - this.delta);
    this.cumulative = cumulative;
    if (cumulative < this.minimum) this.minimum = cumulative;
    this.lastTimeMs = timeMs;
    if (count < this.minCount) return false;
    if (cumulative - this.minimum > this.threshold) {
      if (this.status !== 'alarm') this.alarmAtMs = timeMs;
      this.status = 'alarm';
      return true;
    }
    this.status = 'ok';
    this.alarmAtMs = Number.NaN;
    return false;
  }

  reset(): void {
    this.count = 0;
    this.mean = 0;
    this.cumulative = 0;
    this.minimum = 0;
    this.skipped = 0;
    this.status = 'warming';
    this.alarmAtMs = Number.NaN;
    this.lastTimeMs = Number.NaN;
  }

  snapshot(): PageHinkleySnapshot {
    return {
      kind: 'mlfp.drift.page-hinkley',
      version: 1,
      delta: this.delta,
      threshold: this.threshold,
      minCount: this.minCount,
      count: this.count,
      skipped: this.skipped,
      mean: this.mean,
      cumulative: this.cumulative,
      minimum: this.minimum,
      status: this.status,
      alarmAtMs: encodeNumber(this.alarmAtMs),
      lastTimeMs: encodeNumber(this.lastTimeMs),
    };
  }

  /** Rebuilds a detector from `snapshot()`; snapshot_invalid names the bad field. */
  static restore(snapshot: unknown): PageHinkley {
    const reader: SnapshotReader = new SnapshotReader(snapshot, 'mlfp.drift.page-hinkley', 1);
    const options: PageHinkleyOptions = {
      delta: reader.finite('delta', 0, 1e12),
      threshold: reader.finite('threshold', Number.MIN_VALUE, 1e15),
      minCount: reader.integer('minCount', 1),
    };
    let detector: PageHinkley;
    try {
      detector = new PageHinkley(options);
    } catch (error) {
      throw asSnapshotError('mlfp.drift.page-hinkley', error);
    }
    detector.count = reader.integer('count', 0);
    detector.skipped = reader.integer('skipped', 0);
    detector.mean = reader.finite('mean', -Number.MAX_VALUE, Number.MAX_VALUE);
    detector.cumulative = reader.finite('cumulative', -Number.MAX_VALUE, Number.MAX_VALUE);
    detector.minimum = reader.finite('minimum', -Number.MAX_VALUE, 0);
    if (detector.minimum > detector.cumulative) reader.fail('minimum', 'is above the cumulative sum');
    detector.status = reader.choice('status', STATUSES);
    const warming = detector.count < detector.minCount;
    if (warming !== (detector.status === 'warming'))
      reader.fail('status', `does not match count ${detector.count} and minCount ${detector.minCount}`);
    if ((detector.status === 'alarm') !== detector.statistic > detector.threshold)
      reader.fail('status', 'does not match the statistic and the threshold');
    detector.alarmAtMs = reader.number('alarmAtMs');
    detector.lastTimeMs = reader.number('lastTimeMs');
    return detector;
  }
}

export interface RunLengthRow {
  threshold: number;
  /** mean values to the first alarm; a lower bound when some runs were censored */
  meanRunLength: number;
  /** standard error of that mean */
  standardError: number;
  /** runs that reached maxLength without an alarm (counted as maxLength) */
  censored: number;
  runs: number;
}

export interface RunLengthTableOptions {
  delta: number;
  /** increasing thresholds to tabulate */
  thresholds: readonly number[];
  runs: number;
  /** values per run at most */
  maxLength: number;
  minCount?: number;
}

/**
 * Mean run length to the first alarm of Page-Hinkley for each threshold, on `runs` streams drawn from
 * `next` (no-drift input: a block bootstrap of history, or a simulator). One stream per run serves every
 * threshold, since the statistic's path does not depend on the threshold.
 */
export function runLengthTable(next: () => number, options: RunLengthTableOptions): RunLengthRow[] {
  const thresholds = options.thresholds;
  if (thresholds.length === 0)
    throw new MlfpError('config_invalid', 'runLengthTable needs thresholds', { field: 'thresholds' });
  for (let i = 0; i < thresholds.length; i++) {
    checkNumber('thresholds', thresholds[i] as number, 0, 1e15, true);
    if (i > 0 && !((thresholds[i] as number) > (thresholds[i - 1] as number)))
      throw new MlfpError('config_invalid', 'thresholds must increase', {
        field: 'thresholds',
        value: thresholds,
      });
  }
  const runs = checkInteger('runs', options.runs, 1);
  const maxLength = checkInteger('maxLength', options.maxLength, 1);
  const minCount = checkInteger('minCount', options.minCount ?? DEFAULT_MIN_COUNT, 1);
  const delta = checkNumber('delta', options.delta, 0, 1e12);
  const totals = new Float64Array(thresholds.length);
  const squares = new Float64Array(thresholds.length);
  const censored = new Int32Array(thresholds.length);
  for (let run = 0; run < runs; run++) {
    let crossed = 0;
    let count = 0;
    let mean = 0;
    let cumulative = 0;
    let minimum = 0;
    while (crossed < thresholds.length && count < maxLength) {
      const x = next();
      count++;
      mean += (x - mean) / count;
      cumulative += x - mean - delta;
      if (cumulative < minimum) minimum = cumulative;
      if (count < minCount) continue;
      const statistic = cumulative - minimum;
      while (crossed < thresholds.length && statistic > (thresholds[crossed] as number)) {
        totals[crossed] = (totals[crossed] as number) + count;
        squares[crossed] = (squares[crossed] as number) + count * count;
        crossed++;
      }
    }
    for (let i = crossed; i < thresholds.length; i++) {
      totals[i] = (totals[i] as number) + maxLength;
      squares[i] = (squares[i] as number) + maxLength * maxLength;
      censored[i] = (censored[i] as number) + 1;
    }
  }
  return thresholds.map((threshold, i) => {
    const mean = (totals[i] as number) / runs;
    const variance = runs > 1 ? Math.max(0, ((squares[i] as number) - runs * mean * mean) / (runs - 1)) : 0;
    return {
      threshold,
      meanRunLength: mean,
      standardError: Math.sqrt(variance / runs),
      censored: censored[i] as number,
      runs,
    };
  });
}

/**
 * The threshold whose mean run length is `targetErt`: ln(run length) interpolated linearly in λ between the
 * uncensored rows that bracket the target, or extrapolated along a least-squares line through the upper half
 * of the uncensored rows (run lengths grow about exponentially in λ). Each row's run length is taken at
 * mean − confidence·standard error (default 2), so a table's simulation noise errs toward longer runs.
 */
export function thresholdForRunLength(
  table: readonly RunLengthRow[],
  targetErt: number,
  confidence = 2,
): number {
  checkNumber('targetErt', targetErt, 1, Number.MAX_VALUE);
  checkNumber('confidence', confidence, 0, 10);
  const rows = table
    .map((row) => ({ ...row, meanRunLength: row.meanRunLength - confidence * row.standardError }))
    .filter((row) => row.censored === 0 && row.meanRunLength > 0);
  if (rows.length < 2)
    throw new MlfpError('config_invalid', 'run-length table has fewer than 2 uncensored rows', {
      field: 'table',
      value: rows.length,
    });
  const target = Math.log(targetErt);
  const first = rows[0] as RunLengthRow;
  if (targetErt <= first.meanRunLength) return first.threshold;
  for (let i = 1; i < rows.length; i++) {
    const low = rows[i - 1] as RunLengthRow;
    const high = rows[i] as RunLengthRow;
    if (targetErt <= high.meanRunLength && high.meanRunLength > low.meanRunLength) {
      const a = Math.log(low.meanRunLength);
      const b = Math.log(high.meanRunLength);
      return low.threshold + ((target - a) * (high.threshold - low.threshold)) / (b - a);
    }
  }
  const upper = rows.slice(Math.floor(rows.length / 2));
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const row of upper) {
    const y = Math.log(row.meanRunLength);
    sx += row.threshold;
    sy += y;
    sxx += row.threshold * row.threshold;
    sxy += row.threshold * y;
  }
  const n = upper.length;
  const slope = (sxy - (sx * sy) / n) / (sxx - (sx * sx) / n);
  if (!(slope > 0))
    throw new MlfpError('config_invalid', 'run-length table does not grow with the threshold', {
      field: 'table',
    });
  const intercept = sy / n - slope * (sx / n);
  return (target - intercept) / slope;
}

// Historical volatility: sample std dev (÷(period−1)) of the last `period` log returns × sqrt(periodsPerYear).
// O(1) per bar: Welford mean/M2 on the return ring, re-summed exactly (two-pass) once per `period` bars and
// whenever M2 collapses (a large return leaving), so it stays within ~1e-10 of a two-pass per window.

import { checkAdjustmentFactors } from './adjustment.js';
import { MlfpError } from '../errors.js';
import { checkPeriod, MAX_PERIOD } from './parameters.js';
import { pushRollingVariance, ROLLING_VARIANCE_STATS } from './rolling-variance.js';
import { encodeNumber, encodeNumbers, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface HistoricalVolatilitySnapshot {
  kind: 'historical-volatility';
  version: 1;
  period: number;
  periodsPerYear: number;
  count: number;
  previousClose: SnapshotNumber;
  current: SnapshotNumber;
  logReturns: SnapshotNumber[];
  /** rolling statistics of the log returns: mean, M2, peak M2, replacements since the exact re-sum */
  statistics: SnapshotNumber[];
}

const MAX_PERIODS_PER_YEAR = 1e9;

export class HistoricalVolatility {
  readonly warmUp: number;
  private readonly annualiser: number;
  /** the log-return ring (bar t's return in slot t % period), then its rolling statistics */
  private readonly state: Float64Array;
  private count = 0;
  private head = 0;
  private previousClose = Number.NaN;
  private current = Number.NaN;

  constructor(
    readonly period: number,
    readonly periodsPerYear: number,
  ) {
    checkPeriod('period', period, 2);
    if (!Number.isFinite(periodsPerYear) || periodsPerYear <= 0 || periodsPerYear > MAX_PERIODS_PER_YEAR)
      throw new MlfpError('bad_argument', 'periodsPerYear must be a positive finite number', {
        field: 'periodsPerYear',
        value: periodsPerYear,
      });
    this.warmUp = period;
    this.annualiser = Math.sqrt(periodsPerYear);
    this.state = new Float64Array(period + ROLLING_VARIANCE_STATS);
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  get value(): number | undefined {
    return this.count > this.warmUp ? this.current : undefined;
  }

  update(close: number): number | undefined {
    // bar t's log return goes to slot t % period, the layout FeatureSet uses, so both compute the same doubles
    const head = this.head;
    const period = this.period;
    this.head = head + 1 === period ? 0 : head + 1;
    const previousClose = this.previousClose;
    this.previousClose = close;
    const count = this.count++;
    if (count === 0) return undefined;
    const filled = count - 1 < period ? count - 1 : period;
    const m2 = pushRollingVariance(
      this.state,
      0,
      period,
      period,
      head,
      filled,
      Math.log(close / previousClose),
    );
    if (count < period) return undefined;
    const volatility = this.annualiser * Math.sqrt(m2 / (period - 1));
    this.current = volatility;
    return volatility;
  }

  reset(): void {
    this.state.fill(0);
    this.count = 0;
    this.head = 0;
    this.previousClose = Number.NaN;
    this.current = Number.NaN;
  }

  /** Log returns are scale-free; only the previous close (the next return's base) is rescaled. */
  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    this.previousClose *= priceFactor;
  }

  snapshot(): HistoricalVolatilitySnapshot {
    return {
      kind: 'historical-volatility',
      version: 1,
      period: this.period,
      periodsPerYear: this.periodsPerYear,
      count: this.count,
      previousClose: encodeNumber(this.previousClose),
      current: encodeNumber(this.current),
      logReturns: encodeNumbers(this.state, 0, this.period),
      statistics: encodeNumbers(this.state, this.period),
    };
  }

  static restore(snapshot: unknown): HistoricalVolatility {
    const reader = new SnapshotReader(snapshot, 'historical-volatility', 1);
    const volatility = new HistoricalVolatility(
      reader.integer('period', 2, MAX_PERIOD),
      reader.finite('periodsPerYear', Number.MIN_VALUE, MAX_PERIODS_PER_YEAR),
    );
    volatility.count = reader.integer('count', 0);
    volatility.head = volatility.count % volatility.period;
    volatility.previousClose = reader.number('previousClose');
    volatility.current = reader.number('current');
    reader.numbers('logReturns', volatility.period, volatility.state);
    reader.numbers('statistics', ROLLING_VARIANCE_STATS, volatility.state, volatility.period);
    return volatility;
  }
}

// Historical volatility: sample std dev (÷(period−1)) of the last `period` log returns × sqrt(periodsPerYear).
// Computed two-pass over the return ring (mean, then squared deviations) on every bar: O(period), with no
// running sum whose rounding could outlive a large return leaving the window.

import { checkAdjustmentFactors } from './adjustment.js';
import { MlfpError } from '../errors.js';
import { checkPeriod, MAX_PERIOD } from './parameters.js';
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
}

const MAX_PERIODS_PER_YEAR = 1e9;

/**
 * Sample std dev of ring[0..length) read in chronological order starting at `oldest` (two passes).
 * Shared with FeatureSet so both compute exactly the same doubles.
 */
export function ringSampleDeviation(
  ring: Float64Array,
  start: number,
  length: number,
  oldest: number,
): number {
  const end = start + length;
  const wrap = start + oldest;
  let sum = 0;
  for (let i = wrap; i < end; i++) sum += ring[i] as number;
  for (let i = start; i < wrap; i++) sum += ring[i] as number;
  const mean = sum / length;
  let squares = 0;
  for (let i = wrap; i < end; i++) {
    const deviation = (ring[i] as number) - mean;
    squares += deviation * deviation;
  }
  for (let i = start; i < wrap; i++) {
    const deviation = (ring[i] as number) - mean;
    squares += deviation * deviation;
  }
  return Math.sqrt(squares / (length - 1));
}

export class HistoricalVolatility {
  readonly warmUp: number;
  private readonly annualiser: number;
  private readonly logReturns: Float64Array;
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
    this.logReturns = new Float64Array(period);
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  get value(): number | undefined {
    return this.count > this.warmUp ? this.current : undefined;
  }

  update(close: number): number | undefined {
    const previousClose = this.previousClose;
    this.previousClose = close;
    if (this.count++ === 0) return undefined;
    let head = this.head;
    this.logReturns[head] = Math.log(close / previousClose);
    if (++head === this.period) head = 0;
    this.head = head;
    if (this.count <= this.warmUp) return undefined;
    const volatility = this.annualiser * ringSampleDeviation(this.logReturns, 0, this.period, head);
    this.current = volatility;
    return volatility;
  }

  reset(): void {
    this.logReturns.fill(0);
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
      logReturns: encodeNumbers(this.logReturns),
    };
  }

  static restore(snapshot: unknown): HistoricalVolatility {
    const reader = new SnapshotReader(snapshot, 'historical-volatility', 1);
    const volatility = new HistoricalVolatility(
      reader.integer('period', 2, MAX_PERIOD),
      reader.finite('periodsPerYear', Number.MIN_VALUE, MAX_PERIODS_PER_YEAR),
    );
    volatility.count = reader.integer('count', 0);
    volatility.head = volatility.count === 0 ? 0 : (volatility.count - 1) % volatility.period;
    volatility.previousClose = reader.number('previousClose');
    volatility.current = reader.number('current');
    reader.numbers('logReturns', volatility.period, volatility.logReturns);
    return volatility;
  }
}

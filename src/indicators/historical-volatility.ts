// Historical volatility: sample std dev (÷(period−1)) of the last `period` log returns × sqrt(periodsPerYear).
// Computed two-pass over the return ring on every bar (O(period) = O(21)): no running sum whose rounding
// could outlive a large return leaving the window (a running Σx² would put ~1e-8 into a flat market's 0).

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
 * Sample std dev of ring[start..start+length), two passes (mean, then squared deviations), with no running
 * sums: exact to a few ulps whatever left the window. Three independent accumulators per pass (storage
 * order, not time order) break the add-latency chain, ~3× faster than one; the order changes only the last
 * bits. Shared with FeatureSet so both produce the same doubles.
 */
export function ringSampleDeviation(ring: Float64Array, start: number, length: number): number {
  const end = start + length;
  const blockEnd = start + length - (length % 3);
  let sum0 = 0;
  let sum1 = 0;
  let sum2 = 0;
  let i = start;
  for (; i < blockEnd; i += 3) {
    sum0 += ring[i] as number;
    sum1 += ring[i + 1] as number;
    sum2 += ring[i + 2] as number;
  }
  for (; i < end; i++) sum0 += ring[i] as number;
  const mean = (sum0 + sum1 + sum2) / length;
  let squares0 = 0;
  let squares1 = 0;
  let squares2 = 0;
  for (i = start; i < blockEnd; i += 3) {
    const deviation0 = (ring[i] as number) - mean;
    const deviation1 = (ring[i + 1] as number) - mean;
    const deviation2 = (ring[i + 2] as number) - mean;
    squares0 += deviation0 * deviation0;
    squares1 += deviation1 * deviation1;
    squares2 += deviation2 * deviation2;
  }
  for (; i < end; i++) {
    const deviation = (ring[i] as number) - mean;
    squares0 += deviation * deviation;
  }
  return Math.sqrt((squares0 + squares1 + squares2) / (length - 1));
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
    // bar t's log return goes to slot t % period, the layout FeatureSet uses, so both sum in the same order
    const head = this.head;
    this.head = head + 1 === this.period ? 0 : head + 1;
    const previousClose = this.previousClose;
    this.previousClose = close;
    if (this.count++ === 0) return undefined;
    this.logReturns[head] = Math.log(close / previousClose);
    if (this.count <= this.warmUp) return undefined;
    const volatility = this.annualiser * ringSampleDeviation(this.logReturns, 0, this.period);
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
    volatility.head = volatility.count % volatility.period;
    volatility.previousClose = reader.number('previousClose');
    volatility.current = reader.number('current');
    reader.numbers('logReturns', volatility.period, volatility.logReturns);
    return volatility;
  }
}

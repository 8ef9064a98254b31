// Average true range as TA_ATR: the first true range is at bar 1 (it needs the previous close); the first
// ATR, at bar `period`, is the mean of TR[1..period]; then atr = (atr·(period−1) + tr)/period.

import { checkAdjustmentFactors } from './adjustment.js';
import { checkPeriod, MAX_PERIOD } from './parameters.js';
import { encodeNumber, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface AtrSnapshot {
  kind: 'atr';
  version: 1;
  period: number;
  count: number;
  previousClose: SnapshotNumber;
  atr: SnapshotNumber;
}

/** TA_TRANGE: the largest of high−low, |previousClose−high| and |previousClose−low|. */
export function trueRange(high: number, low: number, previousClose: number): number {
  let greatest = high - low;
  const toHigh = Math.abs(previousClose - high);
  if (toHigh > greatest) greatest = toHigh;
  const toLow = Math.abs(previousClose - low);
  if (toLow > greatest) greatest = toLow;
  return greatest;
}

export class Atr {
  readonly warmUp: number;
  private count = 0;
  private previousClose = Number.NaN;
  /** the sum of true ranges until bar `period`, then Wilder's average */
  private atr = 0;

  constructor(readonly period = 14) {
    checkPeriod('period', period, 1);
    this.warmUp = period;
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  get value(): number | undefined {
    return this.count > this.warmUp ? this.atr : undefined;
  }

  update(high: number, low: number, close: number): number | undefined {
    const index = this.count++;
    const previousClose = this.previousClose;
    this.previousClose = close;
    if (index === 0) return undefined;
    const range = trueRange(high, low, previousClose);
    const period = this.period;
    if (index > period) {
      const atr = (this.atr * (period - 1) + range) / period;
      this.atr = atr;
      return atr;
    }
    this.atr += range;
    if (index < period) return undefined;
    this.atr /= period;
    return this.atr;
  }

  reset(): void {
    this.count = 0;
    this.previousClose = Number.NaN;
    this.atr = 0;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    this.previousClose *= priceFactor;
    this.atr *= priceFactor;
  }

  snapshot(): AtrSnapshot {
    return {
      kind: 'atr',
      version: 1,
      period: this.period,
      count: this.count,
      previousClose: encodeNumber(this.previousClose),
      atr: encodeNumber(this.atr),
    };
  }

  static restore(snapshot: unknown): Atr {
    const reader = new SnapshotReader(snapshot, 'atr', 1);
    const atr = new Atr(reader.integer('period', 1, MAX_PERIOD));
    atr.count = reader.integer('count', 0);
    atr.previousClose = reader.number('previousClose');
    atr.atr = reader.number('atr');
    return atr;
  }
}

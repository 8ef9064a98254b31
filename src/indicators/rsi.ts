// Wilder's RSI exactly as TA_RSI: gains and losses of the first `period` changes are averaged, then
// smoothed by avg = (avg·(period−1) + x)/period; RSI = 100·(gain/(gain+loss)), 0 when gain+loss ≈ 0.

import { checkAdjustmentFactors } from './adjustment.js';
import { checkPeriod, MAX_PERIOD, TA_EPSILON } from './parameters.js';
import { encodeNumber, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface RsiSnapshot {
  kind: 'rsi';
  version: 1;
  period: number;
  count: number;
  previous: SnapshotNumber;
  gain: SnapshotNumber;
  loss: SnapshotNumber;
  current: SnapshotNumber;
}

export class Rsi {
  readonly warmUp: number;
  private count = 0;
  private previous = Number.NaN;
  /** during warm-up the running sums of gains and losses, then Wilder's averages */
  private gain = 0;
  private loss = 0;
  private current = Number.NaN;

  constructor(readonly period: number) {
    checkPeriod('period', period, 2);
    this.warmUp = period;
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  get value(): number | undefined {
    return this.count > this.warmUp ? this.current : undefined;
  }

  update(x: number): number | undefined {
    const count = ++this.count;
    const change = x - this.previous;
    this.previous = x;
    if (count === 1) return undefined;
    const period = this.period;
    if (count > period + 1) {
      this.gain *= period - 1;
      this.loss *= period - 1;
    }
    if (change < 0) this.loss -= change;
    else this.gain += change;
    if (count <= period) return undefined;
    this.gain /= period;
    this.loss /= period;
    const total = this.gain + this.loss;
    const rsi = total > -TA_EPSILON && total < TA_EPSILON ? 0 : 100 * (this.gain / total);
    this.current = rsi;
    return rsi;
  }

  reset(): void {
    this.count = 0;
    this.previous = Number.NaN;
    this.gain = 0;
    this.loss = 0;
    this.current = Number.NaN;
  }

  /** Averages scale with prices; the RSI itself is scale-free and stays as it is. */
  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    this.previous *= priceFactor;
    this.gain *= priceFactor;
    this.loss *= priceFactor;
  }

  snapshot(): RsiSnapshot {
    return {
      kind: 'rsi',
      version: 1,
      period: this.period,
      count: this.count,
      previous: encodeNumber(this.previous),
      gain: encodeNumber(this.gain),
      loss: encodeNumber(this.loss),
      current: encodeNumber(this.current),
    };
  }

  static restore(snapshot: unknown): Rsi {
    const reader = new SnapshotReader(snapshot, 'rsi', 1);
    const rsi = new Rsi(reader.integer('period', 2, MAX_PERIOD));
    rsi.count = reader.integer('count', 0);
    rsi.previous = reader.number('previous');
    rsi.gain = reader.number('gain');
    rsi.loss = reader.number('loss');
    rsi.current = reader.number('current');
    return rsi;
  }
}

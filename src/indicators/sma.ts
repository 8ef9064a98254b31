// Simple moving average with TA-Lib's running sum (add the new value, divide, then drop the oldest), so
// every value is bit-identical to TA_SMA, drift included.

import { checkAdjustmentFactors, INPUT_SCALES, type InputScale } from './adjustment.js';
import { checkPeriod, MAX_PERIOD } from './parameters.js';
import { encodeNumber, encodeNumbers, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface SmaSnapshot {
  kind: 'sma';
  version: 1;
  period: number;
  scale: InputScale;
  count: number;
  sum: SnapshotNumber;
  current: SnapshotNumber;
  window: SnapshotNumber[];
}

export class Sma {
  /** Inputs consumed before the first value (TA-Lib's lookback). */
  readonly warmUp: number;
  private readonly window: Float64Array;
  private count = 0;
  /** next slot to write; after a write, the slot after it holds the oldest value of the window */
  private head = 0;
  /** sum of the newest period−1 inputs between updates (TA-Lib subtracts the oldest right after dividing) */
  private sum = 0;
  private current = Number.NaN;

  constructor(
    readonly period: number,
    readonly scale: InputScale = 'price',
  ) {
    checkPeriod('period', period, 1);
    this.warmUp = period - 1;
    this.window = new Float64Array(period);
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  get value(): number | undefined {
    return this.count > this.warmUp ? this.current : undefined;
  }

  update(x: number): number | undefined {
    const window = this.window;
    let head = this.head;
    window[head] = x;
    this.sum += x;
    if (++head === this.period) head = 0;
    this.head = head;
    if (++this.count <= this.warmUp) return undefined;
    const mean = this.sum / this.period;
    this.sum -= window[head] as number;
    this.current = mean;
    return mean;
  }

  reset(): void {
    this.window.fill(0);
    this.count = 0;
    this.head = 0;
    this.sum = 0;
    this.current = Number.NaN;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    const factor = this.scale === 'price' ? priceFactor : volumeFactor;
    for (let i = 0; i < this.window.length; i++) this.window[i] = (this.window[i] as number) * factor;
    this.sum *= factor;
    this.current *= factor;
  }

  snapshot(): SmaSnapshot {
    return {
      kind: 'sma',
      version: 1,
      period: this.period,
      scale: this.scale,
      count: this.count,
      sum: encodeNumber(this.sum),
      current: encodeNumber(this.current),
      window: encodeNumbers(this.window),
    };
  }

  static restore(snapshot: unknown): Sma {
    const reader = new SnapshotReader(snapshot, 'sma', 1);
    const sma = new Sma(reader.integer('period', 1, MAX_PERIOD), reader.choice('scale', INPUT_SCALES));
    sma.count = reader.integer('count', 0);
    sma.head = sma.count % sma.period;
    sma.sum = reader.number('sum');
    sma.current = reader.number('current');
    reader.numbers('window', sma.period, sma.window);
    return sma;
  }
}

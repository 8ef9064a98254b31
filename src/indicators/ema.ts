// Exponential moving average as TA-Lib computes it: the first value (after `period` inputs) is their
// arithmetic mean, then `ema = (x − ema)·k + ema` with k = 2/(period+1).

import { checkAdjustmentFactors, INPUT_SCALES, type InputScale } from './adjustment.js';
import { checkPeriod, MAX_PERIOD } from './parameters.js';
import { encodeNumber, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface EmaSnapshot {
  kind: 'ema';
  version: 1;
  period: number;
  scale: InputScale;
  count: number;
  seedSum: SnapshotNumber;
  ema: SnapshotNumber;
}

export class Ema {
  readonly warmUp: number;
  /** smoothing factor 2/(period+1), TA-Lib's PER_TO_K */
  readonly k: number;
  private count = 0;
  /** sum of the first `period` inputs, the seed */
  private seedSum = 0;
  private ema = Number.NaN;

  constructor(
    readonly period: number,
    readonly scale: InputScale = 'price',
  ) {
    checkPeriod('period', period, 1);
    this.warmUp = period - 1;
    this.k = 2 / (period + 1);
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  get value(): number | undefined {
    return this.count > this.warmUp ? this.ema : undefined;
  }

  update(x: number): number | undefined {
    const count = ++this.count;
    if (count > this.period) {
      const ema = (x - this.ema) * this.k + this.ema;
      this.ema = ema;
      return ema;
    }
    this.seedSum += x;
    if (count < this.period) return undefined;
    this.ema = this.seedSum / this.period;
    return this.ema;
  }

  reset(): void {
    this.count = 0;
    this.seedSum = 0;
    this.ema = Number.NaN;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    const factor = this.scale === 'price' ? priceFactor : volumeFactor;
    this.seedSum *= factor;
    this.ema *= factor;
  }

  snapshot(): EmaSnapshot {
    return {
      kind: 'ema',
      version: 1,
      period: this.period,
      scale: this.scale,
      count: this.count,
      seedSum: encodeNumber(this.seedSum),
      ema: encodeNumber(this.ema),
    };
  }

  static restore(snapshot: unknown): Ema {
    const reader = new SnapshotReader(snapshot, 'ema', 1);
    const ema = new Ema(reader.integer('period', 1, MAX_PERIOD), reader.choice('scale', INPUT_SCALES));
    ema.count = reader.integer('count', 0);
    ema.seedSum = reader.number('seedSum');
    ema.ema = reader.number('ema');
    return ema;
  }
}

// MACD with TA-Lib's alignment: both EMAs start at bar slow−1 (the fast one seeded with the mean of the
// `fast` closes ending there, not the first ones), the signal EMA is seeded with the mean of the first
// `signal` MACD values, so the first output is at bar slow+signal−2 (33 for 12/26/9).

import { checkAdjustmentFactors } from './adjustment.js';
import { checkPeriod, MAX_PERIOD } from './parameters.js';
import { encodeNumber, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface MacdSnapshot {
  kind: 'macd';
  version: 1;
  fastPeriod: number;
  slowPeriod: number;
  signalPeriod: number;
  count: number;
  fast: SnapshotNumber;
  slow: SnapshotNumber;
  signal: SnapshotNumber;
  macd: SnapshotNumber;
}

export class Macd {
  readonly warmUp: number;
  readonly fastPeriod: number;
  readonly slowPeriod: number;
  private readonly fastK: number;
  private readonly slowK: number;
  private readonly signalK: number;
  /** bar at which the fast EMA's seed sum starts (slow − fast) */
  private readonly fastSeedStart: number;
  private count = 0;
  /** each EMA holds its seed sum until its seed bar, then its value */
  private fast = 0;
  private slow = 0;
  private signal = 0;
  private macd = Number.NaN;

  constructor(
    fastPeriod = 12,
    slowPeriod = 26,
    readonly signalPeriod = 9,
  ) {
    checkPeriod('fastPeriod', fastPeriod, 2);
    checkPeriod('slowPeriod', slowPeriod, 2);
    checkPeriod('signalPeriod', signalPeriod, 1);
    // TA_MACD swaps the periods when slow < fast
    this.fastPeriod = Math.min(fastPeriod, slowPeriod);
    this.slowPeriod = Math.max(fastPeriod, slowPeriod);
    this.fastK = 2 / (this.fastPeriod + 1);
    this.slowK = 2 / (this.slowPeriod + 1);
    this.signalK = 2 / (signalPeriod + 1);
    this.fastSeedStart = this.slowPeriod - this.fastPeriod;
    this.warmUp = this.slowPeriod + signalPeriod - 2;
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  /** The MACD line (fast − slow EMA). */
  get value(): number | undefined {
    return this.count > this.warmUp ? this.macd : undefined;
  }

  get signalValue(): number | undefined {
    return this.count > this.warmUp ? this.signal : undefined;
  }

  get histogram(): number | undefined {
    return this.count > this.warmUp ? this.macd - this.signal : undefined;
  }

  /**
   * Consumes one close; returns the MACD line (undefined in warm-up) and, when `out` is given, writes
   * [macd, signal, histogram] at out[offset..offset+2] (NaN in warm-up).
   */
  update(close: number, out?: Float64Array, offset = 0): number | undefined {
    const index = this.count++;
    const slowSeedBar = this.slowPeriod - 1;
    if (index > slowSeedBar) {
      this.fast = (close - this.fast) * this.fastK + this.fast;
      this.slow = (close - this.slow) * this.slowK + this.slow;
    } else {
      this.slow += close;
      if (index >= this.fastSeedStart) this.fast += close;
      if (index < slowSeedBar) {
        if (out !== undefined) out[offset] = out[offset + 1] = out[offset + 2] = Number.NaN;
        return undefined;
      }
      this.fast /= this.fastPeriod;
      this.slow /= this.slowPeriod;
    }
    const macd = this.fast - this.slow;
    this.macd = macd;
    const warmUp = this.warmUp;
    if (index > warmUp) {
      this.signal = (macd - this.signal) * this.signalK + this.signal;
    } else {
      this.signal += macd;
      if (index < warmUp) {
        if (out !== undefined) out[offset] = out[offset + 1] = out[offset + 2] = Number.NaN;
        return undefined;
      }
      this.signal /= this.signalPeriod;
    }
    if (out !== undefined) {
      out[offset] = macd;
      out[offset + 1] = this.signal;
      out[offset + 2] = macd - this.signal;
    }
    return macd;
  }

  reset(): void {
    this.count = 0;
    this.fast = 0;
    this.slow = 0;
    this.signal = 0;
    this.macd = Number.NaN;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    this.fast *= priceFactor;
    this.slow *= priceFactor;
    this.signal *= priceFactor;
    this.macd *= priceFactor;
  }

  snapshot(): MacdSnapshot {
    return {
      kind: 'macd',
      version: 1,
      fastPeriod: this.fastPeriod,
      slowPeriod: this.slowPeriod,
      signalPeriod: this.signalPeriod,
      count: this.count,
      fast: encodeNumber(this.fast),
      slow: encodeNumber(this.slow),
      signal: encodeNumber(this.signal),
      macd: encodeNumber(this.macd),
    };
  }

  static restore(snapshot: unknown): Macd {
    const reader = new SnapshotReader(snapshot, 'macd', 1);
    const fastPeriod = reader.integer('fastPeriod', 2, MAX_PERIOD);
    const slowPeriod = reader.integer('slowPeriod', fastPeriod, MAX_PERIOD);
    const macd = new Macd(fastPeriod, slowPeriod, reader.integer('signalPeriod', 1, MAX_PERIOD));
    macd.count = reader.integer('count', 0);
    macd.fast = reader.number('fast');
    macd.slow = reader.number('slow');
    macd.signal = reader.number('signal');
    macd.macd = reader.number('macd');
    return macd;
  }
}

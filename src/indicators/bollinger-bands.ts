// Bollinger Bands as TA_BBANDS with an SMA middle: population std dev from TA-Lib's running sum of
// squares, sqrt(E[x²] − mean²), taken as 0 when that variance is below 1e-14.

import { checkAdjustmentFactors } from './adjustment.js';
import { MlfpError } from '../errors.js';
import { checkPeriod, MAX_PERIOD, TA_EPSILON } from './parameters.js';
import { encodeNumber, encodeNumbers, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface BollingerBandsSnapshot {
  kind: 'bollinger-bands';
  version: 1;
  period: number;
  deviationsUp: number;
  deviationsDown: number;
  count: number;
  sum: SnapshotNumber;
  sumOfSquares: SnapshotNumber;
  middle: SnapshotNumber;
  deviation: SnapshotNumber;
  window: SnapshotNumber[];
}

const MAX_DEVIATIONS = 1e6;

export class BollingerBands {
  readonly warmUp: number;
  private readonly window: Float64Array;
  private count = 0;
  private head = 0;
  /** running sums of the newest period−1 inputs and of their squares (TA-Lib drops the oldest after use) */
  private sum = 0;
  private sumOfSquares = 0;
  private middle = Number.NaN;
  /** population standard deviation of the window */
  private deviation = Number.NaN;

  constructor(
    readonly period = 20,
    readonly deviationsUp = 2,
    readonly deviationsDown = 2,
  ) {
    checkPeriod('period', period, 2);
    for (const [field, value] of [
      ['deviationsUp', deviationsUp],
      ['deviationsDown', deviationsDown],
    ] as const)
      if (!Number.isFinite(value) || Math.abs(value) > MAX_DEVIATIONS)
        throw new MlfpError('bad_argument', `${field} must be a finite number`, { field, value });
    this.warmUp = period - 1;
    this.window = new Float64Array(period);
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  /** The middle band (the SMA). */
  get value(): number | undefined {
    return this.count > this.warmUp ? this.middle : undefined;
  }

  get upper(): number | undefined {
    return this.count > this.warmUp ? this.middle + this.deviation * this.deviationsUp : undefined;
  }

  get lower(): number | undefined {
    return this.count > this.warmUp ? this.middle - this.deviation * this.deviationsDown : undefined;
  }

  /**
   * Consumes one close; returns the middle band (undefined in warm-up) and, when `out` is given, writes
   * [upper, middle, lower] at out[offset..offset+2] (NaN in warm-up).
   */
  update(x: number, out?: Float64Array, offset = 0): number | undefined {
    const window = this.window;
    let head = this.head;
    window[head] = x;
    this.sum += x;
    this.sumOfSquares += x * x;
    if (++head === this.period) head = 0;
    this.head = head;
    if (++this.count <= this.warmUp) {
      if (out !== undefined) out[offset] = out[offset + 1] = out[offset + 2] = Number.NaN;
      return undefined;
    }
    const period = this.period;
    const middle = this.sum / period;
    const meanOfSquares = this.sumOfSquares / period;
    const oldest = window[head] as number;
    this.sum -= oldest;
    this.sumOfSquares -= oldest * oldest;
    const variance = meanOfSquares - middle * middle;
    const deviation = variance < TA_EPSILON ? 0 : Math.sqrt(variance);
    this.middle = middle;
    this.deviation = deviation;
    if (out !== undefined) {
      // multiplying by 1.0 is exact, so this one form matches all of TA-Lib's special-cased loops
      out[offset] = middle + deviation * this.deviationsUp;
      out[offset + 1] = middle;
      out[offset + 2] = middle - deviation * this.deviationsDown;
    }
    return middle;
  }

  reset(): void {
    this.window.fill(0);
    this.count = 0;
    this.head = 0;
    this.sum = 0;
    this.sumOfSquares = 0;
    this.middle = Number.NaN;
    this.deviation = Number.NaN;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    for (let i = 0; i < this.window.length; i++) this.window[i] = (this.window[i] as number) * priceFactor;
    this.sum *= priceFactor;
    this.sumOfSquares *= priceFactor * priceFactor;
    this.middle *= priceFactor;
    this.deviation *= priceFactor;
  }

  snapshot(): BollingerBandsSnapshot {
    return {
      kind: 'bollinger-bands',
      version: 1,
      period: this.period,
      deviationsUp: this.deviationsUp,
      deviationsDown: this.deviationsDown,
      count: this.count,
      sum: encodeNumber(this.sum),
      sumOfSquares: encodeNumber(this.sumOfSquares),
      middle: encodeNumber(this.middle),
      deviation: encodeNumber(this.deviation),
      window: encodeNumbers(this.window),
    };
  }

  static restore(snapshot: unknown): BollingerBands {
    const reader = new SnapshotReader(snapshot, 'bollinger-bands', 1);
    const bands = new BollingerBands(
      reader.integer('period', 2, MAX_PERIOD),
      reader.finite('deviationsUp', -MAX_DEVIATIONS, MAX_DEVIATIONS),
      reader.finite('deviationsDown', -MAX_DEVIATIONS, MAX_DEVIATIONS),
    );
    bands.count = reader.integer('count', 0);
    bands.head = bands.count % bands.period;
    bands.sum = reader.number('sum');
    bands.sumOfSquares = reader.number('sumOfSquares');
    bands.middle = reader.number('middle');
    bands.deviation = reader.number('deviation');
    reader.numbers('window', bands.period, bands.window);
    return bands;
  }
}

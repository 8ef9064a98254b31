// On-balance volume as TA_OBV: starts at the first bar's volume (not 0), then adds the volume on an up
// close, subtracts it on a down close and keeps it on an unchanged close.

import { checkAdjustmentFactors } from './adjustment.js';
import { encodeNumber, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface ObvSnapshot {
  kind: 'obv';
  version: 1;
  count: number;
  previousClose: SnapshotNumber;
  obv: SnapshotNumber;
}

export class Obv {
  readonly warmUp = 0;
  private count = 0;
  private previousClose = Number.NaN;
  private obv = Number.NaN;

  get isStable(): boolean {
    return this.count > 0;
  }

  get value(): number | undefined {
    return this.count > 0 ? this.obv : undefined;
  }

  update(close: number, volume: number): number {
    if (this.count++ === 0) this.obv = volume;
    else if (close > this.previousClose) this.obv += volume;
    else if (close < this.previousClose) this.obv -= volume;
    this.previousClose = close;
    return this.obv;
  }

  reset(): void {
    this.count = 0;
    this.previousClose = Number.NaN;
    this.obv = Number.NaN;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    this.previousClose *= priceFactor;
    this.obv *= volumeFactor;
  }

  snapshot(): ObvSnapshot {
    return {
      kind: 'obv',
      version: 1,
      count: this.count,
      previousClose: encodeNumber(this.previousClose),
      obv: encodeNumber(this.obv),
    };
  }

  static restore(snapshot: unknown): Obv {
    const reader = new SnapshotReader(snapshot, 'obv', 1);
    const obv = new Obv();
    obv.count = reader.integer('count', 0);
    obv.previousClose = reader.number('previousClose');
    obv.obv = reader.number('obv');
    return obv;
  }
}

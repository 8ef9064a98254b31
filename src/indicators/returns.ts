// One-bar returns: simple close/previousClose − 1 and log ln(close/previousClose), from bar 1 on. Both are
// scale-free; only the previous close follows a back-adjustment.

import { checkAdjustmentFactors } from './adjustment.js';
import { encodeNumber, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface ReturnsSnapshot {
  kind: 'returns' | 'log-returns';
  version: 1;
  count: number;
  previousClose: SnapshotNumber;
  current: SnapshotNumber;
}

abstract class OneBarReturn {
  readonly warmUp = 1;
  protected count = 0;
  protected previousClose = Number.NaN;
  protected current = Number.NaN;

  protected abstract readonly kind: ReturnsSnapshot['kind'];

  get isStable(): boolean {
    return this.count > 1;
  }

  get value(): number | undefined {
    return this.count > 1 ? this.current : undefined;
  }

  reset(): void {
    this.count = 0;
    this.previousClose = Number.NaN;
    this.current = Number.NaN;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    this.previousClose *= priceFactor;
  }

  snapshot(): ReturnsSnapshot {
    return {
      kind: this.kind,
      version: 1,
      count: this.count,
      previousClose: encodeNumber(this.previousClose),
      current: encodeNumber(this.current),
    };
  }

  protected restoreFields(reader: SnapshotReader): void {
    this.count = reader.integer('count', 0);
    this.previousClose = reader.number('previousClose');
    this.current = reader.number('current');
  }
}

export class Returns extends OneBarReturn {
  protected readonly kind = 'returns';

  update(close: number): number | undefined {
    const previousClose = this.previousClose;
    this.previousClose = close;
    if (this.count++ === 0) return undefined;
    const value = close / previousClose - 1;
    this.current = value;
    return value;
  }

  static restore(snapshot: unknown): Returns {
    const returns = new Returns();
    returns.restoreFields(new SnapshotReader(snapshot, 'returns', 1));
    return returns;
  }
}

export class LogReturns extends OneBarReturn {
  protected readonly kind = 'log-returns';

  update(close: number): number | undefined {
    const previousClose = this.previousClose;
    this.previousClose = close;
    if (this.count++ === 0) return undefined;
    const value = Math.log(close / previousClose);
    this.current = value;
    return value;
  }

  static restore(snapshot: unknown): LogReturns {
    const returns = new LogReturns();
    returns.restoreFields(new SnapshotReader(snapshot, 'log-returns', 1));
    return returns;
  }
}

// Momentum as TA_MOM: close[t] − close[t−period], from bar `period` on.

import { checkAdjustmentFactors } from './adjustment.js';
import { checkPeriod, MAX_PERIOD } from './parameters.js';
import { encodeNumber, encodeNumbers, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface MomentumSnapshot {
  kind: 'momentum';
  version: 1;
  period: number;
  count: number;
  current: SnapshotNumber;
  window: SnapshotNumber[];
}

export class Momentum {
  readonly warmUp: number;
  /** the last `period` inputs; the slot about to be overwritten holds close[t−period] */
  private readonly window: Float64Array;
  private count = 0;
  private head = 0;
  private current = Number.NaN;

  constructor(readonly period: number) {
    checkPeriod('period', period, 1);
    this.warmUp = period;
    this.window = new Float64Array(period);
  }

  get isStable(): boolean {
    return this.count > this.warmUp;
  }

  get value(): number | undefined {
    return this.count > this.warmUp ? this.current : undefined;
  }

  update(x: number): number | undefined {
    const head = this.head;
    const old = this.window[head] as number;
    this.window[head] = x;
    this.head = head + 1 === this.period ? 0 : head + 1;
    if (++this.count <= this.warmUp) return undefined;
    const momentum = x - old;
    this.current = momentum;
    return momentum;
  }

  reset(): void {
    this.window.fill(0);
    this.count = 0;
    this.head = 0;
    this.current = Number.NaN;
  }

  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    for (let i = 0; i < this.window.length; i++) this.window[i] = (this.window[i] as number) * priceFactor;
    this.current *= priceFactor;
  }

  snapshot(): MomentumSnapshot {
    return {
      kind: 'momentum',
      version: 1,
      period: this.period,
      count: this.count,
      current: encodeNumber(this.current),
      window: encodeNumbers(this.window),
    };
  }

  static restore(snapshot: unknown): Momentum {
    const reader = new SnapshotReader(snapshot, 'momentum', 1);
    const momentum = new Momentum(reader.integer('period', 1, MAX_PERIOD));
    momentum.count = reader.integer('count', 0);
    momentum.head = momentum.count % momentum.period;
    momentum.current = reader.number('current');
    reader.numbers('window', momentum.period, momentum.window);
    return momentum;
  }
}

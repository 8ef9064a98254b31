// computeFeatures: closed bars in, 16-column feature vectors out. One FeatureSet (pure state machine) per
// (symbol, timeframe); a revision of a symbol's latest bar replaces that bar's contribution (replaceLast),
// so downstream sees corrected values under the same key.

import { Observable, type OperatorFunction } from 'rxjs';
import { FEATURE_COUNT, TIMEFRAMES, type Bar, type FeatureVector, type Timeframe } from '../domain/types.js';
import { PERIODS_PER_YEAR } from '../domain/time.js';
import { FeatureSet } from '../indicators/feature-set.js';
import type { DeadLetterSink } from '../domain/types.js';

export interface ComputeFeaturesOptions {
  /** periods per year per timeframe for historical volatility; defaults to PERIODS_PER_YEAR */
  periodsPerYear?: Partial<Record<Timeframe, number>>;
}

/** Per-symbol state of all timeframes: the unit that is snapshotted and moved with a Kafka partition. */
export class SymbolFeatures {
  readonly sets: Record<Timeframe, FeatureSet>;
  /** start time of the last bar fed per timeframe, to recognise revisions and reject stale bars */
  readonly lastTs: Record<Timeframe, number>;

  constructor(periodsPerYear: Readonly<Record<Timeframe, number>>) {
    this.sets = {
      '5m': new FeatureSet({ periodsPerYear: periodsPerYear['5m'] }),
      '1h': new FeatureSet({ periodsPerYear: periodsPerYear['1h'] }),
      '1d': new FeatureSet({ periodsPerYear: periodsPerYear['1d'] }),
    };
    this.lastTs = {
      '5m': Number.NEGATIVE_INFINITY,
      '1h': Number.NEGATIVE_INFINITY,
      '1d': Number.NEGATIVE_INFINITY,
    };
  }
}

/**
 * Feature engine for many symbols: `apply(bar)` returns the feature vector of that bar, or undefined when
 * the bar is older than the symbol's latest bar of that timeframe (a revision of an older bar cannot be
 * applied without replaying; the bar aggregator only revises the latest one, so this is a guard).
 */
export class FeatureEngine {
  private readonly symbols = new Map<string, SymbolFeatures>();
  private readonly periodsPerYear: Readonly<Record<Timeframe, number>>;

  constructor(options: ComputeFeaturesOptions = {}) {
    this.periodsPerYear = { ...PERIODS_PER_YEAR, ...options.periodsPerYear };
    for (const tf of TIMEFRAMES) {
      const p = this.periodsPerYear[tf];
      if (!(p > 0) || !Number.isFinite(p))
        throw new RangeError(`periodsPerYear.${tf} must be a positive number`);
    }
  }

  get symbolCount(): number {
    return this.symbols.size;
  }

  stateOf(symbol: string): SymbolFeatures {
    let state = this.symbols.get(symbol);
    if (state === undefined) {
      state = new SymbolFeatures(this.periodsPerYear);
      this.symbols.set(symbol, state);
    }
    return state;
  }

  apply(bar: Bar): FeatureVector | undefined {
    const state = this.stateOf(bar.symbol);
    const set = state.sets[bar.timeframe];
    const last = state.lastTs[bar.timeframe];
    const values = new Float64Array(FEATURE_COUNT);
    if (bar.ts > last) {
      set.update(bar.open, bar.high, bar.low, bar.close, bar.volume, values);
      state.lastTs[bar.timeframe] = bar.ts;
    } else if (bar.ts === last) {
      set.replaceLast(bar.open, bar.high, bar.low, bar.close, bar.volume, values);
    } else {
      return undefined;
    }
    return {
      symbol: bar.symbol,
      timeframe: bar.timeframe,
      ts: bar.ts,
      revision: bar.revision,
      close: bar.close,
      values,
    };
  }

  /** Applies a split or dividend to every timeframe of one symbol (live state becomes back-adjusted). */
  adjust(symbol: string, priceFactor: number, volumeFactor: number): void {
    const state = this.symbols.get(symbol);
    if (state === undefined) return;
    for (const tf of TIMEFRAMES) state.sets[tf].adjust(priceFactor, volumeFactor);
  }

  drop(symbol: string): void {
    this.symbols.delete(symbol);
  }
}

/** The operator: bars in, feature vectors out. Stale bars (older than the latest of their key) are dead-lettered. */
export function computeFeatures(
  options: ComputeFeaturesOptions = {},
  deadLetters?: DeadLetterSink,
  engine: FeatureEngine = new FeatureEngine(options),
): OperatorFunction<Bar, FeatureVector> {
  return (source) =>
    new Observable<FeatureVector>((subscriber) =>
      source.subscribe({
        next(bar) {
          const vector = engine.apply(bar);
          if (vector !== undefined) subscriber.next(vector);
          else
            deadLetters?.deadLetter({
              reason: 'late',
              field: 'ts',
              value: new Date(bar.ts).toISOString(),
              message: `${bar.timeframe} bar of ${bar.symbol} is older than the latest one; features cannot be revised`,
            });
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

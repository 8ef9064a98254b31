// computeFeatures: closed bars in, 16-column feature vectors out. One FeatureSet (pure state machine) per
// (symbol, timeframe); a revision of a symbol's latest bar replaces that bar's contribution (replaceLast),
// so downstream sees corrected values under the same key.

import { Observable, type OperatorFunction } from 'rxjs';
import { FEATURE_COUNT, TIMEFRAMES, type Bar, type FeatureVector, type Timeframe } from '../domain/types.js';
import { PERIODS_PER_YEAR } from '../domain/time.js';
import { FeatureSet, type FeatureSetSnapshot } from '../indicators/feature-set.js';
import { MlfpError } from '../errors.js';
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
        throw new MlfpError('config_invalid', `periodsPerYear.${tf} must be a positive number`, {
          field: `periodsPerYear.${tf}`,
          value: p,
        });
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

  has(symbol: string): boolean {
    return this.symbols.has(symbol);
  }

  /** Every symbol's state as versioned plain JSON (FeatureSet snapshots; −∞ lastTs written as null). */
  snapshot(): FeatureEngineSnapshot {
    const symbols: FeatureEngineSnapshot['symbols'] = [];
    for (const [symbol, state] of this.symbols) {
      symbols.push({
        symbol,
        lastTs: TIMEFRAMES.map((tf) =>
          state.lastTs[tf] === Number.NEGATIVE_INFINITY ? null : state.lastTs[tf],
        ),
        sets: TIMEFRAMES.map((tf) => state.sets[tf].snapshot()),
      });
    }
    return { kind: 'mlfp.feature-engine', version: 1, periodsPerYear: { ...this.periodsPerYear }, symbols };
  }

  /**
   * Replaces every symbol's state with a snapshot taken with the same periodsPerYear. Validates all of it
   * first (MlfpError snapshot_invalid), so a bad snapshot leaves this engine unchanged.
   */
  restore(snapshot: unknown): void {
    const fail = (message: string): never => {
      throw new MlfpError('snapshot_invalid', `feature engine snapshot: ${message}`);
    };
    if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
    const candidate = snapshot as Partial<Record<keyof FeatureEngineSnapshot, unknown>>;
    if (candidate.kind !== 'mlfp.feature-engine' || candidate.version !== 1)
      return fail(`unsupported kind/version ${String(candidate.kind)}/${String(candidate.version)}`);
    const periods = candidate.periodsPerYear as Partial<Record<Timeframe, unknown>> | null | undefined;
    for (const tf of TIMEFRAMES)
      if (periods?.[tf] !== this.periodsPerYear[tf])
        return fail(
          `taken with periodsPerYear.${tf} ${String(periods?.[tf])}, this engine has ${this.periodsPerYear[tf]}`,
        );
    if (!Array.isArray(candidate.symbols)) return fail('symbols must be an array');
    const restored = new Map<string, SymbolFeatures>();
    for (const entry of candidate.symbols as unknown[]) {
      const item = entry as { symbol?: unknown; lastTs?: unknown; sets?: unknown } | null;
      if (typeof item !== 'object' || item === null) return fail('each symbol must be an object');
      const symbol = item.symbol;
      if (typeof symbol !== 'string' || symbol === '' || restored.has(symbol))
        return fail('symbol must be a unique non-empty string');
      if (!Array.isArray(item.lastTs) || item.lastTs.length !== TIMEFRAMES.length)
        return fail(`${symbol}: lastTs must hold ${TIMEFRAMES.length} entries`);
      if (!Array.isArray(item.sets) || item.sets.length !== TIMEFRAMES.length)
        return fail(`${symbol}: sets must hold ${TIMEFRAMES.length} entries`);
      const state = new SymbolFeatures(this.periodsPerYear);
      for (let index = 0; index < TIMEFRAMES.length; index++) {
        const tf = TIMEFRAMES[index]!;
        const lastTs = (item.lastTs as unknown[])[index];
        if (lastTs !== null && !(typeof lastTs === 'number' && Number.isFinite(lastTs)))
          return fail(`${symbol}: lastTs.${tf} must be null or epoch ms`);
        state.lastTs[tf] = lastTs === null ? Number.NEGATIVE_INFINITY : lastTs;
        const set = FeatureSet.restore((item.sets as unknown[])[index]);
        if (set.periodsPerYear !== this.periodsPerYear[tf])
          return fail(`${symbol} ${tf}: periodsPerYear differs`);
        state.sets[tf] = set;
      }
      restored.set(symbol, state);
    }
    this.symbols.clear();
    for (const [symbol, state] of restored) this.symbols.set(symbol, state);
  }
}

/** Versioned plain-JSON state of a FeatureEngine; per symbol, lastTs and sets follow TIMEFRAMES order. */
export interface FeatureEngineSnapshot {
  kind: 'mlfp.feature-engine';
  version: 1;
  periodsPerYear: Record<Timeframe, number>;
  symbols: Array<{ symbol: string; lastTs: Array<number | null>; sets: FeatureSetSnapshot[] }>;
}

/**
 * The operator: bars in, feature vectors out. Stale bars (older than the latest of their key) are
 * dead-lettered. A thrown exception (a bug in the engine, or a sink that broke its no-throw contract) errors
 * the output; it is never hidden.
 */
export function computeFeatures(
  options: ComputeFeaturesOptions = {},
  deadLetters?: DeadLetterSink,
  engine: FeatureEngine = new FeatureEngine(options),
): OperatorFunction<Bar, FeatureVector> {
  return (source) =>
    new Observable<FeatureVector>((subscriber) =>
      source.subscribe({
        next(bar) {
          try {
            const vector = engine.apply(bar);
            if (vector !== undefined) subscriber.next(vector);
            else
              deadLetters?.deadLetter({
                reason: 'late',
                field: 'ts',
                value: new Date(bar.ts).toISOString(),
                message: `${bar.timeframe} bar of ${bar.symbol} is older than the latest one; features cannot be revised`,
              });
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

// adjustCorporateActions: the graph's operator between bars and features, and the per-partition state
// behind it. It applies corporate actions to the partition's feature state: before the first bar of a symbol with
// ts ≥ an action's ex-date reaches the features, the symbol's FeatureSets are back-adjusted
// (splitAdjustment / dividendAdjustment). Which actions were applied is part of the partition snapshot, so
// a replay from a snapshot never applies one twice.

import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { Bar, CorporateAction, DeadLetterSink } from '../domain/types.js';
import { isMlfpError, MlfpError } from '../errors.js';
import { dividendAdjustment, splitAdjustment } from '../indicators/adjustment.js';
import type { FeatureEngine } from './compute-features.js';

/** Where the adjuster finds a symbol's actions, ex-date ascending (src/streams/corporate-actions.ts's book). */
export interface CorporateActionSource {
  actionsOf(symbol: string): readonly CorporateAction[] | undefined;
}

export interface CorporateActionAdjusterSnapshot {
  kind: 'mlfp.corporate-action-adjuster';
  version: 1;
  /** [symbol, ex-date (epoch ms) through which actions are applied or null, last close fed or null] */
  symbols: Array<[string, number | null, number | null]>;
}

interface SymbolProgress {
  /** every action of the symbol with exDate ≤ this was applied (or found unusable) */
  appliedThroughMs: number;
  /** close of the last bar fed to features: a dividend's factor needs the close before the ex-date */
  lastClose: number;
}

/**
 * Per-partition application state. Rule: an action applies once, right before the symbol's first bar with
 * ts ≥ exDate; every timeframe is adjusted together (bars arrive in end-time order, so the days before
 * the ex-date are complete in every timeframe by then). An action that arrives after a later one was
 * applied for the same symbol is never applied (documented in docs/adr/0002-delivery.md).
 */
export class CorporateActionAdjuster {
  private readonly progress = new Map<string, SymbolProgress>();
  /** actions applied since construction (tests, metrics) */
  applied = 0;

  constructor(private readonly book: CorporateActionSource | undefined) {}

  /** False without a source of actions: nothing can ever apply, so the graph leaves the operator out. */
  get active(): boolean {
    return this.book !== undefined;
  }

  /** Call with every bar before it reaches `features`. Unusable actions become dead letters. */
  beforeFeatures(bar: Bar, features: FeatureEngine, deadLetters: DeadLetterSink): void {
    let progress = this.progress.get(bar.symbol);
    if (progress === undefined) {
      progress = { appliedThroughMs: Number.NEGATIVE_INFINITY, lastClose: Number.NaN };
      this.progress.set(bar.symbol, progress);
    }
    const actions = this.book?.actionsOf(bar.symbol);
    if (actions !== undefined) {
      for (const action of actions) {
        if (action.exDate <= progress.appliedThroughMs) continue;
        if (action.exDate > bar.ts) break;
        try {
          const factors =
            action.type === 'split'
              ? splitAdjustment(action.ratio ?? Number.NaN)
              : Number.isNaN(progress.lastClose)
                ? undefined // nothing fed yet: no state to adjust
                : dividendAdjustment(progress.lastClose, action.amount ?? Number.NaN);
          if (factors !== undefined) {
            features.adjust(bar.symbol, factors.priceFactor, factors.volumeFactor);
            this.applied++;
          }
        } catch (error) {
          if (!isMlfpError(error)) throw error;
          deadLetters.deadLetter({
            reason: 'unknown_action',
            field: error.field,
            value: error.value,
            message: `${action.type} of ${action.symbol} ex ${new Date(action.exDate).toISOString().slice(0, 10)} cannot be applied: ${error.message}`,
          });
        }
        progress.appliedThroughMs = action.exDate;
      }
    }
    progress.lastClose = bar.close;
  }

  snapshot(): CorporateActionAdjusterSnapshot {
    const symbols: CorporateActionAdjusterSnapshot['symbols'] = [];
    for (const [symbol, progress] of this.progress)
      symbols.push([
        symbol,
        Number.isFinite(progress.appliedThroughMs) ? progress.appliedThroughMs : null,
        Number.isNaN(progress.lastClose) ? null : progress.lastClose,
      ]);
    return { kind: 'mlfp.corporate-action-adjuster', version: 1, symbols };
  }

  /** Replaces the state; validates all of it first (MlfpError snapshot_invalid). */
  restore(snapshot: unknown): void {
    const fail = (message: string): never => {
      throw new MlfpError('snapshot_invalid', `corporate action adjuster snapshot: ${message}`);
    };
    const candidate = snapshot as Partial<CorporateActionAdjusterSnapshot> | null;
    if (typeof candidate !== 'object' || candidate === null) return fail('not an object');
    if (candidate.kind !== 'mlfp.corporate-action-adjuster' || candidate.version !== 1)
      return fail(`unsupported kind/version ${String(candidate.kind)}/${String(candidate.version)}`);
    if (!Array.isArray(candidate.symbols)) return fail('symbols must be an array');
    const restored = new Map<string, SymbolProgress>();
    for (const entry of candidate.symbols as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 3)
        return fail('each symbol is [symbol, appliedThroughMs, lastClose]');
      const [symbol, through, close] = entry as unknown[];
      if (typeof symbol !== 'string' || symbol === '' || restored.has(symbol))
        return fail('symbol must be a unique non-empty string');
      if (through !== null && !(typeof through === 'number' && Number.isFinite(through)))
        return fail(`${symbol}: appliedThroughMs must be null or epoch ms`);
      if (close !== null && !(typeof close === 'number' && close > 0 && close < Infinity))
        return fail(`${symbol}: lastClose must be null or a positive price`);
      restored.set(symbol, {
        appliedThroughMs: through === null ? Number.NEGATIVE_INFINITY : through,
        lastClose: close === null ? Number.NaN : close,
      });
    }
    this.progress.clear();
    for (const [symbol, progress] of restored) this.progress.set(symbol, progress);
  }
}

/**
 * The operator: each bar passes through unchanged, after the actions due before it were applied to `features`
 * (the same FeatureEngine the computeFeatures operator downstream owns); unusable actions become dead letters
 * on the graph's side output. A throw (a bug) errors the stream.
 */
export function adjustCorporateActions(
  adjuster: CorporateActionAdjuster,
  features: FeatureEngine,
  deadLetters: DeadLetterSink,
): MonoTypeOperatorFunction<Bar> {
  return (source) =>
    new Observable<Bar>((subscriber) =>
      source.subscribe({
        next(bar) {
          try {
            adjuster.beforeFeatures(bar, features, deadLetters);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          subscriber.next(bar);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

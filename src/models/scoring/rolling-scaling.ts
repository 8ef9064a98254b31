// Online scaling of model inputs (manifest `scaling.kind: "rolling"`): per symbol, a RollingNormaliser
// (Welford z-score over the last `window` values of each engine feature column) turns every feature vector into
// z-scores once, shared by all models with the same scaling parameters and timeframe; sequence models read
// their windows of z-rows from the bank's own SequenceWindows. Bounded in symbols; part of the scorer snapshot.

import type { FeatureVector, Timeframe } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { RollingNormaliser } from '../../indicators/normaliser.js';
import { SequenceWindows, type WindowSnapshot } from './sequence-windows.js';

export interface RollingScalingParameters {
  window: number;
  minCount: number;
  ddof: 0 | 1;
}

export interface RollingBankSnapshot {
  version: 1;
  timeframe: Timeframe;
  parameters: RollingScalingParameters;
  symbols: { symbol: string; lastTs: number; normaliser: unknown }[];
  windows: WindowSnapshot | null;
}

export function rollingKey(timeframe: Timeframe, p: RollingScalingParameters): string {
  return `${timeframe}|${p.window}|${p.minCount}|${p.ddof}`;
}

interface SymbolScaler {
  normaliser: RollingNormaliser;
  lastTs: number;
}

export class RollingScalingBank {
  readonly row: Float64Array;
  private readonly symbols = new Map<string, SymbolScaler>();
  private windowsValue: SequenceWindows | undefined;

  constructor(
    /** the timeframe whose vectors this bank scales */
    readonly timeframeOf: Timeframe,
    readonly parameters: RollingScalingParameters,
    readonly columns: number,
    readonly maxSymbols: number,
  ) {
    this.row = new Float64Array(columns);
  }

  get windows(): SequenceWindows | undefined {
    return this.windowsValue;
  }

  /** Keeps windows of z-rows at least `depth` deep (sequence models with rolling scaling). */
  ensureWindows(depth: number): SequenceWindows {
    if (this.windowsValue === undefined) this.windowsValue = new SequenceWindows(this.columns, depth, this.maxSymbols);
    else this.windowsValue.ensureDepth(depth);
    return this.windowsValue;
  }

  /**
   * Scales the vector into `this.row` (a revision of the symbol's latest bar replaces its contribution) and
   * appends it to the windows when they exist. False when the vector is older than the symbol's latest one.
   */
  scale(vector: FeatureVector): boolean {
    let scaler = this.symbols.get(vector.symbol);
    if (scaler === undefined) {
      if (this.symbols.size >= this.maxSymbols) this.symbols.delete(this.symbols.keys().next().value as string);
      scaler = {
        normaliser: new RollingNormaliser({ columns: this.columns, ...this.parameters }),
        lastTs: Number.NEGATIVE_INFINITY,
      };
      this.symbols.set(vector.symbol, scaler);
    }
    if (vector.ts < scaler.lastTs) return false;
    if (vector.ts === scaler.lastTs) scaler.normaliser.replaceLast(vector.values, this.row);
    else {
      scaler.normaliser.normalise(vector.values, this.row);
      scaler.lastTs = vector.ts;
    }
    this.windowsValue?.push(vector.symbol, vector.ts, this.row);
    return true;
  }

  snapshot(): RollingBankSnapshot {
    const symbols: RollingBankSnapshot['symbols'] = [];
    for (const [symbol, s] of this.symbols) symbols.push({ symbol, lastTs: s.lastTs, normaliser: s.normaliser.snapshot() });
    return {
      version: 1,
      timeframe: this.timeframeOf,
      parameters: this.parameters,
      symbols,
      windows: this.windowsValue?.snapshot() ?? null,
    };
  }

  restore(snapshot: RollingBankSnapshot): void {
    if (snapshot.version !== 1) throw new MlfpError('snapshot_invalid', `rolling scaling snapshot version ${String(snapshot.version)}`);
    this.symbols.clear();
    for (const s of snapshot.symbols) {
      this.symbols.set(s.symbol, { normaliser: RollingNormaliser.restore(s.normaliser), lastTs: s.lastTs });
    }
    if (snapshot.windows !== null) this.ensureWindows(snapshot.windows.depth).restore(snapshot.windows);
  }
}

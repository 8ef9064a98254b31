// The scorer's row assembly: per-symbol sequence windows (per timeframe) and online-scaling banks, and the
// copy of each arriving vector into the input rows of every lane that scores its timeframe (column mapping,
// window planes, scaling, missing values). Its windows and banks are the scorer's snapshot.

import type { FeatureVector, Timeframe } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import type { Lane } from './lane.js';
import {
  RollingScalingBank,
  rollingKey,
  type RollingBankSnapshot,
  type RollingScalingParameters,
} from './rolling-scaling.js';
import { SequenceWindows, type Rows, type WindowRing, type WindowSnapshot } from './sequence-windows.js';

/** The scorer's per-symbol state (sequence windows, online-scaling banks): part of a partition snapshot. */
export interface ScorerSnapshot {
  version: 1;
  windows: Partial<Record<Timeframe, WindowSnapshot>>;
  rolling?: Record<string, RollingBankSnapshot>;
}

/** Copies `columns[j]` of `row` into out[base + j]; always true (reads like copyWindow's result). */
function copyColumns(row: Float64Array, columns: Int32Array, out: Rows, base: number): boolean {
  for (let j = 0; j < columns.length; j++) out[base + j] = row[columns[j]!]!;
  return true;
}

export class RowAssembler {
  private readonly windows = new Map<Timeframe, SequenceWindows>();
  /** online-scaling banks by rollingKey(timeframe, parameters) */
  private readonly banks = new Map<string, RollingScalingBank>();

  /**
   * @param columns the engine's feature columns (FeatureVector.values' width)
   * @param maxSymbols most (symbol) windows kept per timeframe
   */
  constructor(
    private readonly columns: number,
    private readonly maxSymbols: number,
  ) {}

  /** Window planes only for the sequence models scored now. */
  keepPlanes(planes: ReadonlySet<string>): void {
    for (const windows of this.windows.values()) windows.keepPlanes(planes);
  }

  /** Windows and banks as JSON-able state (part of the engine snapshot). */
  snapshot(): ScorerSnapshot {
    const windows: Partial<Record<Timeframe, WindowSnapshot>> = {};
    for (const [timeframe, w] of this.windows) windows[timeframe] = w.snapshot();
    const rolling: Record<string, RollingBankSnapshot> = {};
    for (const [key, bank] of this.banks) rolling[key] = bank.snapshot();
    return { version: 1, windows, rolling };
  }

  restore(state: ScorerSnapshot): void {
    if (typeof state !== 'object' || state === null || typeof state.windows !== 'object' || state.windows === null)
      throw new MlfpError('snapshot_invalid', 'scorer snapshot is not an object with windows');
    if (state.version !== 1) throw new MlfpError('snapshot_invalid', `scorer snapshot version ${String(state.version)}`);
    this.windows.clear();
    for (const [timeframe, snap] of Object.entries(state.windows) as [Timeframe, WindowSnapshot][]) {
      const w = new SequenceWindows(snap.width, snap.depth, this.maxSymbols);
      w.restore(snap);
      this.windows.set(timeframe, w);
    }
    this.banks.clear();
    for (const [key, snap] of Object.entries(state.rolling ?? {})) {
      const bank = new RollingScalingBank(snap.timeframe, snap.parameters, this.columns, this.maxSymbols);
      bank.restore(snap);
      this.banks.set(key, bank);
    }
  }

  private bankFor(timeframe: Timeframe, parameters: RollingScalingParameters): RollingScalingBank {
    const key = rollingKey(timeframe, parameters);
    let bank = this.banks.get(key);
    if (bank === undefined) {
      bank = new RollingScalingBank(timeframe, parameters, this.columns, this.maxSymbols);
      this.banks.set(key, bank);
    }
    return bank;
  }

  private windowsFor(timeframe: Timeframe, depth: number): SequenceWindows {
    let w = this.windows.get(timeframe);
    if (w === undefined) {
      w = new SequenceWindows(this.columns, depth, this.maxSymbols);
      this.windows.set(timeframe, w);
    } else w.ensureDepth(depth);
    return w;
  }

  /** Appends every lane's input rows, updating the windows in arrival order; returns the rows skipped. */
  assemble(vectors: readonly FeatureVector[], arrivedAt: Float64Array, lanes: readonly Lane[]): number {
    let skipped = 0;
    // deepest window each timeframe needs, from the sequence models active now
    let sequenceTimeframes: Map<Timeframe, SequenceWindows> | undefined;
    // online-scaling banks in use, and which bank each lane reads (by lane index)
    let banks: RollingScalingBank[] | undefined;
    const laneBank: (RollingScalingBank | undefined)[] = [];
    for (const lane of lanes) {
      if (lane.rolling === undefined) {
        laneBank.push(undefined);
        continue;
      }
      const bank = this.bankFor(lane.model.manifest.timeframe, lane.rolling);
      if (lane.steps > 1) bank.ensureWindows(lane.steps);
      banks ??= [];
      if (!banks.includes(bank)) banks.push(bank);
      laneBank.push(bank);
    }
    for (const lane of lanes)
      if (lane.planeSpec !== undefined) {
        const tf = lane.model.manifest.timeframe;
        sequenceTimeframes ??= new Map();
        const depth = Math.max(lane.steps, sequenceTimeframes.get(tf)?.depth ?? 0);
        sequenceTimeframes.set(tf, this.windowsFor(tf, depth));
      }
    // planes after every depth change (a deeper ring is rebuilt)
    for (const lane of lanes)
      if (lane.planeSpec !== undefined)
        lane.plane = sequenceTimeframes!.get(lane.model.manifest.timeframe)!.plane(lane.planeKey, lane.planeSpec);
    for (let i = 0; i < vectors.length; i++) {
      const vector = vectors[i]!;
      const windows = sequenceTimeframes?.get(vector.timeframe);
      let ring: WindowRing | undefined;
      if (windows !== undefined) ring = windows.update(vector.symbol, vector.ts, vector.values);
      // each bank of this vector's timeframe scales it once; its z-row serves every lane reading the bank
      let staleBanks: RollingScalingBank[] | undefined;
      if (banks !== undefined)
        for (const bank of banks)
          if (bank.timeframeOf === vector.timeframe && !bank.scale(vector)) (staleBanks ??= []).push(bank);
      for (let a = 0; a < lanes.length; a++) {
        const lane = lanes[a]!;
        if (lane.model.manifest.timeframe !== vector.timeframe) continue;
        const base = lane.rows * lane.rowSize;
        const bank = laneBank[a];
        let ready = false;
        if (bank !== undefined) {
          const ok =
            staleBanks?.includes(bank) !== true &&
            (lane.steps > 1
              ? bank.windows!.copyWindow(vector.symbol, lane.steps, lane.columns, lane.input, base)
              : copyColumns(bank.row, lane.columns, lane.input, base));
          if (!ok) {
            skipped++;
            continue;
          }
        } else if (lane.planeSpec !== undefined) {
          // the plane is scaled and its missing values handled: the row is ready
          if (ring === undefined || !windows!.copyPlane(ring, lane.plane, lane.steps, lane.input, base)) {
            skipped++;
            continue;
          }
          ready = true;
        } else if (lane.identityColumns) {
          lane.input.set(vector.values, base);
        } else {
          const values = vector.values;
          const columns = lane.columns;
          for (let j = 0; j < columns.length; j++) lane.input[base + j] = values[columns[j]!]!;
        }
        if (!ready && !lane.prepareRow()) {
          skipped++;
          continue;
        }
        lane.arrivals[lane.rows] = i < arrivedAt.length ? arrivedAt[i]! : Number.NaN;
        lane.vectors.push(vector);
        lane.rows++;
      }
    }
    return skipped;
  }
}

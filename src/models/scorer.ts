// Scores a batch of closed-bar feature vectors with every live and shadow model of their timeframe:
// keeps per-symbol sequence windows, maps and scales the inputs, runs each runtime once per batch and
// turns outputs into Prediction records; model failures become model_error alerts, counted.

import type { Alert, FeatureVector, Prediction, Timeframe } from '../domain/types.js';
import { MlfpError, toMlfpError } from '../errors.js';
import type { LoadedModel } from './load-model.js';
import { outputNamesOf } from './manifest.js';
import type { ActiveModel, ModelRegistry } from './registry.js';
import { SequenceWindows, type WindowSnapshot } from './sequence-windows.js';

export type ScoreOutput = Prediction | Alert;

export interface ScorerStats {
  batches: number;
  vectors: number;
  predictions: number;
  shadowPredictions: number;
  /** rows not scored: `skip` policy with a missing input, or a sequence window not full yet */
  skipped: number;
  /** rows lost to model errors (exceptions, wrong shapes, non-finite outputs) */
  modelErrors: number;
}

export interface ScorerOptions {
  /** receives shadow models' predictions (never published) */
  onShadowPrediction?: (prediction: Prediction) => void;
  /** most (symbol) windows kept per timeframe; the least recently updated goes first */
  maxSymbols?: number;
  /** record, for each output of the latest batch, the index of its vector (-1 for alerts): `lastOutputRows` */
  trackRows?: boolean;
}

/** Per-model buffers and the column mapping, made once per model and reused for every batch. */
class ModelBatch {
  readonly model: LoadedModel;
  readonly columns: Int32Array;
  readonly steps: number;
  readonly width: number;
  readonly outputWidth: number;
  readonly outputKeys: string[];
  readonly labels: string[] | undefined;
  readonly mean: Float64Array | undefined;
  readonly std: Float64Array | undefined;
  readonly missing: 'native' | 'zero' | 'skip';
  input = new Float64Array(0);
  output = new Float64Array(0);
  /** batch index of each assembled row */
  rowOf = new Int32Array(0);
  rows = 0;

  constructor(model: LoadedModel, engineColumns: readonly string[]) {
    const m = model.manifest;
    this.model = model;
    this.columns = Int32Array.from(m.inputs.features, (f) => engineColumns.indexOf(f));
    this.steps = m.inputs.sequenceLength;
    this.width = m.inputs.features.length;
    this.outputWidth = model.runtime.outputWidth;
    this.outputKeys = outputNamesOf(m);
    this.labels = m.output.type === 'classes' ? m.output.labels : undefined;
    this.missing = m.inputs.missing;
    if (m.inputs.scaling.kind === 'standard') {
      this.mean = Float64Array.from(m.inputs.scaling.mean);
      this.std = Float64Array.from(m.inputs.scaling.std);
    }
  }

  reserve(rows: number): void {
    const rowSize = this.steps * this.width;
    if (this.input.length < rows * rowSize) this.input = new Float64Array(rows * rowSize * 2);
    if (this.rowOf.length < rows) this.rowOf = new Int32Array(rows * 2);
  }

  reserveOutput(width: number): void {
    if (this.output.length < this.rows * width) this.output = new Float64Array(this.rows * width * 2);
  }

  /** Scales row `r` in place and applies the missing-value policy; false when the row must be skipped. */
  prepareRow(r: number): boolean {
    const size = this.steps * this.width;
    const base = r * size;
    const input = this.input;
    const mean = this.mean;
    const std = this.std;
    const width = this.width;
    for (let i = 0; i < size; i++) {
      let v = input[base + i]!;
      if (mean !== undefined) {
        const j = i % width;
        // (x - mean) / std, the same double operations as numpy in the training script
        v = (v - mean[j]!) / std![j]!;
      }
      if (v !== v) {
        if (this.missing === 'skip') return false;
        if (this.missing === 'zero') v = 0;
      }
      input[base + i] = v;
    }
    return true;
  }
}

export class Scorer {
  readonly registry: ModelRegistry;
  readonly stats: ScorerStats = {
    batches: 0,
    vectors: 0,
    predictions: 0,
    shadowPredictions: 0,
    skipped: 0,
    modelErrors: 0,
  };
  /** with `trackRows`: vector index (in the latest batch) of each output it returned; -1 for alerts */
  lastOutputRows: number[] = [];
  private readonly trackRows: boolean;
  private readonly onShadow: ((p: Prediction) => void) | undefined;
  private readonly maxSymbols: number;
  private readonly batches = new WeakMap<LoadedModel, ModelBatch>();
  private readonly windows = new Map<Timeframe, SequenceWindows>();

  constructor(registry: ModelRegistry, options: ScorerOptions = {}) {
    this.registry = registry;
    this.onShadow = options.onShadowPrediction;
    this.maxSymbols = options.maxSymbols ?? 100_000;
    this.trackRows = options.trackRows === true;
  }

  /**
   * Scores `vectors` (in arrival order) with the models live / shadow when the batch starts. Returns
   * the published outputs (live predictions, then alerts) synchronously when every runtime is
   * synchronous (native trees), else a promise. `arrivedAt[i]` is when vector i arrived (for
   * latencyMs); `now` reads the same clock.
   */
  scoreBatch(
    vectors: readonly FeatureVector[],
    arrivedAt: Float64Array | undefined,
    now: () => number,
  ): ScoreOutput[] | Promise<ScoreOutput[]> {
    const active = this.registry.beginBatch();
    this.stats.batches++;
    this.stats.vectors += vectors.length;
    let pending: Promise<unknown>[] | undefined;
    const errors: (MlfpError | undefined)[] = new Array<MlfpError | undefined>(active.length);
    const prepared: (ModelBatch | undefined)[] = this.assemble(vectors, active);
    for (let a = 0; a < active.length; a++) {
      const batch = prepared[a];
      if (batch === undefined || batch.rows === 0) continue;
      batch.reserveOutput(batch.outputWidth);
      try {
        const result = batch.model.runtime.score(batch.input, batch.rows, batch.output);
        if (result !== undefined)
          (pending ??= []).push(
            result.then(
              () => undefined,
              (error: unknown) => {
                errors[a] = toMlfpError(error, 'model_error');
              },
            ),
          );
      } catch (error) {
        errors[a] = toMlfpError(error, 'model_error');
      }
    }
    const finish = (): ScoreOutput[] => {
      try {
        return this.collect(vectors, arrivedAt, now, active, prepared, errors);
      } finally {
        this.registry.endBatch(active);
      }
    };
    if (pending === undefined) return finish();
    return Promise.all(pending).then(finish);
  }

  /** Sequence windows as JSON-able state, per timeframe (part of the engine snapshot). */
  snapshot(): { version: 1; windows: Partial<Record<Timeframe, WindowSnapshot>> } {
    const windows: Partial<Record<Timeframe, WindowSnapshot>> = {};
    for (const [timeframe, w] of this.windows) windows[timeframe] = w.snapshot();
    return { version: 1, windows };
  }

  restore(state: { version: 1; windows: Partial<Record<Timeframe, WindowSnapshot>> }): void {
    if (state.version !== 1)
      throw new MlfpError('bad_schema', `scorer snapshot version ${String(state.version)}`);
    this.windows.clear();
    for (const [timeframe, snap] of Object.entries(state.windows) as [Timeframe, WindowSnapshot][]) {
      const w = new SequenceWindows(snap.width, snap.depth, this.maxSymbols);
      w.restore(snap);
      this.windows.set(timeframe, w);
    }
  }

  private batchOf(model: LoadedModel): ModelBatch {
    let batch = this.batches.get(model);
    if (batch === undefined) {
      batch = new ModelBatch(model, this.registry.columns);
      this.batches.set(model, batch);
    }
    return batch;
  }

  private windowsFor(timeframe: Timeframe, depth: number): SequenceWindows {
    let w = this.windows.get(timeframe);
    if (w === undefined) {
      w = new SequenceWindows(this.registry.columns.length, depth, this.maxSymbols);
      this.windows.set(timeframe, w);
    } else w.ensureDepth(depth);
    return w;
  }

  /** Builds every model's input rows, updating the windows in arrival order. */
  private assemble(
    vectors: readonly FeatureVector[],
    active: readonly ActiveModel[],
  ): (ModelBatch | undefined)[] {
    const prepared = active.map((a) => {
      const batch = this.batchOf(a.model);
      batch.rows = 0;
      batch.reserve(vectors.length);
      return batch;
    });
    // deepest window each timeframe needs, from the sequence models active now
    let sequenceTimeframes: Map<Timeframe, SequenceWindows> | undefined;
    for (const batch of prepared)
      if (batch.steps > 1) {
        const tf = batch.model.manifest.timeframe;
        sequenceTimeframes ??= new Map();
        const depth = Math.max(batch.steps, sequenceTimeframes.get(tf)?.depth ?? 0);
        sequenceTimeframes.set(tf, this.windowsFor(tf, depth));
      }
    for (let i = 0; i < vectors.length; i++) {
      const vector = vectors[i]!;
      const windows = sequenceTimeframes?.get(vector.timeframe);
      let stale = false;
      if (windows !== undefined) stale = windows.push(vector.symbol, vector.ts, vector.values) === 'stale';
      for (let a = 0; a < prepared.length; a++) {
        const batch = prepared[a]!;
        if (batch.model.manifest.timeframe !== vector.timeframe) continue;
        const r = batch.rows;
        const rowSize = batch.steps * batch.width;
        if (batch.steps > 1) {
          if (
            stale ||
            !windows!.copyWindow(vector.symbol, batch.steps, batch.columns, batch.input, r * rowSize)
          ) {
            this.stats.skipped++;
            continue;
          }
        } else {
          const values = vector.values;
          const columns = batch.columns;
          const base = r * rowSize;
          for (let j = 0; j < columns.length; j++) batch.input[base + j] = values[columns[j]!]!;
        }
        if (!batch.prepareRow(r)) {
          this.stats.skipped++;
          continue;
        }
        batch.rowOf[r] = i;
        batch.rows = r + 1;
      }
    }
    return prepared;
  }

  private collect(
    vectors: readonly FeatureVector[],
    arrivedAt: Float64Array | undefined,
    now: () => number,
    active: readonly ActiveModel[],
    prepared: readonly (ModelBatch | undefined)[],
    errors: readonly (MlfpError | undefined)[],
  ): ScoreOutput[] {
    const out: ScoreOutput[] = [];
    const alerts: Alert[] = [];
    const rows: number[] | undefined = this.trackRows ? [] : undefined;
    const at = now();
    for (let a = 0; a < active.length; a++) {
      const batch = prepared[a];
      if (batch === undefined || batch.rows === 0) continue;
      const { model, role } = active[a]!;
      const m = model.manifest;
      const error = errors[a];
      if (error !== undefined) {
        this.stats.modelErrors += batch.rows;
        alerts.push(
          modelErrorAlert(
            model,
            role,
            batch.rows,
            at,
            `${error.message} (${batch.rows} rows not scored)`,
            'critical',
          ),
        );
        continue;
      }
      const width = batch.outputWidth;
      const output = batch.output;
      const labels = batch.labels;
      const keys = batch.outputKeys;
      let bad = 0;
      let firstBad = '';
      for (let r = 0; r < batch.rows; r++) {
        const base = r * width;
        let finite = true;
        for (let j = 0; j < width; j++) if (!Number.isFinite(output[base + j]!)) finite = false;
        const vector = vectors[batch.rowOf[r]!]!;
        if (!finite) {
          bad++;
          if (firstBad === '') firstBad = `${vector.symbol} ${new Date(vector.ts).toISOString()}`;
          continue;
        }
        let result: Record<string, number | string>;
        if (labels === undefined) {
          result = {};
          for (let j = 0; j < width; j++) result[keys[j]!] = output[base + j]!;
        } else result = classOutput(labels, keys, output, base, width);
        const prediction: Prediction = {
          symbol: vector.symbol,
          timeframe: vector.timeframe,
          ts: vector.ts,
          model: m.name,
          version: m.version,
          kind: m.kind,
          output: result,
          latencyMs: arrivedAt === undefined ? 0 : at - arrivedAt[batch.rowOf[r]!]!,
        };
        if (role === 'live') {
          out.push(prediction);
          rows?.push(batch.rowOf[r]!);
          this.stats.predictions++;
        } else {
          this.stats.shadowPredictions++;
          this.onShadow?.(prediction);
        }
      }
      if (bad > 0) {
        this.stats.modelErrors += bad;
        alerts.push(
          modelErrorAlert(
            model,
            role,
            bad,
            at,
            `${bad} of ${batch.rows} outputs were NaN or infinite (first: ${firstBad})`,
            'warning',
          ),
        );
      }
    }
    for (const alert of alerts) {
      out.push(alert);
      rows?.push(-1);
    }
    if (rows !== undefined) this.lastOutputRows = rows;
    return out;
  }
}

/** `label` (the most probable class; the first on a tie) and `p_<label>` per class. */
function classOutput(
  labels: readonly string[],
  keys: readonly string[],
  output: Float64Array,
  base: number,
  width: number,
): Record<string, number | string> {
  const result: Record<string, number | string> = {};
  if (width === 1) {
    // binary model: its one output is P(second label)
    const p1 = output[base]!;
    result.label = p1 > 0.5 ? labels[1]! : labels[0]!;
    result[keys[0]!] = 1 - p1;
    result[keys[1]!] = p1;
    return result;
  }
  let best = 0;
  for (let j = 1; j < width; j++) if (output[base + j]! > output[base + best]!) best = j;
  result.label = labels[best]!;
  for (let j = 0; j < width; j++) result[keys[j]!] = output[base + j]!;
  return result;
}

function modelErrorAlert(
  model: LoadedModel,
  role: 'live' | 'shadow',
  count: number,
  ts: number,
  message: string,
  severity: 'warning' | 'critical',
): Alert {
  return {
    type: 'model_error',
    state: 'firing',
    severity,
    subject: role === 'live' ? model.id : `${model.id} (shadow)`,
    value: count,
    threshold: 0,
    ts,
    message,
  };
}

// Scores closed-bar feature vectors with every live and shadow model of their timeframe. Each model
// has a lane: rows are assembled in arrival order (per-symbol windows, column mapping, scaling), a
// synchronous runtime (native trees) scores them at once, an asynchronous one (onnxruntime, TF.js) runs
// at most `maxRunRows` rows at a time while later rows queue behind it. Outputs go to one sink: live
// predictions, and model_error alerts (counted) for exceptions, wrong shapes, NaN/Inf outputs.

import type { Alert, FeatureVector, Prediction, Timeframe } from '../../domain/types.js';
import { MlfpError, toMlfpError } from '../../errors.js';
import type { LoadedModel } from '../load-model.js';
import { outputNamesOf } from '../manifest.js';
import type { ActiveModel, ModelRegistry } from '../registry.js';
import {
  RollingScalingBank,
  rollingKey,
  type RollingBankSnapshot,
  type RollingScalingParameters,
} from './rolling-scaling.js';
import { SequenceWindows, type PlaneSpec, type Rows, type WindowRing, type WindowSnapshot } from './sequence-windows.js';

export type ScoreOutput = Prediction | Alert;

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

/** Receives each published output, with the vector it belongs to (undefined for alerts). */
export type ScoreSink = (output: ScoreOutput, vector: FeatureVector | undefined) => void;

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
  /** most rows in one asynchronous inference: bounds how long it blocks the event loop */
  maxRunRows?: number;
  /** most rows waiting in one model's lane before submit() refuses more (the models are too slow) */
  maxPendingRows?: number;
  /**
   * asynchronous runs in flight per model (default 8): the runs of a burst (1,000 bars closing
   * together are 4 runs of 256) all queue on the worker while the event loop is still assembling and
   * scoring the rest of the burst, instead of waiting for the burst to end before they are dispatched
   */
  maxRunsInFlight?: number;
  /** clock for latencyMs and alert times (the operator passes its scheduler's) */
  now?: () => number;
}

const EMPTY_ARRIVALS = new Float64Array(0);

/** One asynchronous inference: its rows' vectors, arrival times and output. */
interface Run {
  vectors: FeatureVector[];
  arrivals: Float64Array;
  output: Float64Array;
  done: boolean;
  error: MlfpError | undefined;
}

/** One model's queue of assembled rows, its buffers and its column mapping. */
class Lane {
  readonly model: LoadedModel;
  readonly role: 'live' | 'shadow';
  readonly columns: Int32Array;
  /** the model reads every engine column in engine order: rows are copied whole */
  readonly identityColumns: boolean;
  readonly steps: number;
  readonly width: number;
  readonly rowSize: number;
  readonly outputWidth: number;
  readonly outputKeys: string[];
  readonly labels: string[] | undefined;
  readonly mean: Float64Array | undefined;
  readonly std: Float64Array | undefined;
  readonly missing: 'native' | 'zero' | 'skip';
  /** online scaling: the bank (rollingKey) whose z-rows this lane reads instead of the raw vector */
  readonly rolling: RollingScalingParameters | undefined;
  readonly synchronous: boolean;
  /** a sequence model on the raw windows: how it reads them (its plane is scaled once per vector) */
  readonly planeSpec: PlaneSpec | undefined;
  readonly planeKey: string;
  /** the plane's index in its timeframe's windows, resolved at each submit */
  plane = -1;
  /** rows are assembled in float32: a sequence model whose runtime takes float32 (no conversion per run) */
  readonly float32: boolean;
  input: Rows = new Float64Array(0);
  output = new Float64Array(0);
  /** pending rows' vectors and arrival times (rows [0, rows) of `input`) */
  vectors: FeatureVector[] = [];
  arrivals = new Float64Array(0);
  rows = 0;
  /** asynchronous runs in flight, oldest first: published in this order */
  runs: Run[] = [];
  /** the previous lane of the same name and role, still draining: this one waits for it (per-symbol order) */
  after: Lane | undefined;

  constructor(model: LoadedModel, role: 'live' | 'shadow', engineColumns: readonly string[]) {
    const m = model.manifest;
    this.model = model;
    this.role = role;
    this.columns = Int32Array.from(m.inputs.features, (f) => engineColumns.indexOf(f));
    this.identityColumns =
      this.columns.length === engineColumns.length && this.columns.every((column, j) => column === j);
    this.steps = m.inputs.sequenceLength;
    this.width = m.inputs.features.length;
    this.rowSize = this.steps * this.width;
    this.outputWidth = model.runtime.outputWidth;
    this.outputKeys = outputNamesOf(m);
    this.labels = m.output.type === 'classes' ? m.output.labels : undefined;
    this.missing = m.inputs.missing;
    this.synchronous = model.runtime.synchronous;
    const scaling = m.inputs.scaling;
    if (scaling.kind === 'standard') {
      this.mean = Float64Array.from(scaling.mean);
      this.std = Float64Array.from(scaling.std);
    }
    this.rolling =
      scaling.kind === 'rolling'
        ? { window: scaling.window, minCount: scaling.minCount ?? scaling.window, ddof: scaling.ddof }
        : undefined;
    this.float32 = false;
    if (this.steps > 1 && this.rolling === undefined) {
      this.float32 = model.runtime.float32Input === true;
      this.planeSpec = { columns: this.columns, mean: this.mean, std: this.std, missing: this.missing, float32: this.float32 };
      this.planeKey = JSON.stringify([m.timeframe, [...this.columns], scaling, this.missing, this.float32]);
      if (this.float32) this.input = new Float32Array(0);
    } else this.planeKey = '';
  }

  /** Room for `more` rows after the pending ones. */
  reserve(more: number): void {
    const rows = this.rows + more;
    if (this.input.length < rows * this.rowSize) {
      const size = rows * this.rowSize * 2;
      const grown = this.float32 ? new Float32Array(size) : new Float64Array(size);
      grown.set(this.input.subarray(0, this.rows * this.rowSize));
      this.input = grown;
    }
    if (this.arrivals.length < rows) {
      const grown = new Float64Array(rows * 2);
      grown.set(this.arrivals.subarray(0, this.rows));
      this.arrivals = grown;
    }
  }

  /**
   * Scales the row at `rows` in place and applies the missing-value policy; false = skip it. (Rows
   * copied from a window plane are ready already.)
   */
  prepareRow(): boolean {
    const mean = this.mean;
    const std = this.std;
    const missing = this.missing;
    if (mean === undefined && missing === 'native') return true; // nothing to do: the common fast path
    const width = this.width;
    const input = this.input;
    let at = this.rows * this.rowSize;
    for (let step = 0; step < this.steps; step++) {
      for (let j = 0; j < width; j++, at++) {
        let v = input[at]!;
        // (x - mean) / std, the same double operations as numpy in the training script
        if (mean !== undefined) v = (v - mean[j]!) / std![j]!;
        if (v !== v) {
          if (missing === 'skip') return false;
          if (missing === 'zero') v = 0;
        }
        input[at] = v;
      }
    }
    return true;
  }

  /** Drops the first `count` pending rows (they went into a run). */
  shift(count: number): void {
    if (count === this.rows) {
      this.rows = 0;
      this.vectors = [];
      return;
    }
    this.input.copyWithin(0, count * this.rowSize, this.rows * this.rowSize);
    this.arrivals.copyWithin(0, count, this.rows);
    this.vectors = this.vectors.slice(count);
    this.rows -= count;
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
  private readonly onShadow: ((p: Prediction) => void) | undefined;
  private readonly maxSymbols: number;
  private readonly maxRunRows: number;
  private readonly maxPendingRows: number;
  private readonly maxRunsInFlight: number;
  private now: () => number;
  private sink: ScoreSink = () => undefined;
  /** lanes of the current assignment, rebuilt when the registry's generation changes */
  private lanes: Lane[] = [];
  private lanesGeneration = -1;
  private readonly laneOf = new Map<LoadedModel, Lane>();
  /** lanes that still have rows or a run after leaving the assignment */
  private readonly draining = new Set<Lane>();
  private readonly windows = new Map<Timeframe, SequenceWindows>();
  /** online-scaling banks by rollingKey(timeframe, parameters) */
  private readonly banks = new Map<string, RollingScalingBank>();
  private idleWaiters: (() => void)[] = [];

  constructor(registry: ModelRegistry, options: ScorerOptions = {}) {
    this.registry = registry;
    this.onShadow = options.onShadowPrediction;
    this.maxSymbols = options.maxSymbols ?? 100_000;
    this.maxRunRows = options.maxRunRows ?? 256;
    this.maxPendingRows = options.maxPendingRows ?? 262_144;
    this.maxRunsInFlight = options.maxRunsInFlight ?? 8;
    this.now = options.now ?? (() => performance.timeOrigin + performance.now());
  }

  /** Where outputs go (the operator's subscriber), and the clock its arrival times use. */
  connect(sink: ScoreSink, now?: () => number): void {
    this.sink = sink;
    if (now !== undefined) this.now = now;
  }

  /**
   * Assembles `vectors` (in arrival order) for the models live / shadow now: synchronous models
   * publish before this returns, asynchronous ones when their run ends (see whenIdle). `arrivedAt[i]`
   * is when vector i arrived, on the `now` clock. Throws when a lane is over maxPendingRows.
   */
  submit(vectors: readonly FeatureVector[], arrivedAt?: Float64Array): void {
    // runs that finished while the caller was busy (a burst of closes) publish now, not after the burst
    this.pollRuns();
    const lanes = this.currentLanes();
    this.stats.batches++;
    this.stats.vectors += vectors.length;
    for (const lane of lanes) {
      if (lane.rows + vectors.length > this.maxPendingRows)
        throw new MlfpError(
          'internal',
          `model ${lane.model.id} has ${lane.rows} rows waiting (maxPendingRows ${this.maxPendingRows}): it is slower than the input`,
        );
      lane.reserve(vectors.length);
    }
    this.assemble(vectors, arrivedAt ?? EMPTY_ARRIVALS, lanes);
    // asynchronous runs (the worker thread, the longest path of a burst) are dispatched first, then the
    // synchronous models (trees) score and publish while the worker computes: in the 1,000-symbol
    // benchmark the LSTM's p50 fell from 1.45 to 1.33 ms this way, the trees' p99 moved within noise
    for (const lane of lanes) if (!lane.synchronous && lane.rows > 0 && lane.after === undefined) this.run(lane);
    for (const lane of lanes) if (lane.synchronous && lane.rows > 0 && lane.after === undefined) this.run(lane);
    this.pollRuns();
  }

  /** Asks every runtime with runs in flight for those finished by now (published before this returns). */
  private pollRuns(): void {
    for (const lane of this.lanes) if (lane.runs.length > 0) lane.model.runtime.poll?.();
    for (const lane of this.draining) if (lane.runs.length > 0) lane.model.runtime.poll?.();
  }

  /** True when no rows wait and no inference runs. */
  get idle(): boolean {
    for (const lane of this.lanes) if (lane.rows > 0 || lane.runs.length > 0) return false;
    return this.draining.size === 0;
  }

  /** Rows assembled and not yet handed to a run, all models together (for metrics). */
  get pendingRows(): number {
    let rows = 0;
    for (const lane of this.lanes) rows += lane.rows;
    for (const lane of this.draining) rows += lane.rows;
    return rows;
  }

  /** Resolves once idle (at once when idle now). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * submit() then wait for every model: the outputs of `vectors`, as an array (synchronously when
   * every active model is synchronous). For the CLI and tests; not to be mixed with a connected
   * operator on the same scorer.
   */
  scoreBatch(vectors: readonly FeatureVector[], arrivedAt?: Float64Array): ScoreOutput[] | Promise<ScoreOutput[]> {
    const outputs: ScoreOutput[] = [];
    const previous = this.sink;
    this.sink = (o) => outputs.push(o);
    try {
      this.submit(vectors, arrivedAt);
    } catch (error) {
      this.sink = previous;
      throw error;
    }
    if (this.idle) {
      this.sink = previous;
      return outputs;
    }
    return this.whenIdle().then(() => {
      this.sink = previous;
      return outputs;
    });
  }

  /** Sequence windows as JSON-able state, per timeframe (part of the engine snapshot). */
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
      const bank = new RollingScalingBank(snap.timeframe, snap.parameters, this.registry.columns.length, this.maxSymbols);
      bank.restore(snap);
      this.banks.set(key, bank);
    }
  }

  /** Lanes for the registry's assignment now; lanes of models that left it finish what they hold. */
  private currentLanes(): Lane[] {
    if (this.lanesGeneration === this.registry.generation) return this.lanes;
    const active: readonly ActiveModel[] = this.registry.assignment();
    const previous = this.lanes;
    const next: Lane[] = [];
    const keep = new Set<Lane>();
    for (const { model, role } of active) {
      let lane = this.laneOf.get(model);
      if (lane === undefined || lane.role !== role) {
        lane = new Lane(model, role, this.registry.columns);
        this.registry.retain(model);
      }
      keep.add(lane);
      next.push(lane);
    }
    for (const lane of previous) if (!keep.has(lane)) this.retire(lane);
    this.laneOf.clear();
    for (const lane of next) {
      this.laneOf.set(lane.model, lane);
      if (keep.has(lane) && previous.includes(lane)) continue;
      // a new lane waits for the draining lane that held its name and role (a swapped version)
      for (const old of this.draining)
        if (old.role === lane.role && old.model.manifest.name === lane.model.manifest.name) lane.after = old;
    }
    this.lanes = next;
    // window planes only for the sequence models scored now
    const planes = new Set(next.map((lane) => lane.planeKey));
    for (const windows of this.windows.values()) windows.keepPlanes(planes);
    this.lanesGeneration = this.registry.generation;
    return next;
  }

  private retire(lane: Lane): void {
    if (lane.rows > 0 || lane.runs.length > 0 || lane.after !== undefined) this.draining.add(lane);
    else this.registry.release(lane.model);
  }

  private bankFor(timeframe: Timeframe, parameters: RollingScalingParameters): RollingScalingBank {
    const key = rollingKey(timeframe, parameters);
    let bank = this.banks.get(key);
    if (bank === undefined) {
      bank = new RollingScalingBank(timeframe, parameters, this.registry.columns.length, this.maxSymbols);
      this.banks.set(key, bank);
    }
    return bank;
  }

  private windowsFor(timeframe: Timeframe, depth: number): SequenceWindows {
    let w = this.windows.get(timeframe);
    if (w === undefined) {
      w = new SequenceWindows(this.registry.columns.length, depth, this.maxSymbols);
      this.windows.set(timeframe, w);
    } else w.ensureDepth(depth);
    return w;
  }

  /** Appends every lane's input rows, updating the windows in arrival order. */
  private assemble(vectors: readonly FeatureVector[], arrivedAt: Float64Array, lanes: readonly Lane[]): void {
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
            this.stats.skipped++;
            continue;
          }
        } else if (lane.planeSpec !== undefined) {
          // the plane is scaled and its missing values handled: the row is ready
          if (ring === undefined || !windows!.copyPlane(ring, lane.plane, lane.steps, lane.input, base)) {
            this.stats.skipped++;
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
          this.stats.skipped++;
          continue;
        }
        lane.arrivals[lane.rows] = i < arrivedAt.length ? arrivedAt[i]! : Number.NaN;
        lane.vectors.push(vector);
        lane.rows++;
      }
    }
  }

  /**
   * Scores the lane's pending rows: all of them at once when synchronous; otherwise in runs of at most
   * maxRunRows, up to maxRunsInFlight at a time.
   */
  private run(lane: Lane): void {
    if (lane.synchronous) {
      const rows = lane.rows;
      if (lane.output.length < rows * lane.outputWidth) lane.output = new Float64Array(rows * lane.outputWidth * 2);
      const vectors = lane.vectors;
      const arrivals = lane.arrivals.slice(0, rows);
      let error: MlfpError | undefined;
      try {
        lane.model.runtime.score(lane.input, rows, lane.output);
      } catch (thrown) {
        error = toMlfpError(thrown, 'model_error');
      }
      lane.shift(rows);
      this.publish(lane, vectors, arrivals, lane.output, error);
      this.settle(lane);
      return;
    }
    while (lane.rows > 0 && lane.runs.length < this.maxRunsInFlight) {
      const rows = Math.min(lane.rows, this.maxRunRows);
      const run: Run = {
        vectors: lane.vectors.slice(0, rows),
        arrivals: lane.arrivals.slice(0, rows),
        // each run in flight writes its own output
        output: new Float64Array(rows * lane.outputWidth),
        done: false,
        error: undefined,
      };
      lane.runs.push(run);
      const runtime = lane.model.runtime;
      if (runtime.scoreWith !== undefined) {
        // completion may come synchronously from a later pollRuns() (inside a burst) or from an event
        const done = (error: unknown): void =>
          this.finishRun(lane, run, error === undefined ? undefined : toMlfpError(error, 'model_error'));
        try {
          runtime.scoreWith(lane.input, rows, run.output, done);
        } catch (thrown) {
          queueMicrotask(() => done(thrown ?? new Error('scoreWith threw')));
        }
        lane.shift(rows);
        continue;
      }
      let result: void | Promise<void>;
      try {
        result = runtime.score(lane.input, rows, run.output);
      } catch (thrown) {
        result = Promise.reject(thrown as Error);
      }
      lane.shift(rows);
      Promise.resolve(result).then(
        () => this.finishRun(lane, run, undefined),
        (error: unknown) => this.finishRun(lane, run, toMlfpError(error, 'model_error')),
      );
    }
  }

  /** Marks a run done and publishes the finished runs at the head, in order; starts more. */
  private finishRun(lane: Lane, run: Run, error: MlfpError | undefined): void {
    run.done = true;
    run.error = error;
    while (lane.runs.length > 0 && lane.runs[0]!.done) {
      const head = lane.runs.shift()!;
      this.publish(lane, head.vectors, head.arrivals, head.output, head.error);
    }
    if (lane.rows > 0 && lane.after === undefined) this.run(lane);
    this.settle(lane);
  }

  /** A lane with nothing left: a retired one lets its model go; lanes waiting for it start. */
  private settle(lane: Lane): void {
    if (lane.rows > 0 || lane.runs.length > 0 || lane.after !== undefined) return;
    if (this.draining.delete(lane)) {
      this.registry.release(lane.model);
      for (const waiting of [...this.lanes, ...this.draining])
        if (waiting.after === lane) {
          waiting.after = undefined;
          if (waiting.rows > 0) this.run(waiting);
          else this.settle(waiting);
        }
    }
    if (this.idleWaiters.length > 0 && this.idle) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Turns a run's outputs into predictions (live: to the sink; shadow: to onShadowPrediction) and alerts. */
  private publish(
    lane: Lane,
    vectors: FeatureVector[],
    arrivals: Float64Array,
    output: Float64Array,
    error: MlfpError | undefined,
  ): void {
    const { model, role } = lane;
    const at = this.now();
    const rows = vectors.length;
    if (error !== undefined) {
      this.stats.modelErrors += rows;
      this.sink(modelErrorAlert(model, role, rows, at, `${error.message} (${rows} rows not scored)`, 'critical'), undefined);
      return;
    }
    const m = model.manifest;
    const width = lane.outputWidth;
    const labels = lane.labels;
    const keys = lane.outputKeys;
    let bad = 0;
    let firstBad = '';
    for (let r = 0; r < rows; r++) {
      const base = r * width;
      let finite = true;
      for (let j = 0; j < width; j++) if (!Number.isFinite(output[base + j]!)) finite = false;
      const vector = vectors[r]!;
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
      const arrived = arrivals[r]!;
      const prediction: Prediction = {
        symbol: vector.symbol,
        timeframe: vector.timeframe,
        ts: vector.ts,
        model: m.name,
        version: m.version,
        kind: m.kind,
        output: result,
        latencyMs: arrived === arrived ? at - arrived : 0,
      };
      if (role === 'live') {
        this.stats.predictions++;
        this.sink(prediction, vector);
      } else {
        this.stats.shadowPredictions++;
        this.onShadow?.(prediction);
      }
    }
    if (bad > 0) {
      this.stats.modelErrors += bad;
      this.sink(
        modelErrorAlert(model, role, bad, at, `${bad} of ${rows} outputs were NaN or infinite (first: ${firstBad})`, 'warning'),
        undefined,
      );
    }
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

// Scores closed-bar feature vectors with every live and shadow model of their timeframe. Each model
// has a lane: rows are assembled in arrival order (per-symbol windows, column mapping, scaling), a
// synchronous runtime (native trees) scores them at once, an asynchronous one (onnxruntime, TF.js) runs
// at most `maxRunRows` rows at a time while later rows queue behind it. Outputs are published on the
// scorer's `outputs` Observable (every subscriber sees each one): live predictions, and model_error alerts
// (counted) for exceptions, wrong shapes, NaN/Inf outputs. Each inference run that succeeds is published on
// the SCORER_EVENTS.inference diagnostics channel (model, provider, rows, seconds) when someone listens.

import { channel } from 'node:diagnostics_channel';
import { Observable, type Subscriber } from 'rxjs';
import type { Alert, FeatureVector, Prediction } from '../../domain/types.js';
import { MlfpError, toMlfpError } from '../../errors.js';
import type { LoadedModel } from '../load-model.js';
import type { ActiveModel, ModelRegistry } from '../registry.js';
import { Lane, type Run } from './lane.js';
import { classOutput, modelErrorAlert } from './score-outputs.js';
import { RowAssembler, type ScorerSnapshot } from './row-assembler.js';

export type ScoreOutput = Prediction | Alert;
export type { ScorerSnapshot };

/**
 * One published output with the vector it belongs to (undefined for alerts). The scorer reuses one object for
 * every output: read it synchronously in `next`, keep `output` (a new object each time), not the wrapper.
 */
export interface Scored {
  output: ScoreOutput;
  vector: FeatureVector | undefined;
}

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
  /** clock for latencyMs and alert times: the scheduler that timed the arrivals (scoreFeatures' scheduler) */
  now?: () => number;
}

const EMPTY_ARRIVALS = new Float64Array(0);

/** The scorer's instrumentation channels (node:diagnostics_channel); src/monitoring/metrics.ts subscribes. */
export const SCORER_EVENTS = Object.freeze({ inference: 'mlfp.models.inference' } as const);

/** One successful inference run. The scorer reuses the object: read it synchronously in the subscriber. */
export interface InferenceEvent {
  /** the model's name (manifest.name; live and shadow versions alike) */
  model: string;
  /** its runtime's provider: `native`, `onnxruntime:cpu`, `tfjs:…` */
  provider: string;
  /** rows scored together */
  rows: number;
  /** from dispatch to completion (an asynchronous run's wait behind earlier runs included) */
  seconds: number;
}

const inferenceChannel = channel(SCORER_EVENTS.inference);

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
  private readonly now: () => number;
  /** subscribers of `outputs`; replaced (never mutated) on unsubscribe, so publishing may iterate it */
  private listeners: Subscriber<Scored>[] = [];
  private readonly scored: Scored = { output: undefined as unknown as ScoreOutput, vector: undefined };
  /**
   * Everything the scorer publishes, as it is published (hot: a subscriber sees what is published while it
   * is subscribed). The scoreFeatures operator merges it into its own output.
   */
  readonly outputs: Observable<Scored>;
  /** lanes of the current assignment, rebuilt when the registry's generation changes */
  private lanes: Lane[] = [];
  private lanesGeneration = -1;
  private readonly laneOf = new Map<LoadedModel, Lane>();
  /** lanes that still have rows or a run after leaving the assignment */
  private readonly draining = new Set<Lane>();
  /** per-symbol windows and online-scaling banks: the rows each lane reads (row-assembler.ts) */
  private readonly assembler: RowAssembler;
  private idleWaiters: (() => void)[] = [];
  private readonly inferenceEvent: InferenceEvent = { model: '', provider: '', rows: 0, seconds: 0 };

  constructor(registry: ModelRegistry, options: ScorerOptions = {}) {
    this.registry = registry;
    this.onShadow = options.onShadowPrediction;
    this.maxSymbols = options.maxSymbols ?? 100_000;
    this.assembler = new RowAssembler(registry.columns.length, this.maxSymbols);
    this.maxRunRows = options.maxRunRows ?? 256;
    this.maxPendingRows = options.maxPendingRows ?? 262_144;
    this.maxRunsInFlight = options.maxRunsInFlight ?? 8;
    this.now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.outputs = new Observable<Scored>((subscriber) => {
      this.listeners = [...this.listeners, subscriber];
      return () => {
        this.listeners = this.listeners.filter((listener) => listener !== subscriber);
      };
    });
  }

  /** Hands one output to every subscriber of `outputs`. */
  private sink(output: ScoreOutput, vector: FeatureVector | undefined): void {
    const listeners = this.listeners;
    const scored = this.scored;
    for (let index = 0; index < listeners.length; index++) {
      scored.output = output;
      scored.vector = vector;
      listeners[index]!.next(scored);
    }
    scored.vector = undefined;
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
    this.stats.skipped += this.assembler.assemble(vectors, arrivedAt ?? EMPTY_ARRIVALS, lanes);
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
   * submit() then wait for every model: what was published meanwhile, as an array (synchronously when
   * every active model is synchronous). For the CLI and tests; on a scorer that an operator also feeds,
   * the array holds that operator's outputs of the same period too.
   */
  scoreBatch(vectors: readonly FeatureVector[], arrivedAt?: Float64Array): ScoreOutput[] | Promise<ScoreOutput[]> {
    const outputs: ScoreOutput[] = [];
    const subscription = this.outputs.subscribe((scored) => outputs.push(scored.output));
    try {
      this.submit(vectors, arrivedAt);
    } catch (error) {
      subscription.unsubscribe();
      throw error;
    }
    if (this.idle) {
      subscription.unsubscribe();
      return outputs;
    }
    return this.whenIdle().then(() => {
      subscription.unsubscribe();
      return outputs;
    });
  }

  /** Sequence windows and scaling banks as JSON-able state (part of the engine snapshot). */
  snapshot(): ScorerSnapshot {
    return this.assembler.snapshot();
  }

  restore(state: ScorerSnapshot): void {
    this.assembler.restore(state);
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
    this.assembler.keepPlanes(planes);
    this.lanesGeneration = this.registry.generation;
    return next;
  }

  private retire(lane: Lane): void {
    if (lane.rows > 0 || lane.runs.length > 0 || lane.after !== undefined) this.draining.add(lane);
    else this.registry.release(lane.model);
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
      const startedAt = performance.now();
      try {
        lane.model.runtime.score(lane.input, rows, lane.output);
      } catch (thrown) {
        error = toMlfpError(thrown, 'model_error');
      }
      if (error === undefined) this.timed(lane, rows, startedAt);
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
        startedAt: performance.now(),
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
    if (error === undefined) this.timed(lane, run.vectors.length, run.startedAt);
    while (lane.runs.length > 0 && lane.runs[0]!.done) {
      const head = lane.runs.shift()!;
      this.publish(lane, head.vectors, head.arrivals, head.output, head.error);
    }
    if (lane.rows > 0 && lane.after === undefined) this.run(lane);
    this.settle(lane);
  }

  /** Publishes one successful run's rows and duration on the inference channel, if anyone listens. */
  private timed(lane: Lane, rows: number, startedAt: number): void {
    if (!inferenceChannel.hasSubscribers) return;
    const event = this.inferenceEvent;
    event.model = lane.model.manifest.name;
    event.provider = lane.model.runtime.provider;
    event.rows = rows;
    event.seconds = (performance.now() - startedAt) / 1000;
    inferenceChannel.publish(event);
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

// The one operator graph, for every source (the embedded feed, a CSV replay, one Kafka partition):
//   raw records → validateTicks (+ event-time guard) → aggregateBars → adjustCorporateActions → computeFeatures
//   → (score) → one Observable<Output>
// Each operator has a typed main output and a dead-letter side output; the graph merges both, in the order they
// happen, into the one stream of `Output`s (bar, features, prediction, alert, dead letter). Whoever subscribes
// (the partition worker's outbox, a test, a benchmark) gets every result from that stream; nothing in the graph
// knows who consumes it. Warm-up replays stored bars through the same adjust → features operators.
// docs/adr/0003-data-flow.md says why it has this shape.

import { asyncScheduler, from, Observable, tap, type SchedulerLike } from 'rxjs';
import { BarAggregator, type BarAggregatorOptions } from '../bars/bar-aggregator.js';
import { EventTimeGuard, type EventTimeGuardOptions } from '../bars/event-time-guard.js';
import {
  alertOutput,
  barOutput,
  deadLetterOutput,
  featuresOutput,
  labelOutput,
  predictionOutput,
  type Output,
} from '../domain/output.js';
import type {
  Alert,
  Bar,
  DeadLetter,
  DeadLetterSink,
  FeatureVector,
  LabelRecord,
  Prediction,
} from '../domain/types.js';
import { TickValidator, type TickValidatorOptions } from '../domain/validate-tick.js';
import type { EngineStats } from '../monitoring/stats.js';
import { aggregateBars } from '../operators/aggregate-bars.js';
import {
  adjustCorporateActions,
  CorporateActionAdjuster,
  type CorporateActionSource,
} from '../operators/corporate-action-adjuster.js';
import {
  computeFeatures,
  FeatureEngine,
  type ComputeFeaturesOptions,
} from '../operators/compute-features.js';
import { validateTicks, type TickEnvelope } from '../operators/validate-ticks.js';

/**
 * Joins a stream's predictions with the later bars that label them (src/monitoring/performance/label-joiner.ts):
 * told of every prediction and every bar, in output order, it emits each realised label (and expiry).
 */
export interface LabelStage {
  onPrediction(prediction: Prediction): void;
  onBar(bar: Bar, emit: (label: LabelRecord) => void): void;
}

/** The state of one input stream: everything a snapshot must capture to resume it (with the scorer's). */
export class StreamState {
  readonly validator: TickValidator;
  readonly guard: EventTimeGuard;
  readonly aggregator: BarAggregator;
  readonly adjuster: CorporateActionAdjuster;
  readonly features: FeatureEngine;
  /** labels of this stream's predictions (absent: no labels, no per-bar cost) */
  readonly labels: LabelStage | undefined;

  constructor(options: {
    validator?: TickValidatorOptions;
    bars?: BarAggregatorOptions & { futureTime?: EventTimeGuardOptions };
    features?: ComputeFeaturesOptions;
    corporateActions?: CorporateActionSource;
    labels?: LabelStage;
  }) {
    this.validator = new TickValidator(options.validator);
    this.guard = new EventTimeGuard(options.bars?.futureTime);
    this.aggregator = new BarAggregator(options.bars);
    this.adjuster = new CorporateActionAdjuster(options.corporateActions);
    this.features = new FeatureEngine(options.features);
    this.labels = options.labels;
  }
}

/** The async stage after the features: scoring (live predictions and model_error alerts). */
export type ScoreStage = (vectors: Observable<FeatureVector>) => Observable<Prediction | Alert>;

export interface GraphOptions {
  /** counts ticks in and every output (mlfp_* metrics); absent: nothing counted */
  stats?: EngineStats;
  /** wall time for validation's clock-skew check and the idle bar close (tests pass a virtual one) */
  scheduler?: SchedulerLike;
  /** scoring, appended after the features */
  score?: ScoreStage;
}

/** Counts one output on its way out (what the engine's metrics and closing summary report). */
function count(stats: EngineStats, output: Output): void {
  switch (output.kind) {
    case 'dead_letter':
      stats.reject(output.value.reason);
      break;
    case 'bar':
      stats.bars[output.value.timeframe]++;
      if (output.value.revision > 0) stats.barRevisions++;
      break;
    case 'features':
      stats.features++;
      break;
    case 'prediction':
      stats.prediction(output.value);
      break;
    case 'alert':
      stats.alert(output.value);
      break;
    case 'label':
    case 'performance':
      break;
  }
}

/**
 * The graph over `input`: subscribing runs it; it emits every output in the order produced (a bar before its
 * feature vector, a dead letter when its record is rejected) and completes when the input completes and
 * everything (open bars, running inferences) is out. A throw inside any operator errors it (a bug, never data).
 */
export function streamGraph(
  input: Observable<TickEnvelope>,
  state: StreamState,
  options: GraphOptions = {},
): Observable<Output> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const stats = options.stats;
  return new Observable<Output>((subscriber) => {
    const emit =
      stats === undefined
        ? (output: Output) => subscriber.next(output)
        : (output: Output) => {
            count(stats, output);
            subscriber.next(output);
          };
    const side: DeadLetterSink = { deadLetter: (letter: DeadLetter) => emit(deadLetterOutput(letter)) };
    // labels: each bar may label earlier predictions of its series (emitted right after the bar); each
    // prediction becomes a pending label
    const labels = state.labels;
    const emitLabel = (label: LabelRecord): void => emit(labelOutput(label));
    const emitBar =
      labels === undefined
        ? (bar: Bar) => emit(barOutput(bar))
        : (bar: Bar) => {
            emit(barOutput(bar));
            labels.onBar(bar, emitLabel);
          };
    const emitScored =
      labels === undefined
        ? (scored: Prediction | Alert) =>
            emit('model' in scored ? predictionOutput(scored) : alertOutput(scored))
        : (scored: Prediction | Alert) => {
            if ('model' in scored) {
              emit(predictionOutput(scored));
              labels.onPrediction(scored);
            } else emit(alertOutput(scored));
          };
    const counted =
      stats === undefined
        ? input
        : input.pipe(
            tap(() => {
              stats.ticks++;
            }),
          );
    const valid = counted.pipe(validateTicks(state.validator, side, scheduler, state.guard));
    // the newest valid event time (mlfp_tick_to_prediction_seconds): a compare and a store per tick
    const timed = stats === undefined ? valid : valid.pipe(tap((tick) => stats.tickEventTime(tick.ts)));
    const bars = timed.pipe(aggregateBars(state.aggregator, side, scheduler), tap(emitBar));
    // without a source of corporate actions nothing can apply: no operator (and no per-bar lookup)
    const adjusted = state.adjuster.active
      ? bars.pipe(adjustCorporateActions(state.adjuster, state.features, side))
      : bars;
    const vectors = adjusted.pipe(
      computeFeatures({}, side, state.features),
      tap((vector) => emit(featuresOutput(vector))),
    );
    const tail: Observable<unknown> =
      options.score === undefined ? vectors : options.score(vectors).pipe(tap(emitScored));
    return tail.subscribe({
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
  });
}

/**
 * Warm-up: stored bars (any symbols and timeframes, latest revision each, in end-time order) replayed through
 * the same adjust → features operators and state as live bars. Emits only dead letters (an unusable corporate
 * action); the warm-up's feature vectors are history, not outputs, and a stored bar older than the state is
 * skipped as before (no dead letter: it is not input).
 */
export function historyGraph(bars: readonly Bar[], state: StreamState): Observable<Output> {
  return new Observable<Output>((subscriber) => {
    const side: DeadLetterSink = {
      deadLetter: (letter: DeadLetter) => subscriber.next(deadLetterOutput(letter)),
    };
    const history = from(bars);
    const adjusted = state.adjuster.active
      ? history.pipe(adjustCorporateActions(state.adjuster, state.features, side))
      : history;
    return adjusted.pipe(computeFeatures({}, undefined, state.features)).subscribe({
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
  });
}

/** Wraps raw records in one reused envelope (validateTicks reads it synchronously and keeps no reference). */
export function envelopeOf(): (value: unknown) => TickEnvelope {
  const envelope: TickEnvelope = { value: undefined };
  return (value) => {
    envelope.value = value;
    return envelope;
  };
}

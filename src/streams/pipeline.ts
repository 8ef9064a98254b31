// Wires the operator graph for one input stream (the embedded feed, one Kafka partition):
// raw records → validateTicks (+ the event-time guard) → aggregateBars → computeFeatures → (score) → outputs.
// The graph is a single linear chain; each stage hands its records to the Outputs edge as they pass, so no
// Subject bus and no ordering surprises between branches.

import { asyncScheduler, tap, type Observable, type SchedulerLike } from 'rxjs';
import { BarAggregator, type BarAggregatorOptions } from '../bars/bar-aggregator.js';
import { EventTimeGuard, type EventTimeGuardOptions } from '../bars/event-time-guard.js';
import type { Alert, Bar, DeadLetter, FeatureVector, GraphOutputs, Prediction } from '../domain/types.js';
import { TickValidator, type TickValidatorOptions } from '../domain/validate-tick.js';
import type { EngineStats } from '../monitoring/stats.js';
import {
  computeFeatures,
  FeatureEngine,
  type ComputeFeaturesOptions,
} from '../operators/compute-features.js';
import { aggregateBars } from '../operators/aggregate-bars.js';
import { validateTicks, type TickEnvelope } from '../operators/validate-ticks.js';
import { scoreFeatures, type ScoreFeaturesOptions } from '../operators/score.js';
import type { Scorer } from '../models/scoring/scorer.js';

// GraphOutputs lives in src/domain so that sinks implement it without importing streams; re-exported here.
export type { GraphOutputs };

/** The state of one input stream: everything a snapshot must capture to resume it. */
export class StreamState {
  readonly validator: TickValidator;
  readonly guard: EventTimeGuard;
  readonly aggregator: BarAggregator;
  readonly features: FeatureEngine;

  constructor(options: {
    validator?: TickValidatorOptions;
    bars?: BarAggregatorOptions & { futureTime?: EventTimeGuardOptions };
    features?: ComputeFeaturesOptions;
  }) {
    this.validator = new TickValidator(options.validator);
    this.guard = new EventTimeGuard(options.bars?.futureTime);
    this.aggregator = new BarAggregator(options.bars);
    this.features = new FeatureEngine(options.features);
  }
}

/** Counts what passes and forwards everything to the outputs. */
class CountingOutputs implements GraphOutputs {
  constructor(
    private readonly outputs: GraphOutputs,
    private readonly stats: EngineStats,
  ) {}

  deadLetter(letter: DeadLetter): void {
    this.stats.reject(letter.reason);
    this.outputs.deadLetter(letter);
  }

  bar(bar: Bar): void {
    this.stats.bars[bar.timeframe]++;
    if (bar.revision > 0) this.stats.barRevisions++;
    this.outputs.bar(bar);
    this.outputs.beforeFeatures?.(bar);
  }

  features(vector: FeatureVector): void {
    this.stats.features++;
    this.outputs.features(vector);
  }

  prediction(prediction: Prediction): void {
    this.stats.prediction(prediction);
    this.outputs.prediction(prediction);
  }

  alert(alert: Alert): void {
    this.stats.alert(alert);
    this.outputs.alert(alert);
  }
}

/**
 * Builds the graph over `input`. The returned Observable emits each feature vector (after the outputs saw it),
 * for a downstream stage such as scoring; subscribing to it runs the graph.
 */
export function tickGraph(
  input: Observable<TickEnvelope>,
  state: StreamState,
  outputs: GraphOutputs,
  stats: EngineStats,
  scheduler: SchedulerLike = asyncScheduler,
): Observable<FeatureVector> {
  const counted = new CountingOutputs(outputs, stats);
  return input.pipe(
    tap(() => {
      stats.ticks++;
    }),
    validateTicks(state.validator, counted, scheduler, state.guard),
    aggregateBars(state.aggregator, counted, scheduler),
    tap((bar) => counted.bar(bar)),
    computeFeatures({}, counted, state.features),
    tap((vector) => counted.features(vector)),
  );
}

/**
 * Appends the scoring stage: micro-batched feature vectors scored by every live (and shadow) model of their
 * timeframe; predictions and model_error alerts go to the outputs. Subscribing runs the whole graph.
 */
export function scoredGraph(
  vectors: Observable<FeatureVector>,
  scorer: Scorer,
  options: ScoreFeaturesOptions,
  outputs: GraphOutputs,
  stats: EngineStats,
  scheduler: SchedulerLike = asyncScheduler,
): Observable<Prediction | Alert> {
  const counted = new CountingOutputs(outputs, stats);
  return vectors.pipe(
    scoreFeatures(scorer, options, scheduler),
    tap((output) => {
      if ('model' in output) counted.prediction(output);
      else counted.alert(output);
    }),
  );
}

/** Wraps raw records in one reused envelope (validateTicks reads it synchronously and keeps no reference). */
export function envelopeOf(): (value: unknown) => TickEnvelope {
  const envelope: TickEnvelope = { value: undefined };
  return (value) => {
    envelope.value = value;
    return envelope;
  };
}

// scoreFeatures: micro-batches closed-bar feature vectors across symbols and hands each batch to the
// scorer, which scores it with the registry's live and shadow models (trees within the flush, network
// models in runs of at most maxBatchSize rows); emits live predictions and model_error alerts.

import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { FeatureVector } from '../domain/types.js';
import { toMlfpError } from '../errors.js';
import type { Scorer, ScoreOutput } from '../models/scoring/scorer.js';
import { microBatch, type FlushControl } from './micro-batch.js';

export interface ScoreFeaturesOptions {
  /** vectors per batch, and rows per network-model inference: bounds how long one blocks the event loop */
  maxBatchSize: number;
  /** the wait budget: a batch flushes at most this long after its first vector */
  maxWaitMs: number;
  /** flushes the batch being gathered now (delivery barriers); see FlushControl */
  control?: FlushControl;
}

export const DEFAULT_SCORE_OPTIONS: Readonly<ScoreFeaturesOptions> = {
  maxBatchSize: 256,
  maxWaitMs: 1,
};

/**
 * One scorer per pipeline: the operator subscribes to the scorer's `outputs` while it is subscribed itself and
 * re-emits them (the scorer's clock, ScorerOptions.now, should be `scheduler`'s: latencies subtract arrival
 * times taken on it). The scorer's maxRunRows should equal maxBatchSize (its default, 256, equals the default here).
 */
export function scoreFeatures(
  scorer: Scorer,
  options: ScoreFeaturesOptions = DEFAULT_SCORE_OPTIONS,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<FeatureVector, ScoreOutput> {
  const batching = microBatch<FeatureVector>(options, scheduler);
  return (source) =>
    new Observable<ScoreOutput>((subscriber) => {
      const published = scorer.outputs.subscribe((scored) => subscriber.next(scored.output));
      const subscription = source.pipe(batching).subscribe({
        next: (batch) => {
          try {
            scorer.submit(batch.items, batch.arrivedAt);
          } catch (error) {
            subscriber.error(toMlfpError(error));
          }
        },
        error: (error: unknown) => subscriber.error(toMlfpError(error)),
        // network models may still be running: complete once everything submitted is out
        complete: () => {
          if (scorer.idle) {
            subscriber.complete();
            return;
          }
          scorer.whenIdle().then(
            () => subscriber.complete(),
            (error: unknown) => subscriber.error(toMlfpError(error)),
          );
        },
      });
      return () => {
        subscription.unsubscribe();
        published.unsubscribe();
      };
    });
}

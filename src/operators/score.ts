// scoreFeatures: micro-batches closed-bar feature vectors across symbols and scores each batch with the
// registry's live and shadow models, one batch at a time in order; emits live predictions and
// model_error alerts. Synchronous runtimes (trees) emit within the flush, with no promise hop.

import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { FeatureVector } from '../domain/types.js';
import { MlfpError, toMlfpError } from '../errors.js';
import type { Scorer, ScoreOutput } from '../models/scorer.js';
import { microBatch, type MicroBatch } from './micro-batch.js';

export interface ScoreFeaturesOptions {
  /** vectors per batch: bounds how long one inference blocks the event loop */
  maxBatchSize: number;
  /** the wait budget: a batch flushes at most this long after its first vector */
  maxWaitMs: number;
  /** batches waiting behind a running one before the stream fails as overloaded */
  maxQueuedBatches?: number;
}

export const DEFAULT_SCORE_OPTIONS: Readonly<Required<ScoreFeaturesOptions>> = {
  maxBatchSize: 256,
  maxWaitMs: 2,
  maxQueuedBatches: 1024,
};

export function scoreFeatures(
  scorer: Scorer,
  options: ScoreFeaturesOptions = DEFAULT_SCORE_OPTIONS,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<FeatureVector, ScoreOutput> {
  const maxQueued = options.maxQueuedBatches ?? DEFAULT_SCORE_OPTIONS.maxQueuedBatches;
  const batching = microBatch<FeatureVector>(options, scheduler);
  const now = (): number => scheduler.now();
  return (source) =>
    new Observable<ScoreOutput>((subscriber) => {
      const queue: MicroBatch<FeatureVector>[] = [];
      let busy = false;
      let sourceDone = false;
      const emit = (outputs: ScoreOutput[]): void => {
        for (let i = 0; i < outputs.length; i++) subscriber.next(outputs[i]!);
      };
      const fail = (error: unknown): void => subscriber.error(toMlfpError(error));
      const drain = (): void => {
        while (!busy && queue.length > 0 && !subscriber.closed) {
          const batch = queue.shift()!;
          let result: ScoreOutput[] | Promise<ScoreOutput[]>;
          try {
            result = scorer.scoreBatch(batch.items, batch.arrivedAt, now);
          } catch (error) {
            fail(error);
            return;
          }
          if (Array.isArray(result)) {
            emit(result);
            continue;
          }
          busy = true;
          result.then((outputs) => {
            if (subscriber.closed) return;
            busy = false;
            emit(outputs);
            drain();
          }, fail);
        }
        if (!busy && queue.length === 0 && sourceDone) subscriber.complete();
      };
      const subscription = source.pipe(batching).subscribe({
        next: (batch) => {
          if (queue.length >= maxQueued) {
            fail(
              new MlfpError(
                'internal',
                `scoring is ${queue.length} batches behind (maxQueuedBatches ${maxQueued}): the models are slower than the input`,
              ),
            );
            return;
          }
          queue.push(batch);
          drain();
        },
        error: fail,
        complete: () => {
          sourceDone = true;
          drain();
        },
      });
      return () => subscription.unsubscribe();
    });
}

// microBatch: groups a stream into arrays, flushed at `maxBatchSize` items or `maxWaitMs` after the
// first item of a batch, whichever comes first; records each item's arrival time (for latency).
// maxWaitMs 0 flushes at the end of the current burst: the items emitted synchronously together (all the
// bars a watermark closes at once) form the batch, and nothing waits for a timer. With maxWaitMs > 0, a
// burst that has already filled a batch also flushes its remainder when it ends (a microtask): a large
// burst is over, and waiting for the timer would only delay its last rows (measured: ~1.4 ms of the
// added latency when 1,000 bars close together).

import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { MlfpError } from '../errors.js';

export interface MicroBatch<T> {
  items: T[];
  /** scheduler.now() when each item arrived */
  arrivedAt: Float64Array;
}

export interface MicroBatchOptions {
  maxBatchSize: number;
  maxWaitMs: number;
  /** lets the owner flush the pending items now (a delivery barrier must not wait for maxWaitMs) */
  control?: FlushControl;
}

/** A handle to flush a subscribed microBatch on demand; one subscription at a time. */
export class FlushControl {
  private handler: (() => void) | undefined;

  /** Emits the pending items now (nothing when none or not subscribed). */
  flush(): void {
    this.handler?.();
  }

  /** Used by the operator: registers its flush, returns the unregistration. */
  bind(handler: () => void): () => void {
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = undefined;
    };
  }
}

export function checkMicroBatchOptions(options: MicroBatchOptions): void {
  if (!(
    Number.isInteger(options.maxBatchSize) &&
    options.maxBatchSize >= 1 &&
    options.maxBatchSize <= 1_000_000
  ))
    throw new MlfpError('config_invalid', `maxBatchSize must be an integer in 1..1000000`, {
      field: 'maxBatchSize',
      value: options.maxBatchSize,
    });
  if (!(Number.isFinite(options.maxWaitMs) && options.maxWaitMs >= 0 && options.maxWaitMs <= 60_000))
    throw new MlfpError('config_invalid', `maxWaitMs must be in 0..60000`, {
      field: 'maxWaitMs',
      value: options.maxWaitMs,
    });
}

export function microBatch<T>(
  options: MicroBatchOptions,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<T, MicroBatch<T>> {
  checkMicroBatchOptions(options);
  const { maxBatchSize, maxWaitMs } = options;
  return (source) =>
    new Observable<MicroBatch<T>>((subscriber) => {
      let items: T[] = [];
      let arrivedAt = new Float64Array(maxBatchSize);
      let timer: Subscription | undefined;
      let burstFlushQueued = false;
      const flushAtBurstEnd = (): void => {
        if (burstFlushQueued) return;
        burstFlushQueued = true;
        queueMicrotask(() => {
          burstFlushQueued = false;
          if (!subscriber.closed) flush();
        });
      };
      const flush = (): void => {
        timer?.unsubscribe();
        timer = undefined;
        if (items.length === 0) return;
        const batch = { items, arrivedAt: arrivedAt.subarray(0, items.length) };
        items = [];
        arrivedAt = new Float64Array(maxBatchSize);
        subscriber.next(batch);
      };
      const unbind = options.control?.bind(flush);
      const subscription = source.subscribe({
        next: (item) => {
          try {
            arrivedAt[items.length] = scheduler.now();
            items.push(item);
            if (items.length >= maxBatchSize) {
              flush();
              flushAtBurstEnd();
            } else if (maxWaitMs === 0) flushAtBurstEnd();
            else if (timer === undefined) timer = scheduler.schedule(flush, maxWaitMs);
          } catch (error) {
            // a bug (or a scheduler that throws) errors the output; the teardown frees the timer
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        unbind?.();
        timer?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}

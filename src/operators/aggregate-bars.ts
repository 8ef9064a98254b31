// aggregateBars: validated Ticks in, closed/revised 5m, 1h and 1d Bars out (see src/bars/bar-aggregator.ts
// for the watermark rules). Late ticks go to the dead-letter sink. Wall time comes only from `scheduler`:
// one lazily re-armed timer runs the idle close; source completion flushes every open bar, then completes.

import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerAction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { BarAggregator, type BarAggregatorOptions } from '../bars/bar-aggregator.js';
import { MlfpError } from '../errors.js';
import type { Bar, DeadLetterSink, Tick } from '../domain/types.js';

/**
 * Aggregates ticks into bars. Pass options for a fresh aggregator per subscription, or a BarAggregator to
 * own its state (snapshot/restore per Kafka partition); an instance serves one subscription at a time.
 * Idle close: the timer sleeps until the wall time since the last tick reaches
 * aggregator.nextIdleCloseAfterMs() (at least idleTimeoutMs), then calls onIdle(wall time since last tick).
 * Errors: bad ticks are dead letters; a thrown exception (a bug) errors the output, it is never hidden.
 */
export function aggregateBars(
  options: BarAggregatorOptions | BarAggregator,
  deadLetters: DeadLetterSink,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<Tick, Bar> {
  const shared = options instanceof BarAggregator ? options : undefined;
  if (shared === undefined) new BarAggregator(options as BarAggregatorOptions); // check options once
  let sharedInUse = false;
  return (source) =>
    new Observable<Bar>((subscriber) => {
      if (shared !== undefined) {
        if (sharedInUse) {
          subscriber.error(
            new MlfpError('internal', 'aggregateBars: this BarAggregator already feeds a subscription'),
          );
          return undefined;
        }
        sharedInUse = true;
      }
      const aggregator = shared ?? new BarAggregator(options as BarAggregatorOptions);
      const out: Bar[] = [];
      let lastTickWallMs = scheduler.now();
      let timer: Subscription | undefined;

      const emit = () => {
        for (let index = 0; index < out.length; index++) subscriber.next(out[index]!);
        out.length = 0;
      };

      function onTimer(this: SchedulerAction<undefined>): void {
        const idleForMs = scheduler.now() - lastTickWallMs;
        try {
          aggregator.onIdle(idleForMs, out);
          emit();
        } catch (error) {
          out.length = 0;
          subscriber.error(error);
          return;
        }
        const dueAfterMs = aggregator.nextIdleCloseAfterMs();
        if (dueAfterMs === Number.POSITIVE_INFINITY) timer = undefined;
        else this.schedule(undefined, Math.max(0, dueAfterMs - idleForMs));
      }

      const subscription = source.subscribe({
        next(tick) {
          lastTickWallMs = scheduler.now();
          try {
            const letter = aggregator.add(tick, out);
            if (letter !== undefined) deadLetters.deadLetter(letter);
            if (out.length !== 0) emit();
          } catch (error) {
            out.length = 0;
            subscriber.error(error);
            return;
          }
          if (
            timer === undefined &&
            !subscriber.closed &&
            aggregator.idleTimeoutMs !== Number.POSITIVE_INFINITY
          )
            timer = scheduler.schedule(onTimer, aggregator.idleTimeoutMs);
        },
        error(error: unknown) {
          timer?.unsubscribe();
          timer = undefined;
          subscriber.error(error);
        },
        complete() {
          timer?.unsubscribe();
          timer = undefined;
          try {
            aggregator.flush(out);
            emit();
          } catch (error) {
            out.length = 0;
            subscriber.error(error);
            return;
          }
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        timer?.unsubscribe();
        timer = undefined;
        if (shared !== undefined) sharedInUse = false;
      };
    });
}

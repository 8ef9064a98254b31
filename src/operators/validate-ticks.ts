// validateTicks: raw records (TickEnvelope) in, validated Ticks out; rejects go to the dead-letter sink with
// their source and original bytes. Wraps the pure TickValidator; bad data never errors the stream, a
// thrown exception (a bug, or a sink that broke its no-throw contract) does.

import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { isDeadLetter, TickValidator, type TickValidatorOptions } from '../domain/validate-tick.js';
import type { DeadLetterSink, SourceRef, Tick } from '../domain/types.js';

/**
 * One raw input record: `value` is the parsed JSON object or CSV row, `source` where it came from (Kafka
 * coordinates or file line) and `original` its bytes or text, both copied onto a dead letter. Sources may
 * reuse one envelope object for every record: the operator reads it synchronously and keeps no reference.
 */
export interface TickEnvelope {
  value: unknown;
  source?: SourceRef;
  original?: Uint8Array | string;
}

/**
 * Validates every envelope's value. Pass options for a validator per subscription, or a TickValidator to
 * own its duplicate-sequence state (snapshot/restore). With options.maxFutureMs and no options.now, the
 * future check reads `scheduler.now()`.
 */
export function validateTicks(
  options: TickValidatorOptions | TickValidator,
  deadLetters: DeadLetterSink,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<TickEnvelope, Tick> {
  const shared = options instanceof TickValidator ? options : undefined;
  const resolved: TickValidatorOptions | undefined =
    shared === undefined
      ? { ...options, now: (options as TickValidatorOptions).now ?? (() => scheduler.now()) }
      : undefined;
  if (resolved !== undefined) new TickValidator(resolved); // check options once, when the graph is built
  return (source) =>
    new Observable<Tick>((subscriber) => {
      const validator = shared ?? new TickValidator(resolved);
      return source.subscribe({
        next(envelope) {
          try {
            const result = validator.validate(envelope.value, envelope.source);
            if (isDeadLetter(result)) {
              if (envelope.original !== undefined) result.original = envelope.original;
              deadLetters.deadLetter(result);
            } else subscriber.next(result);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}

// validateTicks: raw records (TickEnvelope) in, validated Ticks out; rejects go to the dead-letter sink with
// their source and original bytes. Wraps the pure TickValidator and, when given one, the EventTimeGuard that
// holds ticks far ahead of their stream until the stream confirms them (src/bars/event-time-guard.ts); bad
// data never errors the stream, a thrown exception (a bug, or a sink that broke its no-throw contract) does.

import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { EventTimeGuard, type HeldTick, type TickOrigin } from '../bars/event-time-guard.js';
import { isDeadLetter, TickValidator, type TickValidatorOptions } from '../domain/validate-tick.js';
import type { DeadLetterSink, SourceRef, Tick } from '../domain/types.js';

/**
 * One raw input record: `value` is the parsed JSON object or CSV row, `source` where it came from (Kafka
 * coordinates or file line) and `original` its bytes or text, both copied onto a dead letter. Sources may
 * reuse one envelope object for every record: the operator reads it synchronously and keeps no reference.
 */
export interface TickEnvelope {
  value: unknown;
  /** the Kafka message key, when it must equal the symbol (null = a message without key); undefined = no check */
  key?: Uint8Array | null;
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
  guard?: EventTimeGuard,
): OperatorFunction<TickEnvelope, Tick> {
  const shared = options instanceof TickValidator ? options : undefined;
  const resolved: TickValidatorOptions | undefined =
    shared === undefined
      ? { ...options, now: (options as TickValidatorOptions).now ?? (() => scheduler.now()) }
      : undefined;
  if (resolved !== undefined) new TickValidator(resolved); // check options once, when the graph is built
  if (guard !== undefined && !(guard instanceof EventTimeGuard))
    throw new TypeError('validateTicks: guard must be an EventTimeGuard');
  return (source) =>
    new Observable<Tick>((subscriber) => {
      const validator = shared ?? new TickValidator(resolved);
      const released: HeldTick[] = [];
      const rejected: HeldTick[] = [];
      let current: TickEnvelope | undefined;
      /** copies the current message's origin: the envelope is reused for the next message */
      const originOfCurrent = (): TickOrigin => {
        const origin: TickOrigin = {};
        if (current?.source !== undefined) origin.source = { ...current.source };
        if (current?.original !== undefined) origin.original = current.original;
        return origin;
      };
      /**
       * Dead letters first, then the released ticks in order. A held tick is emitted with its own origin in
       * the envelope, so a rejection downstream (late) names the message it came from, not the current one.
       */
      const settle = (envelope: TickEnvelope | undefined): void => {
        for (let index = 0; index < rejected.length; index++)
          deadLetters.deadLetter(guard!.rejection(rejected[index]!));
        rejected.length = 0;
        for (let index = 0; index < released.length; index++) {
          const entry = released[index]!;
          if (entry.origin === undefined || envelope === undefined) subscriber.next(entry.tick);
          else {
            const ownSource = envelope.source;
            const ownOriginal = envelope.original;
            envelope.source = entry.origin.source;
            envelope.original = entry.origin.original;
            try {
              subscriber.next(entry.tick);
            } finally {
              envelope.source = ownSource;
              envelope.original = ownOriginal;
            }
          }
        }
        released.length = 0;
      };
      return source.subscribe({
        next(envelope) {
          try {
            const result = validator.validate(envelope.value, envelope.source, envelope.key);
            if (isDeadLetter(result)) {
              if (envelope.original !== undefined) result.original = envelope.original;
              deadLetters.deadLetter(result);
            } else if (guard === undefined || guard.passes(result)) subscriber.next(result);
            else {
              current = envelope;
              guard.consider(result, originOfCurrent, released, rejected);
              current = undefined;
              settle(envelope);
            }
          } catch (error) {
            released.length = 0;
            rejected.length = 0;
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          if (guard !== undefined && guard.heldCount > 0) {
            try {
              guard.flush(released, rejected);
              settle(undefined);
            } catch (error) {
              subscriber.error(error);
              return;
            }
          }
          subscriber.complete();
        },
      });
    });
}

import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it, vi } from 'vitest';
import { EventTimeGuard } from '../bars/event-time-guard.js';
import { TickValidator } from '../domain/validate-tick.js';
import type { DeadLetter } from '../domain/types.js';
import { unhandledErrorsOf } from '../../test/support/unhandled-errors.js';
import { validateTicks, type TickEnvelope } from './validate-ticks.js';

const T0 = Date.UTC(2024, 2, 4, 14, 30);
const good = { symbol: 'AAPL', ts: T0, price: 171.32, size: 100 };

function collect() {
  const letters: DeadLetter[] = [];
  return { letters, sink: { deadLetter: (letter: DeadLetter) => void letters.push(letter) } };
}

function scheduler() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('validateTicks', () => {
  it('passes good ticks, dead-letters bad ones with source and original, and completes', () => {
    const { letters, sink } = collect();
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TickEnvelope>('-a-b-c-|', {
        a: { value: good },
        b: {
          value: { ...good, price: 'abc' },
          source: { topic: 't', partition: 1, offset: '9' },
          original: 'raw',
        },
        c: { value: { ...good, symbol: 'MSFT', ts: '2024-03-04T14:30:00Z', price: '10' } },
      });
      expectObservable(source.pipe(validateTicks({}, sink))).toBe('-a---c-|', {
        a: good,
        c: { symbol: 'MSFT', ts: T0, price: 10, size: 100 },
      });
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
    expect(letters).toEqual([
      expect.objectContaining({
        reason: 'wrong_type',
        field: 'price',
        source: { topic: 't', partition: 1, offset: '9' },
        original: 'raw',
      }),
    ]);
  });

  it('unsubscribes from the source when the consumer unsubscribes', () => {
    const { sink } = collect();
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TickEnvelope>('-a-a-a-a-|', { a: { value: good } });
      expectObservable(source.pipe(validateTicks({}, sink)), '^--!').toBe('-a-', { a: good });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('keeps duplicate-sequence state per subscription, or in a validator it is given', () => {
    const { letters, sink } = collect();
    const shared = new TickValidator();
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold<TickEnvelope>('a|', { a: { value: { ...good, seq: 1 } } });
      expectObservable(source.pipe(validateTicks({}, sink))).toBe('a|', { a: { ...good, seq: 1 } });
      expectObservable(source.pipe(validateTicks({}, sink))).toBe('a|', { a: { ...good, seq: 1 } });
      expectObservable(source.pipe(validateTicks(shared, sink))).toBe('a|', { a: { ...good, seq: 1 } });
      expectObservable(source.pipe(validateTicks(shared, sink))).toBe('-|');
    });
    expect(letters.map((letter) => letter.reason)).toStrictEqual(['duplicate_sequence']);
  });

  it('checks maxFutureMs against the scheduler clock', () => {
    const { letters, sink } = collect();
    scheduler().run(({ hot, expectObservable }) => {
      // virtual time starts at 0 = 1970-01-01T00:00:00Z: at frame 1 the limit is 1001, at frame 3 it is 1003
      const source = hot<TickEnvelope>('-a-b|', {
        a: { value: { ...good, ts: 1002 } },
        b: { value: { ...good, ts: 1003 } },
      });
      expectObservable(source.pipe(validateTicks({ maxFutureMs: 1000 }, sink))).toBe('---b|', {
        b: { ...good, ts: 1003 },
      });
    });
    expect(letters.map((letter) => letter.reason)).toStrictEqual(['future_time']);
  });

  it('errors the stream, not silently, when the dead-letter sink throws', () => {
    const failing = new Error('sink broke its contract');
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<TickEnvelope>('-a-b-|', { a: { value: good }, b: { value: null } });
      const sink = {
        deadLetter: () => {
          throw failing;
        },
      };
      expectObservable(source.pipe(validateTicks({}, sink))).toBe('-a-#', { a: good }, failing);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('errors the stream and unsubscribes when the validator throws (a bug), reporting nothing unhandled', () => {
    const { sink } = collect();
    const validator = new TickValidator();
    const bug = new Error('validator bug');
    vi.spyOn(validator, 'validate').mockImplementationOnce(() => {
      throw bug;
    });
    const unhandled = unhandledErrorsOf(() =>
      scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<TickEnvelope>('-a-b-|', { a: { value: good }, b: { value: good } });
        expectObservable(source.pipe(validateTicks(validator, sink))).toBe('-#', undefined, bug);
        expectSubscriptions(source.subscriptions).toBe('^!');
      }),
    );
    expect(unhandled).toStrictEqual([]);
  });

  it('passes numbersAsStrings through: JSON ticks with a string price are wrong_type when it is false', () => {
    const { letters, sink } = collect();
    scheduler().run(({ hot, expectObservable }) => {
      const source = hot<TickEnvelope>('-a-b|', {
        a: { value: { ...good, price: '170.5' } },
        b: { value: { ...good, ts: '2024-03-04T14:30:00Z' } },
      });
      expectObservable(source.pipe(validateTicks({ numbersAsStrings: false }, sink))).toBe('---b|', {
        b: good,
      });
    });
    expect(letters).toEqual([expect.objectContaining({ reason: 'wrong_type', field: 'price' })]);
  });

  it('rejects bad options when the graph is built', () => {
    expect(() => validateTicks({ maxSequenceKeys: -1 }, collect().sink)).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });
});

describe('validateTicks with an event-time guard', () => {
  it('holds a tick far ahead of the stream; its rejection names its own message; later ticks flow on', () => {
    const { letters, sink } = collect();
    const out: Array<{ symbol: string; ts: number }> = [];
    const input = new Subject<TickEnvelope>();
    const guard = new EventTimeGuard();
    input.pipe(validateTicks({}, sink, undefined, guard)).subscribe((tick) => out.push(tick));
    // one reused envelope, as the Kafka partition worker feeds them
    const envelope: TickEnvelope = { value: undefined, source: { topic: 't', partition: 0, offset: '0' } };
    const send = (offset: number, value: object, original: string): void => {
      envelope.source!.offset = String(offset);
      envelope.value = value;
      envelope.original = original;
      input.next(envelope);
    };
    for (let index = 0; index < 6; index++)
      send(index, { ...good, symbol: index % 2 ? 'AAA' : 'BBB', ts: T0 + index * 1_000 }, `tick ${index}`);
    send(6, { ...good, ts: T0 + 3_600_000 }, 'the future');
    expect(guard.heldCount).toBe(1);
    for (let index = 7; index < 10; index++)
      send(index, { ...good, symbol: 'AAA', ts: T0 + index * 1_000 }, `tick ${index}`);
    expect(guard.heldCount).toBe(0);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      reason: 'future_time',
      field: 'ts',
      source: { topic: 't', partition: 0, offset: '6' },
      original: 'the future',
    });
    expect(envelope.source).toStrictEqual({ topic: 't', partition: 0, offset: '9' });
    expect(out.map((tick) => tick.ts)).toStrictEqual([0, 1, 2, 3, 4, 5, 7, 8, 9].map((i) => T0 + i * 1_000));
  });

  it('at completion releases held ticks nothing contradicted', () => {
    const { letters, sink } = collect();
    const out: number[] = [];
    const input = new Subject<TickEnvelope>();
    let completed = false;
    input
      .pipe(validateTicks({}, sink, undefined, new EventTimeGuard()))
      .subscribe({ next: (tick) => out.push(tick.ts), complete: () => (completed = true) });
    input.next({ value: good });
    input.next({ value: { ...good, ts: T0 + 1_000 } });
    expect(out).toStrictEqual([]);
    input.complete();
    expect(out).toStrictEqual([T0, T0 + 1_000]);
    expect(letters).toStrictEqual([]);
    expect(completed).toBe(true);
  });
});

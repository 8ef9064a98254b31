import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { TickValidator } from '../domain/validate-tick.js';
import type { DeadLetter } from '../domain/types.js';
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
    expect(letters.map((letter) => letter.reason)).toStrictEqual(['bad_time']);
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

  it('rejects bad options when the graph is built', () => {
    expect(() => validateTicks({ maxSequenceKeys: -1 }, collect().sink)).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });
});

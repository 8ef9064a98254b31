import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it, vi } from 'vitest';
import { BarAggregator } from '../bars/bar-aggregator.js';
import type { Bar, DeadLetter, Tick } from '../domain/types.js';
import { latestBars, naiveBars } from '../../test/bars/naive-bars.js';
import { unhandledErrorsOf } from '../../test/support/unhandled-errors.js';
import { aggregateBars } from './aggregate-bars.js';

const MINUTE = 60_000;
const T = Date.parse('2024-03-04T14:30:00Z');
const HOUR_START = Date.parse('2024-03-04T14:00:00Z');
const DAY_START = Date.parse('2024-03-04T00:00:00Z');

function tick(symbol: string, ts: number, price: number, size: number): Tick {
  return { symbol, ts, price, size };
}

function bar(timeframe: Bar['timeframe'], ts: number, end: number, fields: Partial<Bar>): Bar {
  return {
    symbol: 'A',
    timeframe,
    ts,
    end,
    open: 10,
    high: 10,
    low: 10,
    close: 10,
    volume: 1,
    vwap: 10,
    trades: 1,
    revision: 0,
    ...fields,
  };
}

function collect() {
  const letters: DeadLetter[] = [];
  return { letters, sink: { deadLetter: (letter: DeadLetter) => void letters.push(letter) } };
}

function testScheduler() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('aggregateBars', () => {
  it('emits bars when the watermark passes them, late ticks as dead letters, and flushes on complete', () => {
    const { letters, sink } = collect();
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Tick>('-a-b-c-d-|', {
        a: tick('A', T, 10, 1),
        b: tick('A', T + 5 * MINUTE + 2000, 11, 2), // watermark = end of the first bar: it closes
        c: tick('A', T + 1000, 9, 1), // late
        d: tick('A', T + 5 * MINUTE + 3000, 12, 1),
      });
      const result = source.pipe(aggregateBars({ allowedLatenessMs: 2000 }, sink, scheduler));
      expectObservable(result).toBe('---x-----(yhd|)', {
        x: bar('5m', T, T + 5 * MINUTE, {}),
        y: bar('5m', T + 5 * MINUTE, T + 10 * MINUTE, {
          open: 11,
          high: 12,
          low: 11,
          close: 12,
          volume: 3,
          vwap: 34 / 3,
          trades: 2,
        }),
        h: bar('1h', HOUR_START, HOUR_START + 60 * MINUTE, {
          high: 12,
          close: 12,
          volume: 4,
          vwap: 44 / 4,
          trades: 3,
        }),
        d: bar('1d', DAY_START, DAY_START + 1440 * MINUTE, {
          high: 12,
          close: 12,
          volume: 4,
          vwap: 44 / 4,
          trades: 3,
        }),
      });
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
    expect(letters).toEqual([
      expect.objectContaining({ reason: 'late', field: 'ts', value: '2024-03-04T14:30:01.000Z' }),
    ]);
  });

  it('closes idle bars on the scheduler clock: after idleTimeoutMs, then when the hour is due', () => {
    const { sink } = collect();
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      // the tick is 2 s before its bar's end; the hour ends 25 min 2 s after it
      const source = hot<Tick>('a', { a: tick('A', T + 4 * MINUTE + 58_000, 10, 1) });
      const result = source.pipe(aggregateBars({ idleTimeoutMs: 5000 }, sink, scheduler));
      const unsubscribe = '^ 1999999ms !';
      expectObservable(result, unsubscribe).toBe('5000ms x 1496999ms y', {
        x: bar('5m', T, T + 5 * MINUTE, {}),
        y: bar('1h', HOUR_START, HOUR_START + 60 * MINUTE, {}),
      });
      expectSubscriptions(source.subscriptions).toBe(unsubscribe);
    });
  });

  it('does not idle-close while ticks keep arriving within idleTimeoutMs', () => {
    const { sink } = collect();
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot<Tick>('a 3999ms b 3999ms c', {
        a: tick('A', T + 4 * MINUTE + 50_000, 10, 1),
        b: tick('A', T + 4 * MINUTE + 51_000, 10, 1),
        c: tick('A', T + 4 * MINUTE + 52_000, 10, 1),
      });
      // the bar ends 8 s after the last tick (frame 8000): idle time reaches 8 s at frame 16000
      expectObservable(source.pipe(aggregateBars({ idleTimeoutMs: 5000 }, sink, scheduler)), '^ 20s !').toBe(
        '16000ms x',
        { x: bar('5m', T, T + 5 * MINUTE, { volume: 3, trades: 3 }) },
      );
    });
  });

  it('revises an idle-closed bar when its late tick still arrives within the watermark', () => {
    const { letters, sink } = collect();
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot<Tick>('a 9999ms b', {
        a: tick('A', T + 4 * MINUTE + 58_000, 10, 1),
        b: tick('A', T + 4 * MINUTE + 59_000, 12, 1),
      });
      expectObservable(source.pipe(aggregateBars({ idleTimeoutMs: 5000 }, sink, scheduler)), '^ 20s !').toBe(
        '5000ms x 4999ms y',
        {
          x: bar('5m', T, T + 5 * MINUTE, {}),
          y: bar('5m', T, T + 5 * MINUTE, {
            high: 12,
            close: 12,
            volume: 2,
            vwap: 11,
            trades: 2,
            revision: 1,
          }),
        },
      );
    });
    expect(letters).toHaveLength(0);
  });

  it("frees the idle timer on unsubscribe (a leaked timer would close the shared aggregator's bars)", () => {
    const { sink } = collect();
    const aggregator = new BarAggregator({ idleTimeoutMs: 5000 });
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Tick>('a', { a: tick('A', T, 10, 1) });
      expectObservable(source.pipe(aggregateBars(aggregator, sink, scheduler)), '^ 999ms !').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^ 999ms !');
    });
    // run() has flushed virtual time to the end: the 5m bar would have been idle-closed by now
    expect(aggregator.snapshot().symbols[0]!.slots.filter((slot) => slot !== null)).toHaveLength(1);
  });

  it('propagates a source error without flushing', () => {
    const { sink } = collect();
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot<Tick>('-a-#', { a: tick('A', T, 10, 1) });
      expectObservable(source.pipe(aggregateBars({}, sink, scheduler))).toBe('---#');
    });
  });

  it('propagates an exception from the state machine as an error (a bug is never hidden)', () => {
    const { sink } = collect();
    const aggregator = new BarAggregator();
    const bug = new Error('bug');
    vi.spyOn(aggregator, 'add').mockImplementation(() => {
      throw bug;
    });
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<Tick>('-a-a-|', { a: tick('A', T, 10, 1) });
      expectObservable(source.pipe(aggregateBars(aggregator, sink, scheduler))).toBe('-#', undefined, bug);
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('errors the stream and frees its timer when the idle close throws, reporting nothing unhandled', () => {
    const { sink } = collect();
    const aggregator = new BarAggregator({ idleTimeoutMs: 5000 });
    const bug = new Error('idle-close bug');
    vi.spyOn(aggregator, 'onIdle').mockImplementation(() => {
      throw bug;
    });
    const scheduler = testScheduler();
    const unhandled = unhandledErrorsOf(() =>
      scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<Tick>('-a 20s -|', { a: tick('A', T, 10, 1) });
        expectObservable(source.pipe(aggregateBars(aggregator, sink, scheduler))).toBe(
          '- 5s #',
          undefined,
          bug,
        );
        expectSubscriptions(source.subscriptions).toBe('^ 5s !');
      }),
    );
    expect(unhandled).toStrictEqual([]);
  });

  it('refuses a second concurrent subscription to one aggregator instance', () => {
    const { sink } = collect();
    const scheduler = testScheduler();
    const operator = aggregateBars(new BarAggregator(), sink, scheduler);
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot<Tick>('-a-|', { a: tick('A', T, 10, 1) });
      expectObservable(source.pipe(operator), '^-!').toBe('');
      expectObservable(source.pipe(operator), '^-!').toBe(
        '#',
        undefined,
        expect.objectContaining({ code: 'internal' }),
      );
    });
  });

  it('rejects bad options when the graph is built', () => {
    expect(() => aggregateBars({ allowedLatenessMs: 400_000 }, collect().sink)).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });

  it('gives exactly the plain state machine output, and the naive bars, for random tick streams', async () => {
    const arbitraryTick = fc.record({
      symbol: fc.constantFrom('A', 'B'),
      ts: fc.integer({ min: T, max: T + 3 * 3_600_000 }),
      price: fc.integer({ min: 1, max: 10_000 }).map((cents) => cents / 100),
      size: fc.integer({ min: 0, max: 100 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(arbitraryTick, { minLength: 1, maxLength: 200 }), async (ticks) => {
        const { letters, sink } = collect();
        const emitted = await lastValueFrom(
          from(ticks).pipe(aggregateBars({ allowedLatenessMs: 60_000 }, sink), toArray()),
        );
        const plain = new BarAggregator({ allowedLatenessMs: 60_000 });
        const expected: Bar[] = [];
        const accepted = ticks.filter((t) => plain.add(t, expected) === undefined);
        plain.flush(expected);
        expect(emitted).toStrictEqual(expected);
        expect(letters).toHaveLength(ticks.length - accepted.length);
        const naive = naiveBars(accepted);
        const latest = latestBars(emitted);
        expect([...latest.keys()].sort()).toStrictEqual([...naive.keys()].sort());
        for (const [key, reference] of naive) {
          expect(latest.get(key)).toMatchObject({
            open: reference.open,
            close: reference.close,
            high: reference.high,
            low: reference.low,
            volume: reference.volume,
            trades: reference.trades,
          });
        }
      }),
      { numRuns: 100 },
    );
  });
});

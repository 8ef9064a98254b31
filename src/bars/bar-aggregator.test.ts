import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Bar, DeadLetter, Tick, Timeframe } from '../domain/types.js';
import {
  barKey,
  latestBars,
  naiveBars,
  naiveSessionDay,
  type NaiveSession,
} from '../../test/bars/naive-bars.js';
import { BarAggregator, type BarAggregatorOptions } from './bar-aggregator.js';
import type { SessionOptions } from './session-calendar.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const T = Date.parse('2024-03-04T14:30:00Z');

function tick(symbol: string, iso: string | number, price: number, size: number): Tick {
  return { symbol, ts: typeof iso === 'number' ? iso : Date.parse(iso), price, size };
}

/** Runs ticks through an aggregator, then flushes; returns every emitted bar and dead letter in order. */
function run(ticks: readonly Tick[], options: BarAggregatorOptions = {}, flush = true) {
  const aggregator = new BarAggregator(options);
  const bars: Bar[] = [];
  const letters: Array<{ index: number; letter: DeadLetter }> = [];
  ticks.forEach((t, index) => {
    const letter = aggregator.add(t, bars);
    if (letter !== undefined) letters.push({ index, letter });
  });
  if (flush) aggregator.flush(bars);
  return { aggregator, bars, letters };
}

function brief(bar: Bar): string {
  return `${bar.symbol} ${bar.timeframe} ${new Date(bar.ts).toISOString().slice(0, 16)} r${bar.revision}`;
}

function expectSameBar(actual: Bar | undefined, expected: Bar | undefined): void {
  expect(actual).toBeDefined();
  expect(expected).toBeDefined();
  const { vwap: actualVwap, volume: actualVolume, revision: _r1, ...actualRest } = actual!;
  const { vwap: expectedVwap, volume: expectedVolume, revision: _r2, ...expectedRest } = expected!;
  expect(actualRest).toStrictEqual(expectedRest);
  expect(actualVolume).toBeCloseTo(expectedVolume, 6);
  expect(Math.abs(actualVwap - expectedVwap)).toBeLessThanOrEqual(1e-9 * expectedVwap);
}

function expectMatchesNaive(
  emitted: readonly Bar[],
  accepted: readonly Tick[],
  session?: NaiveSession,
): void {
  const expected = naiveBars(accepted, session);
  const actual = latestBars(emitted);
  expect([...actual.keys()].sort()).toStrictEqual([...expected.keys()].sort());
  for (const [key, bar] of expected) expectSameBar(actual.get(key), bar);
}

describe('BarAggregator on a hand-checked tick set', () => {
  // lateness 2 s, UTC days. Expected values computed by hand in the comments.
  const ticks = [
    tick('AAPL', '2024-03-04T14:30:00.000Z', 100, 10),
    tick('AAPL', '2024-03-04T14:31:00.000Z', 102, 5),
    tick('MSFT', '2024-03-04T14:32:00.000Z', 400, 1),
    tick('AAPL', '2024-03-04T14:30:30.000Z', 99, 5), // out of order, bar open: low 99, open stays 100
    tick('AAPL', '2024-03-04T14:34:59.999Z', 101, 10),
    tick('AAPL', '2024-03-04T14:34:59.999Z', 101.5, 0), // same ts, later arrival: close 101.5, size 0
    tick('AAPL', '2024-03-04T14:35:01.000Z', 103, 2), // watermark 14:34:59 < 14:35: nothing closes
    tick('MSFT', '2024-03-04T14:34:59.000Z', 401, 3), // 2 s late but its bar is open: merged
    tick('AAPL', '2024-03-04T14:35:02.500Z', 104, 1), // watermark 14:35:00.5: both 14:30 bars close
    tick('MSFT', '2024-03-04T14:34:59.500Z', 399, 1), // bar closed, ts < watermark: late
  ];
  const { bars, letters } = run(ticks);
  const day = Date.parse('2024-03-04T00:00:00Z');

  it('emits the bars in the documented order with the hand-computed values', () => {
    expect(bars.map(brief)).toStrictEqual([
      'AAPL 5m 2024-03-04T14:30 r0',
      'MSFT 5m 2024-03-04T14:30 r0',
      'AAPL 5m 2024-03-04T14:35 r0',
      'AAPL 1h 2024-03-04T14:00 r0',
      'MSFT 1h 2024-03-04T14:00 r0',
      'AAPL 1d 2024-03-04T00:00 r0',
      'MSFT 1d 2024-03-04T00:00 r0',
    ]);
    const [aapl5, msft5, aapl5b, aapl1h, msft1h, aapl1d, msft1d] = bars;
    // turnover 100·10 + 102·5 + 99·5 + 101·10 = 3015 over volume 30
    expect(aapl5).toStrictEqual({
      symbol: 'AAPL',
      timeframe: '5m',
      ts: T,
      end: T + 5 * MINUTE,
      open: 100,
      high: 102,
      low: 99,
      close: 101.5,
      volume: 30,
      vwap: 100.5,
      trades: 5,
      revision: 0,
    });
    // 400·1 + 401·3 = 1603 over 4
    expect(msft5).toMatchObject({
      open: 400,
      high: 401,
      low: 400,
      close: 401,
      volume: 4,
      vwap: 400.75,
      trades: 2,
    });
    // 103·2 + 104·1 = 310 over 3
    expect(aapl5b).toMatchObject({
      ts: T + 5 * MINUTE,
      open: 103,
      high: 104,
      low: 103,
      close: 104,
      volume: 3,
      trades: 2,
    });
    expect(aapl5b!.vwap).toBeCloseTo(310 / 3, 12);
    // 3325 over 33
    expect(aapl1h).toMatchObject({
      ts: T - 30 * MINUTE,
      end: T + 30 * MINUTE,
      open: 100,
      high: 104,
      low: 99,
      close: 104,
      volume: 33,
      trades: 7,
    });
    expect(aapl1h!.vwap).toBeCloseTo(3325 / 33, 12);
    expect(msft1h).toMatchObject({ open: 400, close: 401, volume: 4, vwap: 400.75, trades: 2 });
    expect(aapl1d).toMatchObject({
      ts: day,
      end: day + 24 * HOUR,
      open: 100,
      close: 104,
      volume: 33,
      trades: 7,
    });
    expect(msft1d).toMatchObject({ ts: day, end: day + 24 * HOUR, volume: 4, trades: 2 });
  });

  it('rejects only the late MSFT tick, naming the time and the watermark', () => {
    expect(letters).toHaveLength(1);
    expect(letters[0]!.index).toBe(9);
    expect(letters[0]!.letter).toMatchObject({
      reason: 'late',
      field: 'ts',
      value: '2024-03-04T14:34:59.500Z',
    });
    expect(letters[0]!.letter.message).toContain('watermark 2024-03-04T14:35:00.500Z');
  });

  it('agrees with the naive reference', () => {
    expectMatchesNaive(
      bars,
      ticks.filter((_, index) => index !== 9),
    );
  });
});

describe('BarAggregator watermark', () => {
  it('closes an illiquid symbol when the market moves on, and never emits empty bars', () => {
    const { bars } = run(
      [
        tick('ILLQ', T + 1000, 5, 1),
        tick('LIQ', T + 20 * MINUTE, 10, 1),
        tick('LIQ', T + 20 * MINUTE + 2000, 10, 1),
      ],
      { allowedLatenessMs: 2000 },
      false,
    );
    expect(bars.map(brief)).toStrictEqual(['ILLQ 5m 2024-03-04T14:30 r0']);
  });

  it('closes at watermark >= end exactly', () => {
    const aggregator = new BarAggregator({ allowedLatenessMs: 1000 });
    const out: Bar[] = [];
    aggregator.add(tick('A', T, 1, 1), out);
    aggregator.add(tick('A', T + 5 * MINUTE + 999, 1, 1), out);
    expect(out).toHaveLength(0);
    expect(aggregator.watermarkMs).toBe(T + 5 * MINUTE - 1);
    aggregator.add(tick('A', T + 5 * MINUTE + 1000, 1, 1), out);
    expect(out.map(brief)).toStrictEqual(['A 5m 2024-03-04T14:30 r0']);
  });

  it('with lateness 0 closes a bar as soon as a tick of the next bar arrives', () => {
    const aggregator = new BarAggregator({ allowedLatenessMs: 0 });
    const out: Bar[] = [];
    aggregator.add(tick('A', T, 1, 1), out);
    aggregator.add(tick('B', T + 5 * MINUTE, 1, 1), out);
    expect(out.map(brief)).toStrictEqual(['A 5m 2024-03-04T14:30 r0']);
    expect(aggregator.add(tick('A', T + 5 * MINUTE - 1, 1, 1), out)?.reason).toBe('late');
  });

  it('holds two open 5m bars per symbol when lateness spans a boundary, closing them in order', () => {
    const { bars, letters } = run(
      [
        tick('A', T + 5 * MINUTE + 100, 2, 1), // opens 14:35; watermark 14:30:00.1 - 5m...
        tick('A', T + 4 * MINUTE + 59_000, 1, 1), // 14:34:59: its bar (14:30) has not closed: opens it
        tick('A', T + 15 * MINUTE, 3, 1),
      ],
      { allowedLatenessMs: 300_000 },
      false,
    );
    expect(letters).toHaveLength(0);
    expect(bars.map(brief)).toStrictEqual(['A 5m 2024-03-04T14:30 r0', 'A 5m 2024-03-04T14:35 r0']);
  });

  it('rejects a first tick of a new symbol whose bar has already closed', () => {
    const { letters } = run([tick('A', T + 10 * MINUTE, 1, 1), tick('B', T, 1, 1)], {}, false);
    expect(letters.map((entry) => entry.letter.reason)).toStrictEqual(['late']);
  });

  it('orders one advance by end, then 5m < 1h < 1d, then first-seen symbol', () => {
    // 5 min lateness: A's 23:52 tick still finds its bar open after Z's 23:57 tick
    const ticks = [
      tick('Z', '2024-03-04T23:57:00Z', 1, 1),
      tick('A', '2024-03-04T23:52:00Z', 1, 1),
      tick('M', '2024-03-04T23:58:00Z', 1, 1),
      tick('A', '2024-03-05T00:10:00Z', 1, 1),
    ];
    const { bars } = run(ticks, { allowedLatenessMs: 300_000 }, false);
    expect(bars.map(brief)).toStrictEqual([
      'A 5m 2024-03-04T23:50 r0',
      'Z 5m 2024-03-04T23:55 r0',
      'M 5m 2024-03-04T23:55 r0',
      'Z 1h 2024-03-04T23:00 r0',
      'A 1h 2024-03-04T23:00 r0',
      'M 1h 2024-03-04T23:00 r0',
      'Z 1d 2024-03-04T00:00 r0',
      'A 1d 2024-03-04T00:00 r0',
      'M 1d 2024-03-04T00:00 r0',
    ]);
  });
});

describe('BarAggregator idle close and revisions', () => {
  it('closes on idle only after idleTimeoutMs, and only bars ending by maxEventTime + idle time', () => {
    const aggregator = new BarAggregator({ idleTimeoutMs: 5000 });
    const out: Bar[] = [];
    aggregator.add(tick('A', T + 4 * MINUTE + 58_000, 1, 1), out); // bar ends 2 s after the max event time
    aggregator.onIdle(4999, out);
    expect(out).toHaveLength(0);
    expect(aggregator.nextIdleCloseAfterMs()).toBe(5000);
    aggregator.onIdle(5000, out);
    expect(out.map(brief)).toStrictEqual(['A 5m 2024-03-04T14:30 r0']);
    // the hour ends 25 min 2 s after the max event time (14:34:58)
    expect(aggregator.nextIdleCloseAfterMs()).toBe(25 * MINUTE + 2000);
    aggregator.onIdle(25 * MINUTE + 1999, out);
    expect(out).toHaveLength(1);
    aggregator.onIdle(25 * MINUTE + 2000, out);
    expect(out.map(brief).slice(1)).toStrictEqual(['A 1h 2024-03-04T14:00 r0']);
    expect(aggregator.watermarkMs).toBe(T + 4 * MINUTE + 56_000); // idle close does not move the watermark
  });

  it('revises an idle-closed 5m bar with a tick at or after the watermark, updating its open hour silently', () => {
    const aggregator = new BarAggregator({ idleTimeoutMs: 1000, allowedLatenessMs: 2000 });
    const out: Bar[] = [];
    aggregator.add(tick('A', T + 4 * MINUTE, 10, 1), out);
    aggregator.onIdle(60_000, out); // closes the 14:30 bar (ends 1 min after max event time)
    expect(out.map(brief)).toStrictEqual(['A 5m 2024-03-04T14:30 r0']);
    expect(aggregator.add(tick('A', T + 4 * MINUTE + 30_000, 12, 2), out)).toBeUndefined();
    expect(aggregator.add(tick('A', T + 4 * MINUTE + 28_000, 11, 1), out)).toBeUndefined(); // = watermark
    expect(out.map(brief).slice(1)).toStrictEqual(['A 5m 2024-03-04T14:30 r1', 'A 5m 2024-03-04T14:30 r2']);
    expect(out[2]).toMatchObject({ open: 10, high: 12, close: 12, volume: 4, trades: 3, revision: 2 });
    // watermark 14:34:28 (max event time 14:34:30 − 2 s)
    expect(aggregator.add(tick('A', T + 4 * MINUTE + 27_999, 9, 1), out)).toMatchObject({ reason: 'late' });
    aggregator.flush(out);
    expect(out.map(brief).slice(3)).toStrictEqual(['A 1h 2024-03-04T14:00 r0', 'A 1d 2024-03-04T00:00 r0']);
    expect(out[3]).toMatchObject({ volume: 4, trades: 3, high: 12, revision: 0 });
  });

  it('revises closed hour and day bars too, and re-emits them after the 5m revision', () => {
    const aggregator = new BarAggregator({ idleTimeoutMs: 1000 });
    const out: Bar[] = [];
    aggregator.add(tick('A', '2024-03-04T23:57:00Z', 10, 1), out);
    aggregator.onIdle(10 * MINUTE, out); // closes 5m, 1h and 1d
    expect(out.map(brief)).toStrictEqual([
      'A 5m 2024-03-04T23:55 r0',
      'A 1h 2024-03-04T23:00 r0',
      'A 1d 2024-03-04T00:00 r0',
    ]);
    aggregator.add(tick('A', '2024-03-04T23:58:00Z', 11, 1), out);
    expect(out.map(brief).slice(3)).toStrictEqual([
      'A 5m 2024-03-04T23:55 r1',
      'A 1h 2024-03-04T23:00 r1',
      'A 1d 2024-03-04T00:00 r1',
    ]);
    expect(out[5]).toMatchObject({ close: 11, volume: 2, trades: 2 });
  });

  it('rolls a 5m bar opened after its hour was idle-closed into a revision of that hour', () => {
    const aggregator = new BarAggregator({ idleTimeoutMs: 1000, allowedLatenessMs: 2000 });
    const out: Bar[] = [];
    aggregator.add(tick('A', '2024-03-04T14:00:00Z', 10, 1), out);
    aggregator.onIdle(HOUR, out); // closes 14:00 5m and the 14:00 hour (ends 1 h after)
    expect(out.map(brief)).toStrictEqual(['A 5m 2024-03-04T14:00 r0', 'A 1h 2024-03-04T14:00 r0']);
    aggregator.add(tick('A', '2024-03-04T14:20:00Z', 12, 1), out); // a later 5m bar of the closed hour
    aggregator.add(tick('A', '2024-03-04T15:10:00Z', 13, 1), out); // moves the watermark past 14:25
    expect(out.map(brief).slice(2)).toStrictEqual(['A 5m 2024-03-04T14:20 r0', 'A 1h 2024-03-04T14:00 r1']);
    expect(out[3]).toMatchObject({ open: 10, close: 12, trades: 2 });
  });

  it('rejects a tick for an idle-closed bar that is not the most recent closed one', () => {
    const aggregator = new BarAggregator({ idleTimeoutMs: 1000, allowedLatenessMs: 300_000 });
    const out: Bar[] = [];
    aggregator.add(tick('A', T + 4 * MINUTE, 1, 1), out);
    aggregator.add(tick('A', T + 5 * MINUTE, 1, 1), out); // two open bars
    aggregator.onIdle(HOUR, out);
    expect(out.map(brief).slice(0, 2)).toStrictEqual([
      'A 5m 2024-03-04T14:30 r0',
      'A 5m 2024-03-04T14:35 r0',
    ]);
    expect(aggregator.add(tick('A', T + 4 * MINUTE + 1, 1, 1), out)?.message).toContain('a later 5m bar');
  });
});

describe('BarAggregator with a session', () => {
  const session: SessionOptions = { timezone: 'America/New_York', open: '09:30', close: '16:00' };

  it('builds extended-hours 5m/1h bars but keeps them out of the daily bar, across the DST switch', () => {
    const ticks = [
      tick('SPY', '2024-03-08T13:00:00Z', 500, 1), // 08:00 EST, pre-market
      tick('SPY', '2024-03-08T14:30:00Z', 501, 2), // 09:30 EST, open
      tick('SPY', '2024-03-08T20:59:59Z', 502, 3), // 15:59:59 EST
      tick('SPY', '2024-03-08T21:00:00Z', 503, 4), // 16:00 EST, after hours
      tick('SPY', '2024-03-11T13:29:59Z', 504, 5), // 09:29:59 EDT
      tick('SPY', '2024-03-11T13:30:00Z', 505, 6), // 09:30 EDT
      tick('SPY', '2024-03-11T19:59:00Z', 506, 7), // 15:59 EDT
    ];
    const { bars } = run(ticks, { session });
    const daily = bars.filter((bar) => bar.timeframe === '1d');
    expect(daily).toHaveLength(2);
    expect(daily[0]).toMatchObject({
      ts: Date.parse('2024-03-08T14:30:00Z'),
      end: Date.parse('2024-03-08T21:00:00Z'),
      open: 501,
      close: 502,
      volume: 5,
      trades: 2,
    });
    expect(daily[1]).toMatchObject({
      ts: Date.parse('2024-03-11T13:30:00Z'),
      end: Date.parse('2024-03-11T20:00:00Z'),
      open: 505,
      close: 506,
      volume: 13,
    });
    expect(bars.filter((bar) => bar.timeframe === '5m')).toHaveLength(7);
    expect(bars.filter((bar) => bar.timeframe === '1h').map((bar) => bar.volume)).toStrictEqual([
      1,
      2,
      3,
      4,
      5 + 6,
      7,
    ]); // 504 and 505 share the 13:00Z hour;
    expectMatchesNaive(bars, ticks, session);
  });

  it('builds 23- and 25-hour daily bars for local-midnight sessions on the DST switch days', () => {
    const midnight = { timezone: 'America/New_York', open: '00:00', close: '24:00' };
    const ticks = [
      tick('BTC', '2024-03-10T04:59:00Z', 1, 1), // 23:59 EST on 03-09
      tick('BTC', '2024-03-10T05:00:00Z', 2, 1), // 00:00 EST on 03-10
      tick('BTC', '2024-03-11T03:59:00Z', 3, 1), // 23:59 EDT on 03-10
      tick('BTC', '2024-11-03T04:00:00Z', 4, 1), // 00:00 EDT on 11-03
      tick('BTC', '2024-11-04T04:59:00Z', 5, 1), // 23:59 EST on 11-03
    ];
    const { bars } = run(ticks, { session: midnight });
    const daily = bars.filter((bar) => bar.timeframe === '1d');
    expect(
      daily.map((bar) => [new Date(bar.ts).toISOString(), (bar.end - bar.ts) / HOUR, bar.volume]),
    ).toStrictEqual([
      ['2024-03-09T05:00:00.000Z', 24, 1],
      ['2024-03-10T05:00:00.000Z', 23, 2],
      ['2024-11-03T04:00:00.000Z', 25, 2],
    ]);
    expectMatchesNaive(bars, ticks, midnight);
  });

  it('closes the daily bar at the session close, after the 16:00 5m and 1h bars', () => {
    const aggregator = new BarAggregator({ session });
    const out: Bar[] = [];
    aggregator.add(tick('SPY', '2024-11-04T20:58:00Z', 1, 1), out); // 15:58 EST
    aggregator.add(tick('SPY', '2024-11-04T21:00:02Z', 1, 1), out); // after hours: watermark 21:00:00
    expect(out.map((bar) => `${bar.timeframe} ${new Date(bar.end).toISOString()}`)).toStrictEqual([
      '5m 2024-11-04T21:00:00.000Z',
      '1h 2024-11-04T21:00:00.000Z',
      '1d 2024-11-04T21:00:00.000Z',
    ]);
  });
});

describe('BarAggregator properties', () => {
  const symbols = ['AAA', 'BBB', 'CCC'];
  const base = Date.parse('2024-03-08T12:00:00Z');
  const arbitraryTick = (spanMs: number) =>
    fc.record({
      symbol: fc.constantFrom(...symbols),
      ts: fc.integer({ min: base, max: base + spanMs }),
      price: fc.integer({ min: 1, max: 100_000 }).map((cents) => cents / 100),
      size: fc.integer({ min: 0, max: 500 }),
    });
  /** Ticks in event-time order, delivered in an order where each one is at most `lateness` behind all before it. */
  const shuffledWithin = (lateness: number, spanMs: number) =>
    fc
      .array(fc.tuple(arbitraryTick(spanMs), fc.integer({ min: 0, max: lateness })), {
        minLength: 1,
        maxLength: 300,
      })
      .map((pairs) =>
        pairs
          .map(([t, delay], index) => ({ t, key: t.ts + delay, index }))
          .sort((a, b) => a.key - b.key || a.index - b.index)
          .map((entry) => entry.t),
      );

  it('OHLC invariants, volume and trade conservation, 1h and 1d = merge of their 5m bars', () => {
    fc.assert(
      fc.property(shuffledWithin(2000, 3 * 86_400_000), (ticks) => {
        const { bars, letters } = run(ticks);
        expect(letters).toHaveLength(0);
        for (const bar of bars) {
          expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open, bar.close));
          expect(bar.high).toBeGreaterThanOrEqual(Math.max(bar.open, bar.close));
          expect(bar.vwap).toBeGreaterThanOrEqual(bar.low);
          expect(bar.vwap).toBeLessThanOrEqual(bar.high);
          expect(bar.revision).toBe(0);
        }
        for (const timeframe of ['5m', '1h', '1d'] as Timeframe[]) {
          const ofFrame = bars.filter((bar) => bar.timeframe === timeframe);
          expect(ofFrame.reduce((sum, bar) => sum + bar.volume, 0)).toBe(
            ticks.reduce((sum, t) => sum + t.size, 0),
          );
          expect(ofFrame.reduce((sum, bar) => sum + bar.trades, 0)).toBe(ticks.length);
        }
        const fives = bars.filter((bar) => bar.timeframe === '5m');
        for (const coarse of bars.filter((bar) => bar.timeframe !== '5m')) {
          const parts = fives
            .filter((bar) => bar.symbol === coarse.symbol && bar.ts >= coarse.ts && bar.end <= coarse.end)
            .sort((a, b) => a.ts - b.ts);
          expect(coarse.open).toBe(parts[0]!.open);
          expect(coarse.close).toBe(parts[parts.length - 1]!.close);
          expect(coarse.high).toBe(Math.max(...parts.map((bar) => bar.high)));
          expect(coarse.low).toBe(Math.min(...parts.map((bar) => bar.low)));
          expect(coarse.volume).toBe(parts.reduce((sum, bar) => sum + bar.volume, 0));
          expect(coarse.trades).toBe(parts.reduce((sum, bar) => sum + bar.trades, 0));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('in-order and shuffled-within-lateness input give the same bars (distinct timestamps)', () => {
    fc.assert(
      fc.property(shuffledWithin(5000, 2 * 86_400_000), (shuffled) => {
        const distinct = [...new Map(shuffled.map((t) => [t.ts, t])).values()];
        const inOrder = [...distinct].sort((a, b) => a.ts - b.ts);
        const arrival = shuffled.filter((t) => distinct.includes(t));
        const ordered = run(inOrder, { allowedLatenessMs: 5000 }).bars;
        const reordered = run(arrival, { allowedLatenessMs: 5000 }).bars;
        const left = latestBars(ordered);
        const right = latestBars(reordered);
        expect([...right.keys()].sort()).toStrictEqual([...left.keys()].sort());
        for (const [key, bar] of left) expectSameBar(right.get(key), bar);
      }),
      { numRuns: 100 },
    );
  });

  it('any arrival order with idle closes: the latest revision of every bar equals the naive bars of the accepted ticks', () => {
    const step = fc.oneof(
      { weight: 9, arbitrary: arbitraryTick(6 * HOUR).map((t) => ({ kind: 'tick' as const, t })) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 0, max: 2 * HOUR }).map((idleMs) => ({ kind: 'idle' as const, idleMs })),
      },
    );
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.boolean(),
        (steps, allowedLatenessMs, withSession) => {
          const session = withSession
            ? { timezone: 'America/New_York', open: '09:30', close: '16:00' }
            : undefined;
          const aggregator = new BarAggregator({ allowedLatenessMs, idleTimeoutMs: 1000, session });
          const bars: Bar[] = [];
          const accepted: Tick[] = [];
          let lateCount = 0;
          for (const action of steps) {
            if (action.kind === 'idle') {
              aggregator.onIdle(action.idleMs, bars);
              continue;
            }
            const before = aggregator.watermarkMs;
            const letter = aggregator.add(action.t, bars);
            if (letter === undefined) accepted.push(action.t);
            else {
              expect(letter.reason).toBe('late');
              expect(action.t.ts).toBeLessThan(Math.max(before, aggregator.watermarkMs) + 5 * MINUTE);
              lateCount++;
            }
          }
          aggregator.flush(bars);
          expect(accepted.length + lateCount).toBe(steps.filter((s) => s.kind === 'tick').length);
          expectMatchesNaive(bars, accepted, session);
          // revisions of one bar are emitted 0, 1, 2, ... in order
          const seen = new Map<string, number>();
          for (const bar of bars) {
            const key = barKey(bar.symbol, bar.timeframe, bar.ts);
            expect(bar.revision).toBe((seen.get(key) ?? -1) + 1);
            seen.set(key, bar.revision);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('snapshot -> JSON -> restore at a random point continues exactly like an unbroken run', () => {
    const step = fc.oneof(
      { weight: 9, arbitrary: arbitraryTick(4 * HOUR).map((t) => ({ kind: 'tick' as const, t })) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 0, max: HOUR }).map((idleMs) => ({ kind: 'idle' as const, idleMs })),
      },
    );
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.boolean(),
        (steps, cut, withSession) => {
          const options: BarAggregatorOptions = {
            allowedLatenessMs: 60_000,
            idleTimeoutMs: 1000,
            session: withSession
              ? { timezone: 'America/New_York', open: '09:30', close: '16:00' }
              : undefined,
          };
          const apply = (aggregator: BarAggregator, part: typeof steps, out: Bar[], letters: unknown[]) => {
            for (const action of part) {
              if (action.kind === 'idle') aggregator.onIdle(action.idleMs, out);
              else letters.push(aggregator.add(action.t, out));
            }
          };
          const split = cut % (steps.length + 1);
          const unbroken = new BarAggregator(options);
          const unbrokenBars: Bar[] = [];
          const unbrokenLetters: unknown[] = [];
          apply(unbroken, steps, unbrokenBars, unbrokenLetters);
          unbroken.flush(unbrokenBars);

          const first = new BarAggregator(options);
          const bars: Bar[] = [];
          const letters: unknown[] = [];
          apply(first, steps.slice(0, split), bars, letters);
          const second = new BarAggregator(options);
          second.restore(JSON.parse(JSON.stringify(first.snapshot())));
          expect(second.snapshot()).toStrictEqual(first.snapshot());
          apply(second, steps.slice(split), bars, letters);
          second.flush(bars);
          expect(bars).toStrictEqual(unbrokenBars);
          expect(letters).toStrictEqual(unbrokenLetters);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('BarAggregator reference run on a few thousand random ticks', () => {
  it('matches the naive implementation for 5,000 ticks of 20 symbols over 3 days, with and without a session', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const start = Date.parse('2024-03-07T00:00:00Z');
    const ticks: Tick[] = [];
    let ts = start;
    for (let index = 0; index < 5000; index++) {
      ts += Math.floor(random() * 100_000);
      ticks.push({
        symbol: `S${Math.floor(random() * 20)}`,
        ts,
        price: Math.round((50 + random() * 50) * 100) / 100,
        size: Math.round(random() * 1000) / 10,
      });
    }
    // deliver up to 1.5 s out of order
    const arrival = ticks
      .map((t, index) => ({ t, key: t.ts + Math.floor(random() * 1500), index }))
      .sort((a, b) => a.key - b.key || a.index - b.index)
      .map((entry) => entry.t);
    for (const session of [undefined, { timezone: 'America/New_York', open: '09:30', close: '16:00' }]) {
      const { bars, letters } = run(arrival, { session });
      expect(letters).toHaveLength(0);
      expectMatchesNaive(bars, arrival, session);
      expect(bars.filter((bar) => bar.timeframe === '1d').length).toBeGreaterThan(20);
    }
    // sanity of the reference's own session logic
    expect(
      naiveSessionDay(Date.parse('2024-03-11T13:30:00Z'), {
        timezone: 'America/New_York',
        open: '09:30',
        close: '16:00',
      }),
    ).toStrictEqual({
      open: Date.parse('2024-03-11T13:30:00Z'),
      close: Date.parse('2024-03-11T20:00:00Z'),
    });
  });
});

describe('BarAggregator options, limits and snapshots', () => {
  it.each([
    [{ allowedLatenessMs: -1 }],
    [{ allowedLatenessMs: 300_001 }],
    [{ allowedLatenessMs: 1.5 }],
    [{ idleTimeoutMs: 0 }],
    [{ maxSymbols: 0 }],
    [{ session: { timezone: 'Nowhere/Land', open: '09:30', close: '16:00' } }],
  ])('rejects %j with config_invalid', (options) => {
    expect(() => new BarAggregator(options)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('rejects ticks of symbols past maxSymbols as too_large', () => {
    const { letters } = run([tick('A', T, 1, 1), tick('B', T, 1, 1), tick('A', T + 1, 1, 1)], {
      maxSymbols: 1,
    });
    expect(letters.map((entry) => [entry.index, entry.letter.reason])).toStrictEqual([[1, 'too_large']]);
  });

  it('rejects an unvalidated tick instead of corrupting state', () => {
    const { letters, bars } = run([
      tick('A', Number.NaN, 1, 1),
      tick('A', T, -1, 1),
      tick('A', T, 1, Number.POSITIVE_INFINITY),
    ]);
    expect(letters.map((entry) => entry.letter.reason)).toStrictEqual([
      'bad_time',
      'non_positive_price',
      'negative_size',
    ]);
    expect(bars).toHaveLength(0);
  });

  it.each([
    ['null', () => null],
    ['other lateness', (s: Record<string, unknown>) => ({ ...s, allowedLatenessMs: 1000 })],
    [
      'other session',
      (s: Record<string, unknown>) => ({ ...s, session: { timezone: 'UTC', open: '00:00', close: '24:00' } }),
    ],
    ['inconsistent watermark', (s: Record<string, unknown>) => ({ ...s, watermarkMs: 5 })],
    [
      'duplicate symbol',
      (s: Record<string, unknown>) => ({
        ...s,
        symbols: [...(s.symbols as unknown[]), ...(s.symbols as unknown[])],
      }),
    ],
    [
      'NaN in a slot',
      (s: Record<string, unknown>) => ({
        ...s,
        symbols: [
          { symbol: 'A', slots: [[Number.NaN, ...Array(11).fill(1)], null, null, null, null, null, null] },
        ],
      }),
    ],
    [
      'open bar behind the watermark',
      (s: Record<string, unknown>) => ({ ...s, maxEventTimeMs: T + HOUR, watermarkMs: T + HOUR - 2000 }),
    ],
    [
      '5m bar in the wrong parity slot',
      (s: Record<string, unknown>) => {
        const symbols = structuredClone(s.symbols) as Array<{ slots: unknown[] }>;
        symbols[0]!.slots.splice(0, 2, symbols[0]!.slots[1], symbols[0]!.slots[0]);
        return { ...s, symbols };
      },
    ],
  ])('restore rejects a bad snapshot (%s) with snapshot_invalid and keeps its state', (_name, corrupt) => {
    const aggregator = new BarAggregator();
    aggregator.add(tick('A', T, 1, 1), []);
    const good = aggregator.snapshot();
    expect(() => aggregator.restore(corrupt(good as unknown as Record<string, unknown>))).toThrow(
      expect.objectContaining({ code: 'snapshot_invalid' }),
    );
    expect(aggregator.snapshot()).toStrictEqual(good);
  });

  it('keeps per-symbol state small: 7 accumulators of 12 float64 = 672 bytes in the buffer', () => {
    const aggregator = new BarAggregator();
    for (let index = 0; index < 10_000; index++) aggregator.add(tick(`S${index}`, T, 1, 1), []);
    expect(aggregator.symbolCount).toBe(10_000);
    expect(aggregator.stateBytes).toBeLessThanOrEqual(2 * 10_000 * 672);
  });
});

import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it, vi } from 'vitest';
import type { Bar, DeadLetter, FeatureVector } from '../domain/types.js';
import { FEATURE_COLUMNS, FEATURE_COUNT } from '../domain/types.js';
import { isMlfpError } from '../errors.js';
import { FeatureSet } from '../indicators/feature-set.js';
import { unhandledErrorsOf } from '../../test/support/unhandled-errors.js';
import { computeFeatures, FeatureEngine } from './compute-features.js';

const DAY = 86_400_000;
const bar = (symbol: string, day: number, close: number, revision = 0): Bar => ({
  symbol,
  timeframe: '1d',
  ts: day * DAY,
  end: (day + 1) * DAY,
  open: close,
  high: close + 1,
  low: close - 1,
  close,
  volume: 100,
  vwap: close,
  trades: 1,
  revision,
});
const column = (name: (typeof FEATURE_COLUMNS)[number]) => FEATURE_COLUMNS.indexOf(name);

describe('computeFeatures', () => {
  it('emits one vector per bar, in order, and tears down its subscription', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(
      ({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-b-c-|', { a: bar('A', 0, 10), b: bar('B', 0, 50), c: bar('A', 1, 11) });
        const mapped = source.pipe(
          computeFeatures(),
          map((v: FeatureVector) => `${v.symbol}:${v.values[column('returns')]}`),
        );
        expectObservable(mapped).toBe('-a-b-c-|', { a: 'A:NaN', b: 'B:NaN', c: `A:${11 / 10 - 1}` });
        expectSubscriptions(source.subscriptions).toBe('^------!');
      },
    );
  });

  it('a revision of the latest bar replaces its contribution instead of adding a bar', () => {
    const engine = new FeatureEngine();
    const reference = new FeatureSet({ periodsPerYear: 252 });
    const expected = new Float64Array(FEATURE_COUNT);
    let last: FeatureVector | undefined;
    for (let day = 0; day < 30; day++) last = engine.apply(bar('A', day, 100 + day));
    const revised = engine.apply(bar('A', 29, 90, 1)) as FeatureVector;
    for (let day = 0; day < 29; day++)
      reference.update(100 + day, 101 + day, 99 + day, 100 + day, 100, expected);
    reference.update(90, 91, 89, 90, 100, expected);
    expect(last?.values[column('sma_20')]).not.toBe(revised.values[column('sma_20')]);
    expect(Array.from(revised.values)).toEqual(Array.from(expected));
    expect(revised.revision).toBe(1);
    // the next bar continues from the revised state
    const next = engine.apply(bar('A', 30, 95)) as FeatureVector;
    reference.update(95, 96, 94, 95, 100, expected);
    expect(Array.from(next.values)).toEqual(Array.from(expected));
  });

  it('dead-letters a bar older than the latest of its symbol and timeframe', () => {
    const letters: DeadLetter[] = [];
    const out: FeatureVector[] = [];
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, flush }) => {
      cold('abc|', { a: bar('A', 5, 10), b: bar('A', 4, 10), c: bar('A', 6, 10) })
        .pipe(computeFeatures({}, { deadLetter: (l) => letters.push(l) }))
        .subscribe((v) => out.push(v));
      flush();
    });
    expect(out.map((v) => v.ts / DAY)).toEqual([5, 6]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'late', field: 'ts' });
  });

  it('errors the stream and unsubscribes when the feature engine throws (a bug), reporting nothing unhandled', () => {
    const engine = new FeatureEngine();
    const bug = new Error('feature bug');
    vi.spyOn(engine, 'apply').mockImplementationOnce(() => {
      throw bug;
    });
    const unhandled = unhandledErrorsOf(() =>
      new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(
        ({ hot, expectObservable, expectSubscriptions }) => {
          const source = hot('-a-b-|', { a: bar('A', 0, 10), b: bar('A', 1, 11) });
          expectObservable(source.pipe(computeFeatures({}, undefined, engine))).toBe('-#', undefined, bug);
          expectSubscriptions(source.subscriptions).toBe('^!');
        },
      ),
    );
    expect(unhandled).toStrictEqual([]);
  });

  it('errors the stream when the dead-letter sink throws (it broke its no-throw contract)', () => {
    const broken = new Error('sink broke its contract');
    const sink = {
      deadLetter: () => {
        throw broken;
      },
    };
    const unhandled = unhandledErrorsOf(() =>
      new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(
        ({ hot, expectObservable, expectSubscriptions }) => {
          const source = hot('-a-b-c-|', { a: bar('A', 5, 10), b: bar('A', 4, 10), c: bar('A', 6, 10) });
          const out = source.pipe(
            computeFeatures({}, sink),
            map((v: FeatureVector) => v.ts / DAY),
          );
          expectObservable(out).toBe('-a-#', { a: 5 }, broken);
          expectSubscriptions(source.subscriptions).toBe('^--!');
        },
      ),
    );
    expect(unhandled).toStrictEqual([]);
  });

  it('rejects a non-positive periodsPerYear with MlfpError config_invalid naming the field', () => {
    let error: unknown;
    try {
      new FeatureEngine({ periodsPerYear: { '1h': 0 } });
    } catch (caught) {
      error = caught;
    }
    expect(isMlfpError(error) && error.code === 'config_invalid' && error.field).toBe('periodsPerYear.1h');
  });

  it('annualises historical volatility with the timeframe’s periods per year', () => {
    const daily = new FeatureEngine();
    const custom = new FeatureEngine({ periodsPerYear: { '1d': 365 } });
    let a: FeatureVector | undefined;
    let b: FeatureVector | undefined;
    for (let day = 0; day < 25; day++) {
      const close = 100 * Math.exp(0.01 * Math.sin(day));
      a = daily.apply(bar('A', day, close));
      b = custom.apply(bar('A', day, close));
    }
    const hv = column('historical_vol_21');
    expect((b as FeatureVector).values[hv]! / (a as FeatureVector).values[hv]!).toBeCloseTo(
      Math.sqrt(365 / 252),
      12,
    );
  });
});

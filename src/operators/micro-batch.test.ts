import { map, Subject, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../errors.js';
import { unhandledErrorsOf } from '../../test/support/unhandled-errors.js';
import { microBatch } from './micro-batch.js';

const scheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('microBatch', () => {
  it('flushes at maxBatchSize, or maxWaitMs after the first item of a batch', () => {
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('a-b-c-d------e-|');
      const subs = '^--------------!';
      const out = source.pipe(
        microBatch({ maxBatchSize: 3, maxWaitMs: 5 }),
        map((b) => b.items.join('')),
      );
      // abc fills the batch at 4 (before a's timer at 5); d waits 5 (to 11); completion flushes e
      expectObservable(out).toBe('----x------y---(z|)', { x: 'abc', y: 'd', z: 'e' });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('records when each item arrived', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const source = hot('a-b--|');
      const out = source.pipe(
        microBatch({ maxBatchSize: 10, maxWaitMs: 4 }),
        map((b) => [...b.arrivedAt]),
      );
      expectObservable(out).toBe('----x|', { x: [0, 2] });
    });
  });

  it('passes errors through and frees its timer on unsubscribe', () => {
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('a--#');
      expectObservable(source.pipe(microBatch({ maxBatchSize: 5, maxWaitMs: 10 }))).toBe('---#');
      const other = hot('a---------');
      expectObservable(other.pipe(microBatch({ maxBatchSize: 5, maxWaitMs: 3 })), '^-!').toBe('---');
      expectSubscriptions(other.subscriptions).toBe('^-!');
    });
  });

  it('errors the stream and unsubscribes when its scheduler throws, reporting nothing unhandled', () => {
    const bug = new Error('clock broke');
    const virtual = scheduler();
    let reads = 0;
    const failing = {
      now: () => {
        if (++reads === 2) throw bug;
        return virtual.now();
      },
      schedule: (...args: Parameters<SchedulerLike['schedule']>) => virtual.schedule(...args),
    } as SchedulerLike;
    const unhandled = unhandledErrorsOf(() =>
      virtual.run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-b-c-|');
        expectObservable(source.pipe(microBatch({ maxBatchSize: 5, maxWaitMs: 10 }, failing))).toBe(
          '---#',
          undefined,
          bug,
        );
        expectSubscriptions(source.subscriptions).toBe('^--!');
      }),
    );
    expect(unhandled).toStrictEqual([]);
  });

  it('refuses bad options, naming the key', () => {
    for (const [options, field] of [
      [{ maxBatchSize: 0, maxWaitMs: 1 }, 'maxBatchSize'],
      [{ maxBatchSize: 1.5, maxWaitMs: 1 }, 'maxBatchSize'],
      [{ maxBatchSize: 4, maxWaitMs: -1 }, 'maxWaitMs'],
      [{ maxBatchSize: 4, maxWaitMs: Number.NaN }, 'maxWaitMs'],
    ] as const) {
      let error: unknown;
      try {
        microBatch(options);
      } catch (e) {
        error = e;
      }
      expect(isMlfpError(error) && error.code === 'config_invalid' && error.field === field).toBe(true);
    }
  });

  it('with maxWaitMs > 0, a burst that filled a batch flushes its remainder at its end; a small one waits', async () => {
    const source = new Subject<number>();
    const batches: number[][] = [];
    const subscription = source
      .pipe(microBatch({ maxBatchSize: 3, maxWaitMs: 50 }))
      .subscribe((b) => batches.push(b.items));
    for (const x of [1, 2, 3, 4, 5, 6, 7]) source.next(x); // 1,000 bars closing together, in small
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    await Promise.resolve();
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6], [7]]); // no 50 ms wait for the last one
    source.next(8); // a lone vector: the wait budget gathers what follows
    await Promise.resolve();
    expect(batches).toHaveLength(3);
    source.next(9);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6], [7], [8, 9]]);
    subscription.unsubscribe();
  });

  it('with maxWaitMs 0 flushes each synchronous burst at its end, without a timer', async () => {
    const source = new Subject<number>();
    const batches: number[][] = [];
    const subscription = source
      .pipe(microBatch({ maxBatchSize: 3, maxWaitMs: 0 }))
      .subscribe((b) => batches.push(b.items));
    for (const x of [1, 2, 3, 4, 5]) source.next(x); // one burst: a full batch, then the rest at its end
    expect(batches).toEqual([[1, 2, 3]]);
    await Promise.resolve();
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    source.next(6);
    await Promise.resolve();
    expect(batches).toEqual([[1, 2, 3], [4, 5], [6]]);
    subscription.unsubscribe();
    source.next(7); // nothing after teardown
    await Promise.resolve();
    expect(batches).toHaveLength(3);
  });
});

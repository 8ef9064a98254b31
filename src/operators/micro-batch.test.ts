import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../errors.js';
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
});

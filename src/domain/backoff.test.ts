import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../errors.js';
import { exponentialBackoffMs, retry, type RetryAttempt, type RetryPolicy } from './backoff.js';

const SCHEDULE = { initialDelayMs: 100, maxDelayMs: 1_000 };

/** A virtual clock: sleep records the delay and moves now() on at once. */
function virtualTime() {
  let clockMs = 5_000;
  const delays: number[] = [];
  return {
    delays,
    now: () => clockMs,
    sleep: (ms: number) => {
      delays.push(ms);
      clockMs += ms;
      return Promise.resolve();
    },
  };
}

/** Work that fails with failures[i] on attempt i + 1, then resolves 'done'. */
function failing(...failures: unknown[]) {
  const calls: number[] = [];
  const work = (attempt: number): Promise<string> => {
    calls.push(attempt);
    return attempt <= failures.length ? Promise.reject(failures[attempt - 1]) : Promise.resolve('done');
  };
  return { work, calls };
}

const retriable = (message: string) => Object.assign(new Error(message), { retriable: true });
const final = (message: string) => Object.assign(new Error(message), { retriable: false });

function policy(
  time: ReturnType<typeof virtualTime>,
  rest: Partial<RetryPolicy<Error & { retriable: boolean }>> = {},
): RetryPolicy<Error & { retriable: boolean }> {
  return {
    schedule: SCHEDULE,
    isRetriable: (error) => error.retriable,
    sleep: time.sleep,
    now: time.now,
    ...rest,
  };
}

describe('exponentialBackoffMs', () => {
  it('doubles from the initial delay up to the cap, exactly, without jitter', () => {
    expect([1, 2, 3, 4, 5, 40, 5_000].map((attempt) => exponentialBackoffMs(attempt, SCHEDULE))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('with a jitter sample, lies between half and all of each step', () => {
    expect([1, 2, 3, 4, 5, 40].map((attempt) => exponentialBackoffMs(attempt, SCHEDULE, 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([1, 2, 3, 4, 5, 40].map((attempt) => exponentialBackoffMs(attempt, SCHEDULE, 0.999999))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
});

describe('retry', () => {
  it('retries retriable failures after the schedule’s delays, telling onRetry each, and returns the result', async () => {
    const time = virtualTime();
    const { work, calls } = failing(retriable('a'), retriable('b'), retriable('c'));
    const retries: Array<RetryAttempt & { message: string }> = [];
    const result = await retry(
      work,
      policy(time, { onRetry: (error, info) => retries.push({ ...info, message: error.message }) }),
    );
    expect(result).toBe('done');
    expect(calls).toEqual([1, 2, 3, 4]);
    expect(time.delays).toEqual([100, 200, 400]);
    expect(retries).toEqual([
      { attempt: 1, delayMs: 100, elapsedMs: 0, message: 'a' },
      { attempt: 2, delayMs: 200, elapsedMs: 100, message: 'b' },
      { attempt: 3, delayMs: 400, elapsedMs: 300, message: 'c' },
    ]);
  });

  it('throws a non-retriable failure at once: one attempt, no wait, no onRetry', async () => {
    const time = virtualTime();
    const refusal = final('refused');
    const { work, calls } = failing(retriable('down'), refusal);
    let retries = 0;
    await expect(retry(work, policy(time, { onRetry: () => retries++ }))).rejects.toBe(refusal);
    expect(calls).toEqual([1, 2]);
    expect(time.delays).toEqual([100]);
    expect(retries).toBe(1);
  });

  it('bounds the attempts: maxAttempts calls in all, then the last failure is thrown', async () => {
    const time = virtualTime();
    const failures = [1, 2, 3, 4, 5].map((n) => retriable(`down ${n}`));
    const { work, calls } = failing(...failures);
    await expect(retry(work, policy(time, { maxAttempts: 3 }))).rejects.toBe(failures[2]);
    expect(calls).toEqual([1, 2, 3]);
    expect(time.delays).toEqual([100, 200]);
  });

  it('stops when shouldStop says so, before waiting, throwing that failure', async () => {
    const time = virtualTime();
    const failures = [1, 2, 3, 4].map((n) => retriable(`down ${n}`));
    const { work, calls } = failing(...failures);
    const asked: number[] = [];
    const stop = retry(
      work,
      policy(time, {
        shouldStop: (_error, attempt) => {
          asked.push(attempt);
          return attempt === 2;
        },
      }),
    );
    await expect(stop).rejects.toBe(failures[1]);
    expect(calls).toEqual([1, 2]);
    expect(asked).toEqual([1, 2]);
    expect(time.delays).toEqual([100]);
  });

  it('judges, reports and throws what mapError makes of a failure', async () => {
    const time = virtualTime();
    const { work } = failing('socket hang up', 'bad request');
    const seen: string[] = [];
    const failure = retry<string, Error & { retriable: boolean }>(
      work,
      policy(time, {
        mapError: (thrown) =>
          thrown === 'socket hang up' ? retriable(String(thrown)) : final(`final: ${String(thrown)}`),
        onRetry: (error) => seen.push(error.message),
      }),
    );
    await expect(failure).rejects.toMatchObject({ message: 'final: bad request', retriable: false });
    expect(seen).toEqual(['socket hang up']);
  });

  it('jitters only when given a source of samples', async () => {
    const time = virtualTime();
    const { work } = failing(retriable('a'), retriable('b'), retriable('c'));
    await retry(work, policy(time, { jitter: () => 0 }));
    expect(time.delays).toEqual([50, 100, 200]);
  });

  it('measures elapsed time on the injected clock', async () => {
    const time = virtualTime();
    const { work } = failing(retriable('a'), retriable('b'));
    const elapsed: number[] = [];
    await retry(work, policy(time, { onRetry: (_error, info) => elapsed.push(info.elapsedMs) }));
    expect(elapsed).toEqual([0, 100]);
    expect(time.now()).toBe(5_300);
  });

  it('refuses a maxAttempts that is not an integer >= 1', async () => {
    const time = virtualTime();
    for (const maxAttempts of [0, 1.5, Number.NaN]) {
      const error: unknown = await retry(async () => 1, policy(time, { maxAttempts })).catch(
        (caught: unknown) => caught,
      );
      expect(isMlfpError(error) && error.field).toBe('maxAttempts');
    }
  });
});

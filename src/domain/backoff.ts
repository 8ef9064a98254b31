// The one retry loop of the project: a capped exponential backoff schedule (jitter optional, off by default
// so delays are deterministic) and `retry()`, which runs async work until it succeeds, a failure is final,
// the attempts run out or the caller says stop. Clock and sleep are injected: tests run it in virtual time.

import { MlfpError } from '../errors.js';

export interface BackoffSchedule {
  /** the wait after the first failure */
  initialDelayMs: number;
  /** the wait doubles per consecutive failure up to this */
  maxDelayMs: number;
}

/**
 * The wait before retry number `attempt` (1-based): min(maxDelayMs, initialDelayMs · 2^(attempt−1)). With a
 * `jitter` sample in [0, 1), "equal jitter": between half and all of that step, rounded to whole ms, so
 * instances that lost a service together do not come back in lock-step.
 */
export function exponentialBackoffMs(attempt: number, schedule: BackoffSchedule, jitter?: number): number {
  const step = Math.min(schedule.maxDelayMs, schedule.initialDelayMs * 2 ** Math.min(attempt - 1, 30));
  if (jitter === undefined) return step;
  return Math.round(step / 2 + (step / 2) * jitter);
}

/** What `onRetry` is told before each wait. */
export interface RetryAttempt {
  /** the attempt that just failed (1-based) */
  attempt: number;
  /** the wait before the next attempt */
  delayMs: number;
  /** now() − the start of the first attempt */
  elapsedMs: number;
}

export interface RetryPolicy<E> {
  schedule: BackoffSchedule;
  /** uniform samples in [0, 1) for equal jitter; absent = no jitter */
  jitter?: () => number;
  /** attempts in all, the first included; absent = until success, a final failure or shouldStop */
  maxAttempts?: number;
  /** turns what the work threw into the error judged, reported and thrown (default: as thrown) */
  mapError?: (error: unknown) => E;
  /** false: thrown at once, never retried */
  isRetriable(error: E): boolean;
  /** asked after each retriable failure, before waiting: true throws that failure */
  shouldStop?(error: E, attempt: number): boolean;
  /** told of each retry before its wait (log it, mark health) */
  onRetry?(error: E, retry: RetryAttempt): void;
  sleep(ms: number): Promise<void>;
  now(): number;
}

/**
 * Runs `work(attempt)` until it resolves. A failure (after mapError) is thrown as it is when it is not
 * retriable, when it was attempt maxAttempts, or when shouldStop says so; otherwise onRetry hears of it and
 * the next attempt starts after exponentialBackoffMs(attempt).
 */
export async function retry<T, E = unknown>(
  work: (attempt: number) => Promise<T>,
  policy: RetryPolicy<E>,
): Promise<T> {
  const maxAttempts = policy.maxAttempts ?? Number.POSITIVE_INFINITY;
  if (!(maxAttempts >= 1 && (Number.isInteger(maxAttempts) || maxAttempts === Number.POSITIVE_INFINITY)))
    throw new MlfpError('internal', 'retry: maxAttempts must be an integer >= 1', {
      field: 'maxAttempts',
      value: policy.maxAttempts,
    });
  const startedAtMs = policy.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (thrown) {
      const error = policy.mapError === undefined ? (thrown as E) : policy.mapError(thrown);
      if (!policy.isRetriable(error) || attempt >= maxAttempts) throw error;
      if (policy.shouldStop?.(error, attempt) === true) throw error;
      const delayMs = exponentialBackoffMs(attempt, policy.schedule, policy.jitter?.());
      policy.onRetry?.(error, { attempt, delayMs, elapsedMs: policy.now() - startedAtMs });
      await policy.sleep(delayMs);
    }
  }
}

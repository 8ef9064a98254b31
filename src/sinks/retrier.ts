// Runs a sink's idempotent operations until they succeed: retriable failures (service down, timeouts) wait a
// capped, jittered exponential backoff (the project's retry loop, src/domain/backoff.ts) while health says
// 'retrying'; final failures reject at once. Keeps the sink's health record (state, last error, pending
// records, retries) for readiness and metrics.

import { setTimeout as delay } from 'node:timers/promises';
import { exponentialBackoffMs, retry } from '../domain/backoff.js';
import { MlfpError } from '../errors.js';
import type { SinkHealth, SinkState } from './sink.js';

export interface RetryOptions {
  /** first wait after a failure */
  initialDelayMs: number;
  /** the wait doubles per consecutive failure up to this */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = { initialDelayMs: 200, maxDelayMs: 10_000 };

/** Node.js socket error codes that mean "the service cannot be reached right now" (retriable for any sink). */
export const UNREACHABLE_SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** Waits `ms`; resolves early when `signal` aborts (never rejects). */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface RetrierDependencies {
  now?: () => number;
  sleep?: Sleep;
  /** uniform in [0, 1), for jitter */
  random?: () => number;
}

const abortableSleep: Sleep = (ms, signal) =>
  delay(ms, undefined, { signal }).then(
    () => undefined,
    () => undefined,
  );

/**
 * The sinks' wait before retry number `attempt` (1-based): always jittered (`random` in [0, 1)), between half
 * and all of the capped exponential step, so instances that lost a service together do not come back in
 * lock-step and a flapping service is never hammered faster than half the step.
 */
export function backoffDelayMs(attempt: number, options: RetryOptions, random: number): number {
  return exponentialBackoffMs(attempt, options, random);
}

export class Retrier {
  private state: SinkState = 'starting';
  private sinceMs: number;
  private lastError: string | undefined;
  private retries = 0;
  private pendingRecords = 0;
  /** operations currently between a retriable failure and their next success */
  private failingOperations = 0;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly sleep: Sleep;
  private readonly random: () => number;

  constructor(
    readonly name: string,
    private readonly options: RetryOptions,
    /** turns anything thrown by an operation into an MlfpError whose `retriable` decides */
    private readonly classify: (error: unknown) => MlfpError,
    dependencies: RetrierDependencies = {},
  ) {
    this.now = dependencies.now ?? Date.now;
    this.sleep = dependencies.sleep ?? abortableSleep;
    this.random = dependencies.random ?? Math.random;
    this.sinceMs = this.now();
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  health(): SinkHealth {
    const health: SinkHealth = {
      state: this.state,
      sinceMs: this.sinceMs,
      pendingRecords: this.pendingRecords,
      retries: this.retries,
    };
    if (this.lastError !== undefined) health.lastError = this.lastError;
    return health;
  }

  /** the sink finished starting */
  markUp(): void {
    if (this.state === 'starting' || (this.state === 'retrying' && this.failingOperations === 0))
      this.setState('up');
  }

  /** Records a failure seen outside an operation (e.g. an idle connection dropped) for health(). */
  note(message: string): void {
    this.lastError = message;
  }

  /** records accepted by write() and not yet durable (negative to release) */
  addPending(records: number): void {
    this.pendingRecords += records;
  }

  /** Runs `attempt` until it succeeds; rejects with the final MlfpError, or with sink_unavailable on close. */
  async run<T>(operation: string, attempt: () => Promise<T>): Promise<T> {
    let failures = 0;
    /** the error of an attempt refused because the retrier is closed: final as it is */
    let refused: MlfpError | undefined;
    try {
      return await retry<T, MlfpError>(
        () => {
          if (!this.closed) return attempt();
          refused = this.closedError(operation);
          return Promise.reject(refused);
        },
        {
          schedule: this.options,
          jitter: this.random,
          mapError: (error) => {
            if (refused !== undefined && error === refused) return refused;
            const failure = this.classify(error);
            return this.closed ? this.closedError(operation, failure) : failure;
          },
          isRetriable: (failure) => failure.retriable,
          onRetry: (failure, { attempt: failed }) => {
            failures = failed;
            if (failures === 1) this.failingOperations++;
            this.retries++;
            this.lastError = `${operation}: ${failure.message}`;
            if (this.state !== 'retrying') this.setState('retrying');
          },
          sleep: (ms) => this.sleep(ms, this.abort.signal),
          now: this.now,
        },
      );
    } finally {
      if (failures > 0) {
        this.failingOperations--;
        // the service answered (success or a final refusal): it is back unless another operation still fails
        if (this.failingOperations === 0 && this.state === 'retrying') this.setState('up');
      }
    }
  }

  /** Stops retrying: operations waiting for their next attempt reject with sink_unavailable. */
  close(): void {
    if (this.closed) return;
    this.setState('closed');
    this.abort.abort();
  }

  private setState(state: SinkState): void {
    this.state = state;
    this.sinceMs = this.now();
  }

  private closedError(operation: string, cause?: MlfpError): MlfpError {
    const last = cause?.message ?? this.lastError;
    return new MlfpError(
      'sink_unavailable',
      `${this.name}: closed before ${operation} succeeded${last === undefined ? '' : ` (last error: ${last})`}`,
      { cause, retriable: false },
    );
  }
}

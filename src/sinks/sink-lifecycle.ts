// The lifecycle every sink and snapshot store shares: start once (retried while the service is away), writes
// one at a time behind start in call order with their records counted as pending, refusals before start and
// after close, and a close that stops retrying and waits (bounded) for the write in progress.

import { MlfpError } from '../errors.js';
import type { Retrier } from './retrier.js';
import { SerialQueue } from './serial-queue.js';

export class SinkLifecycle {
  private readonly queue = new SerialQueue();
  private started: Promise<void> | undefined;

  constructor(
    private readonly name: string,
    private readonly retrier: Retrier,
  ) {}

  /** Runs `connect` (retried) the first time; later calls return the same promise. */
  start(connect: () => Promise<void>): Promise<void> {
    this.started ??= this.retrier.run('start', connect).then(() => this.retrier.markUp());
    return this.started;
  }

  /** Resolves once started; rejects when start() was never called or failed. */
  async ready(): Promise<void> {
    if (this.started === undefined) throw new MlfpError('internal', `${this.name}: used before start()`);
    await this.started;
  }

  /**
   * Queues `task` behind start() and earlier writes. `records` count as pending until it settles; the task may
   * report part of them durable earlier through `acknowledge(n)`.
   */
  write(records: number, task: (acknowledge: (records: number) => void) => Promise<void>): Promise<void> {
    if (records === 0) return Promise.resolve();
    if (this.started === undefined)
      return Promise.reject(new MlfpError('internal', `${this.name}: write() before start()`));
    if (this.retrier.closed)
      return Promise.reject(
        new MlfpError('sink_unavailable', `${this.name}: write() after close()`, { retriable: false }),
      );
    this.retrier.addPending(records);
    let pending = records;
    const acknowledge = (durable: number): void => {
      this.retrier.addPending(-durable);
      pending -= durable;
    };
    const started = this.started;
    return this.queue
      .run(async () => {
        await started;
        await task(acknowledge);
      })
      .finally(() => this.retrier.addPending(-pending));
  }

  /** Stops retrying and waits up to `timeoutMs` for queued writes; false when already closed. */
  async close(timeoutMs: number): Promise<boolean> {
    if (this.retrier.closed) return false;
    this.retrier.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.queue.idle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return true;
  }
}

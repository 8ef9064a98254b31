// The embedded engine: one input stream (the synthetic market) through the same PartitionWorker and
// DeliveryCoordinator as a Kafka partition, into sinks (the in-memory store). There is no offset to commit and
// nothing restores a snapshot in an embedded run, so no snapshot store: each flush is written to every sink
// (timed as in Kafka mode) and that is all. Predictions and alerts are counted by the worker, as in Kafka mode.
// No backpressure: an Observable input cannot be paused, so delivery.maxPendingRecords is not enforced here; fine
// for the in-memory store (durable at once), not for a slow sink.

import type { Observable, Subscription } from 'rxjs';
import type { DeliveryConfig } from '../config/schema.js';
import { toMlfpError } from '../errors.js';
import type { EngineStats } from '../monitoring/stats.js';
import type { Sink } from '../sinks/sink.js';
import { DeliveryCoordinator } from './delivery.js';
import type { EngineEventListener } from './engine-events.js';
import {
  PartitionWorker,
  type AsyncStage,
  type MonitorHooks,
  type PartitionWorkerOptions,
} from './partition-worker.js';

export interface LocalEngineOptions {
  /** raw tick records, shaped like a decoded `market.ticks` message value */
  input: Observable<unknown>;
  sinks: readonly Sink[];
  stats: EngineStats;
  delivery: Pick<
    DeliveryConfig,
    'flushIntervalMs' | 'maxBatchRecords' | 'maxPendingRecords' | 'maxFlushesInFlight'
  >;
  bars?: PartitionWorkerOptions['bars'];
  /** the worker's other options, as the Kafka engine gives them (validator, data quality, …) */
  worker?: Pick<PartitionWorkerOptions, 'validator' | 'features' | 'dataQuality' | 'onDataQualityAlert'>;
  /** the async stage after the features (model scoring) */
  createStage?: () => AsyncStage;
  /** the model monitor (labels, drift, performance, alerts) */
  monitor?: MonitorHooks;
  onEvent?: EngineEventListener;
  /** the stream's name: the topic in dead letters' source */
  name?: string;
}

/** How a run ended: its input completed, or stop() was called. */
export type LocalRunEnd = 'complete' | 'stopped';

export class LocalEngine {
  readonly delivery: DeliveryCoordinator;
  private readonly worker: PartitionWorker;
  private subscription: Subscription | undefined;
  private settle: ((end: LocalRunEnd) => void) | undefined;
  private failWith: ((error: unknown) => void) | undefined;

  constructor(private readonly options: LocalEngineOptions) {
    this.worker = new PartitionWorker({
      ...options.worker,
      topic: options.name ?? 'synthetic',
      partition: 0,
      bars: options.bars,
      stats: options.stats,
      createStage: options.createStage,
      observe: options.monitor?.observe,
      createLabels: options.monitor?.createLabels,
    });
    this.delivery = new DeliveryCoordinator(
      { group: 'embedded', ...pickDelivery(options.delivery) },
      {
        sinks: options.sinks,
        store: undefined,
        commit: () => Promise.resolve(),
        now: Date.now,
        onEvent: options.onEvent,
        onFatal: (error) => this.failWith?.(error),
        onSinkWrite: (sink, seconds) => options.stats.sinkWrite(sink, seconds),
        onSinkError: (sink) => options.stats.sinkError(sink),
      },
    );
    this.delivery.register(this.worker);
    if (options.monitor !== undefined) this.delivery.register(options.monitor.outbox);
  }

  /**
   * Starts the sinks and feeds the input until it completes or stop() is called, then waits until every
   * output is durable in every sink. Rejects with the first failure (a sink's final error, a graph bug).
   */
  /** The stream's data quality (reject shares per window): /readyz reports it. */
  get quality(): PartitionWorker['quality'] {
    return this.worker.quality;
  }

  async run(): Promise<LocalRunEnd> {
    const { sinks, input } = this.options;
    for (const sink of sinks) await sink.start();
    this.delivery.start();
    const worker = this.worker;
    const delivery = this.delivery;
    const maxBatchRecords = this.options.delivery.maxBatchRecords;
    try {
      const end = await new Promise<LocalRunEnd>((resolve, reject) => {
        let offset = 0;
        let failed = false;
        this.settle = resolve;
        this.failWith = (error) => {
          if (failed) return;
          failed = true;
          this.subscription?.unsubscribe();
          reject(toMlfpError(error));
        };
        this.subscription = input.subscribe({
          next: (value) => {
            if (failed) return;
            try {
              worker.feed(offset, undefined, value, undefined); // no offset text: it would cost a string per tick
            } catch (error) {
              this.failWith?.(error);
              return;
            }
            offset++;
            if (worker.pendingRecords >= maxBatchRecords) delivery.cut();
          },
          error: (error: unknown) => this.failWith?.(error),
          complete: () => resolve('complete'),
        });
      });
      if (end === 'complete') worker.end();
      await worker.drain();
      await delivery.settle();
      return end;
    } catch (error) {
      delivery.halt(toMlfpError(error));
      throw error;
    } finally {
      this.settle = undefined;
      this.failWith = undefined;
      delivery.close();
      worker.close();
      for (const sink of sinks) await sink.close();
    }
  }

  /** Stops reading the input; run() then resolves 'stopped' once what was read is durable. */
  stop(): void {
    this.subscription?.unsubscribe();
    this.settle?.('stopped');
  }
}

function pickDelivery(delivery: LocalEngineOptions['delivery']): LocalEngineOptions['delivery'] {
  const { flushIntervalMs, maxBatchRecords, maxPendingRecords, maxFlushesInFlight } = delivery;
  return { flushIntervalMs, maxBatchRecords, maxPendingRecords, maxFlushesInFlight };
}

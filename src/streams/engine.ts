// The Kafka stream processor: a kafkajs consumer group on the ticks topic (eachBatch, no auto-commit), one
// PartitionWorker per assigned partition (restored from its snapshot, or warmed up from stored bars), the
// delivery coordinator between workers and sinks, and the corporate-actions reader. This file wires the parts
// in ./kafka/ (consumer, partition slots, decoding, warm-up, checkpoints, backpressure) and owns the lifecycle.
// See docs/adr/0002-delivery.md for the delivery and snapshot algorithm and what it guarantees.

import type { Kafka } from 'kafkajs';
import { relaxedRules } from '../config/relaxations.js';
import type { EngineConfig } from '../config/schema.js';
import { isMlfpError, MlfpError, toMlfpError } from '../errors.js';
import { EngineStats } from '../monitoring/stats.js';
import { MemorySnapshotStore } from '../sinks/memory/memory-snapshot-store.js';
import type { BarHistory, Sink, SnapshotStore } from '../sinks/sink.js';
import { CorporateActionReader } from './corporate-actions-reader.js';
import { CorporateActionBook } from './corporate-actions.js';
import type { SchemaLookup } from './decode.js';
import { DeliveryCoordinator, type DeliveryPorts } from './delivery.js';
import { ENGINE_EVENTS, type EngineEvent, type EngineEventListener } from './engine-events.js';
import { createKafkaClient } from './kafka-client.js';
import { FlowControl } from './kafka/backpressure.js';
import { Checkpoints } from './kafka/checkpoints.js';
import type { EngineContext, EngineState } from './kafka/engine-context.js';
import { engineHealth, progressLine, type EngineHealth, type EngineView } from './kafka/health.js';
import { PartitionSlots } from './kafka/partition-slots.js';
import { TickConsumer } from './kafka/tick-consumer.js';
import { avroSchemaLookup, TickDecoding } from './kafka/tick-decoding.js';
import { BarWarmUp } from './kafka/warm-up.js';
import type { AsyncStage, MonitorHooks } from './partition-worker.js';

export type { EngineState } from './kafka/engine-context.js';
export type { EngineHealth, PartitionStatus } from './kafka/health.js';

export interface KafkaEngineDependencies {
  /** where outputs go; the engine starts them, writes every flush to all of them, and closes them */
  sinks: readonly Sink[];
  /** required for snapshots.store 'redis' | 'postgres'; 'memory' builds a MemorySnapshotStore when absent */
  snapshotStore?: SnapshotStore;
  /** recent bars to warm features up for symbols a partition has no state for */
  barHistory?: BarHistory;
  /** Avro writer schemas; default: a SchemaRegistry on kafka.registry */
  schemaLookup?: SchemaLookup;
  /** a prebuilt kafkajs client; default: built from the kafka config */
  kafka?: Kafka;
  stats?: EngineStats;
  onEvent?: EngineEventListener;
  /** an async stage after the features (model scoring), one per partition */
  createStage?: () => AsyncStage;
  /** the model monitor (labels, drift, performance, alerts) */
  monitor?: MonitorHooks;
  /** flushes durable in every sink, with the partitions' positions at the cut (see DeliveryPorts.onDurable) */
  onDurable?: DeliveryPorts['onDurable'];
}

const STOP_TIMEOUT_MS = 30_000;

export class KafkaEngine {
  readonly stats: EngineStats;
  readonly delivery: DeliveryCoordinator;
  readonly book: CorporateActionBook;
  /** settles when the engine has stopped: resolves after stop(), rejects with the fatal error */
  readonly done: Promise<void>;
  private state: EngineState = 'created';
  private readonly topic: string;
  private readonly groupId: string;
  private readonly store: SnapshotStore | undefined;
  private readonly slots: PartitionSlots;
  private readonly flow: FlowControl;
  private readonly decoding: TickDecoding;
  private readonly checkpoints: Checkpoints;
  private readonly source: TickConsumer;
  private kafka: Kafka | undefined;
  private actions: CorporateActionReader | undefined;
  private failure: MlfpError | undefined;
  private settleDone!: { resolve: () => void; reject: (error: unknown) => void };
  private shutdown: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly config: EngineConfig,
    private readonly deps: KafkaEngineDependencies,
  ) {
    this.stats = deps.stats ?? new EngineStats(Date.now());
    this.topic = config.kafka.topics.ticks;
    this.groupId = config.kafka.groupId;
    if (config.snapshots.store === 'none') this.store = undefined;
    else if (deps.snapshotStore !== undefined) this.store = deps.snapshotStore;
    else if (config.snapshots.store === 'memory') this.store = new MemorySnapshotStore();
    else
      throw new MlfpError(
        'config_invalid',
        `snapshots.store '${config.snapshots.store}' needs a store implementation; none was provided`,
        { field: 'snapshots.store', value: config.snapshots.store },
      );
    this.book = new CorporateActionBook(config.kafka.maxCorporateActions);
    this.done = new Promise<void>((resolve, reject) => {
      this.settleDone = { resolve, reject };
    });
    this.done.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
    this.delivery = new DeliveryCoordinator(
      {
        group: this.groupId,
        flushIntervalMs: config.delivery.flushIntervalMs,
        maxBatchRecords: config.delivery.maxBatchRecords,
        maxPendingRecords: config.delivery.maxPendingRecords,
        maxFlushesInFlight: config.delivery.maxFlushesInFlight,
      },
      {
        sinks: deps.sinks,
        store: this.store,
        commit: (offsets) => this.commit(offsets),
        now: Date.now,
        onEvent: deps.onEvent,
        onFatal: (error) => this.fail(error),
        onDurable: deps.onDurable,
        onSinkWrite: (sink, seconds) => this.stats.sinkWrite(sink, seconds),
        onSinkError: (sink) => this.stats.sinkError(sink),
      },
    );
    const context: EngineContext = {
      config,
      topic: this.topic,
      groupId: this.groupId,
      store: this.store,
      delivery: this.delivery,
      stats: this.stats,
      state: () => this.state,
      isActive: () => this.state === 'running' || this.state === 'starting',
      fail: (error) => this.fail(error),
      emit: (level, type, message, fields) => this.emit(level, type, message, fields),
    };
    this.slots = new PartitionSlots(context, this.book, deps.createStage, deps.monitor);
    if (deps.monitor !== undefined) this.delivery.register(deps.monitor.outbox);
    // mlfp_consumer_lag{partition}, read at scrape time
    this.stats.consumerLag = (report) => {
      for (const slot of this.slots.values()) report(slot.partition, slot.lag);
    };
    this.flow = new FlowControl(context, () => this.source.consumer);
    this.decoding = new TickDecoding(context, this.flow);
    this.checkpoints = new Checkpoints(context, this.slots);
    this.source = new TickConsumer(context, {
      slots: this.slots,
      flow: this.flow,
      decoding: this.decoding,
      warmUp: new BarWarmUp(context, this.flow, deps.barHistory),
      checkpoints: this.checkpoints,
    });
  }

  get engineState(): EngineState {
    return this.state;
  }

  /**
   * Starts sinks and store, reads the corporate actions, joins the group and starts consuming. Rejects
   * with an MlfpError naming the problem (broker unreachable, topic missing, a sink that cannot start).
   */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new MlfpError('internal', `engine already ${this.state}`);
    this.state = 'starting';
    try {
      await Promise.all(this.deps.sinks.map((sink) => sink.start()));
      await this.store?.start();
      this.kafka = this.deps.kafka ?? (await createKafkaClient(this.config.kafka, this.deps.onEvent));
      if (this.config.kafka.format === 'avro')
        this.decoding.useAvro(avroSchemaLookup(this.config, this.deps.schemaLookup));
      await this.source.checkTopic(this.kafka);
      this.actions = new CorporateActionReader(this.kafka, {
        topic: this.config.kafka.topics.corporateActions,
        groupId: this.groupId,
        book: this.book,
        maxMessageBytes: this.config.kafka.maxMessageBytes,
        maxWaitTimeInMs: this.config.kafka.maxWaitTimeInMs,
        onEvent: this.deps.onEvent,
      });
      this.delivery.register(this.actions);
      await this.actions.start();
      await this.source.start(this.kafka, () => {
        this.state = 'running';
        // mlfp_broker_request_seconds: kafkajs times every request to a broker (one event per request)
        const consumer = this.source.consumer;
        consumer?.on(consumer.events.REQUEST, ({ payload }) =>
          this.stats.brokerRequest(payload.apiName, payload.duration / 1000),
        );
      });
    } catch (error) {
      const failure = startError(error);
      this.state = 'failed';
      this.failure = failure;
      await this.closeResources();
      this.settleDone.reject(failure);
      throw failure;
    }
    this.delivery.start();
    this.checkpoints.startTimer();
    this.emit('info', ENGINE_EVENTS.started, `consuming ${this.topic} in group ${this.groupId}`, {
      topic: this.topic,
      group: this.groupId,
      brokers: this.config.kafka.brokers,
      format: this.config.kafka.format,
      store: this.store?.name ?? 'none',
      sinks: this.deps.sinks.map((sink) => sink.name),
    });
    for (const warning of relaxedRules(this.config)) this.emit('warn', ENGINE_EVENTS.warning, warning, {});
  }

  /**
   * Graceful stop: stop fetching, finish the batch in hand, checkpoint every owned partition, wait until
   * all outputs are durable, save the snapshots, commit, leave the group, close sinks and store.
   */
  stop(): Promise<void> {
    if (this.shutdown !== undefined) return this.shutdown;
    this.shutdown = this.gracefulStop();
    return this.shutdown;
  }

  /**
   * Stops at once, as a crash would: no final flush, snapshot or commit (flushes already cut may still
   * land, as they could before a crash). For tests of the recovery path.
   */
  abort(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'failed') return this.shutdown ?? Promise.resolve();
    // also cuts a graceful stop short: whatever it had not committed stays uncommitted
    this.state = 'stopped';
    this.delivery.halt(new MlfpError('internal', 'engine aborted'));
    const closing = this.closeResources().then(() => this.settleDone.resolve());
    this.shutdown = closing;
    return closing;
  }

  health(): EngineHealth {
    return engineHealth(this.view());
  }

  /** The Kafka part of a progress line: lag, pending records, commits, snapshots, outputs not up. */
  progressExtra(): string {
    return progressLine(this.view());
  }

  private view(): EngineView {
    return {
      state: this.state,
      topic: this.topic,
      slots: this.slots,
      delivery: this.delivery,
      paused: this.flow.paused,
      waitingFor: this.flow.waitingFor,
      sourceDown: this.source.sourceDown,
      error: this.failure?.message,
    };
  }

  // ---- stop and failure

  /** The commit port of the delivery coordinator (see TickConsumer.commit). */
  private commit(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
    return this.source.commit(offsets);
  }

  private async gracefulStop(): Promise<void> {
    if (this.state === 'created' || this.state === 'failed' || this.state === 'stopped') {
      this.state = this.state === 'failed' ? 'failed' : 'stopped';
      return;
    }
    this.state = 'stopping';
    this.emit(
      'info',
      ENGINE_EVENTS.stopping,
      'stopping: finishing the batch in hand, then a last checkpoint',
      {},
    );
    this.source.consumer?.pause([{ topic: this.topic }]);
    try {
      await withTimeout(this.checkpoints.finalCheckpoint(), STOP_TIMEOUT_MS, 'final checkpoint');
    } catch (error) {
      this.emit(
        'error',
        ENGINE_EVENTS.warning,
        `stop: ${(error as Error).message}; the last commit stands`,
        {},
      );
    }
    this.state = this.failure === undefined ? 'stopped' : 'failed';
    await this.closeResources();
    this.emit('info', ENGINE_EVENTS.stopped, 'stopped', {
      commits: this.delivery.stats.commits,
      snapshots: this.delivery.stats.snapshotsSaved,
    });
    if (this.failure === undefined) this.settleDone.resolve();
    else this.settleDone.reject(this.failure);
  }

  private fail(error: MlfpError): void {
    if (this.failure !== undefined || this.state === 'stopped') return;
    this.failure = error;
    this.delivery.halt(error);
    this.emit('error', ENGINE_EVENTS.failed, `engine failed: ${error.message}`, { code: error.code });
    if (this.state === 'starting') return; // start() rejects and cleans up
    this.state = 'failed';
    this.shutdown ??= this.closeResources().then(() => this.settleDone.reject(error));
  }

  /** Closes consumer, reader, workers, sinks and store once, however many paths ask for it. */
  private closeResources(): Promise<void> {
    this.closing ??= this.close();
    return this.closing;
  }

  private async close(): Promise<void> {
    this.checkpoints.stopTimer();
    this.delivery.close();
    const consumer = this.source.detach();
    const problems: unknown[] = [];
    const attempt = async (work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        problems.push(error);
      }
    };
    if (consumer !== undefined) await attempt(() => consumer.disconnect());
    if (this.actions !== undefined) await attempt(() => this.actions!.stop());
    this.slots.closeAll();
    await Promise.all(this.deps.sinks.map((sink) => attempt(() => sink.close())));
    if (this.store !== undefined) await attempt(() => this.store!.close());
    for (const problem of problems)
      this.emit(
        'warn',
        ENGINE_EVENTS.warning,
        `while closing: ${(problem as Error)?.message ?? String(problem)}`,
        {},
      );
  }

  private emit(
    level: EngineEvent['level'],
    type: EngineEvent['type'],
    message: string,
    fields: Record<string, unknown>,
  ): void {
    this.deps.onEvent?.({ type, level, message, fields });
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new MlfpError('sink_unavailable', `${what} took more than ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Start failures as MlfpErrors that say what to fix (kafkajs connection errors name the broker). */
function startError(error: unknown): MlfpError {
  if (isMlfpError(error)) return error;
  const name = (error as Error | null)?.name ?? '';
  if (name.startsWith('KafkaJS'))
    return new MlfpError('source_unavailable', `Kafka: ${(error as Error).message}`, {
      cause: error,
      retriable: false,
    });
  return toMlfpError(error);
}

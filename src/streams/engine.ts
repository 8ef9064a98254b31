// The Kafka stream processor: a kafkajs consumer group on the ticks topic (eachBatch, no auto-commit), one
// PartitionWorker per assigned partition (restored from its snapshot, or warmed up from stored bars), the
// delivery coordinator between workers and sinks, and the corporate-actions reader. See
// docs/adr/0002-delivery.md for the delivery and snapshot algorithm and what it guarantees.

import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { SessionCalendar } from '../bars/session-calendar.js';
import { relaxedRules } from '../config/relaxations.js';
import type { EngineConfig } from '../config/schema.js';
import { retry, type BackoffSchedule } from '../domain/backoff.js';
import { parseTime } from '../domain/time.js';
import { TIMEFRAMES, type Bar, type Timeframe } from '../domain/types.js';
import { DEFAULT_SYMBOL_PATTERN, readNumber } from '../domain/validate-tick.js';
import { isMlfpError, MlfpError, toMlfpError } from '../errors.js';
import { EngineStats } from '../monitoring/stats.js';
import type { BarHistory, PartitionSnapshot, Sink, SinkHealth, SnapshotStore } from '../sinks/sink.js';
import { CorporateActionReader } from './corporate-actions-reader.js';
import { CorporateActionBook } from './corporate-actions.js';
import { AvroTickDecoder, isDecodeFailure, JsonTickDecoder, type SchemaLookup } from './decode.js';
import { DeliveryCoordinator, type Checkpoint, type DeliveryPorts } from './delivery.js';
import { ENGINE_EVENTS, type EngineEvent, type EngineEventListener } from './engine-events.js';
import { createKafkaClient } from './kafka-client.js';
import { MemorySnapshotStore } from '../sinks/memory-snapshot-store.js';
import { PartitionWorker, type AsyncStage } from './partition-worker.js';

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
  /** flushes durable in every sink, with the partitions' positions at the cut (see DeliveryPorts.onDurable) */
  onDurable?: DeliveryPorts['onDurable'];
}

export type EngineState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface PartitionStatus {
  partition: number;
  /** next offset to process, once known */
  nextOffset: string | undefined;
  /** high watermark − next offset at the last batch */
  lag: number;
  committed: string | undefined;
  restored: boolean;
}

export interface EngineHealth {
  state: EngineState;
  /** false while paused for backpressure, waiting for a dependency, failing, or not running */
  ready: boolean;
  paused: boolean;
  /** what consumption has been waiting for, for over a second (a snapshot store, the registry, the bar history),
   * or the Kafka brokers while kafkajs restarts a crashed consumer */
  waitingFor?: string;
  pendingRecords: number;
  partitions: PartitionStatus[];
  outputs: Array<{ name: string; kind: 'sink' | 'store' } & SinkHealth>;
  /** partitions whose input is degraded: a reject reason's share of the last window over its bound */
  degraded: Array<{ partition: number; detail: string }>;
  error?: string;
}

/** One assigned partition: its worker (once loaded) and the bookkeeping around it. */
interface PartitionSlot {
  readonly partition: number;
  /** resolves to the worker: restored from the snapshot, or fresh */
  ready: Promise<PartitionWorker | undefined>;
  worker: PartitionWorker | undefined;
  revoked: boolean;
  restored: boolean;
  /** the offset we asked kafkajs to seek to, so a gap in offsets causes one seek, not a loop */
  seekedTo: number | undefined;
  /** held by eachBatch while feeding, and by a timer checkpoint */
  lock: Promise<void> | undefined;
  lastCheckpointOffset: number | undefined;
  nextCheckpointAtMs: number;
  lag: number;
}

/** waits between retries of a store, the registry or the bar history: 200 ms doubling up to 5 s */
const BACKOFF: Readonly<BackoffSchedule> = { initialDelayMs: 200, maxDelayMs: 5_000 };
const HEARTBEAT_EVERY_MS = 1_000;
const CHECK_EVERY_MESSAGES = 64;
const WARM_UP_ATTEMPTS = 3;
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
  private readonly slots = new Map<number, PartitionSlot>();
  private readonly calendar: SessionCalendar;
  private readonly jsonDecoder: JsonTickDecoder;
  private avroDecoder: AvroTickDecoder | undefined;
  private kafka: Kafka | undefined;
  private consumer: Consumer | undefined;
  private actions: CorporateActionReader | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private paused = false;
  /** set by withHeartbeat once a wait has lasted a heartbeat interval: health shows what blocks consumption */
  private waitingFor: string | undefined;
  /**
   * Set while kafkajs restarts the consumer after a crash it retries (the brokers are away), cleared when the
   * consumer rejoins the group: consumption stands still meanwhile, and health() says so (not ready).
   */
  private sourceDown: string | undefined;
  private failure: MlfpError | undefined;
  private settleDone!: { resolve: () => void; reject: (error: unknown) => void };
  private shutdown: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** decoded values of the batch in hand, reused across batches */
  private values: unknown[] = [];

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
    this.calendar = new SessionCalendar(config.bars.session);
    this.jsonDecoder = new JsonTickDecoder(config.kafka.maxMessageBytes, {
      rejectDuplicateMembers: config.validation.rejectDuplicateMembers,
      rejectByteOrderMark: config.validation.rejectByteOrderMark,
    });
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
      },
    );
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
      if (this.config.kafka.format === 'avro') {
        const registry = this.config.kafka.registry;
        const lookup =
          this.deps.schemaLookup ??
          (registry === undefined
            ? undefined
            : new SchemaRegistry({
                host: registry.url,
                auth: registry.auth,
                clientId: this.config.kafka.clientId,
              }));
        if (lookup === undefined)
          throw new MlfpError('config_invalid', "format 'avro' needs kafka.registry.url", {
            field: 'kafka.registry.url',
          });
        this.avroDecoder = new AvroTickDecoder(lookup, this.config.kafka.maxMessageBytes);
      }
      await this.checkTopic(this.kafka);
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
      await this.startConsumer(this.kafka);
    } catch (error) {
      const failure = startError(error);
      this.state = 'failed';
      this.failure = failure;
      await this.closeResources();
      this.settleDone.reject(failure);
      throw failure;
    }
    this.delivery.start();
    this.checkpointTimer = setInterval(() => this.checkpointIdlePartitions(), this.checkpointTickMs());
    this.checkpointTimer.unref();
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
    const partitions: PartitionStatus[] = [];
    for (const slot of this.slots.values()) {
      const next = slot.worker?.nextOffset;
      partitions.push({
        partition: slot.partition,
        nextOffset: next === undefined ? undefined : String(next),
        lag: slot.lag,
        committed: this.delivery.stats.committed.get(`${this.topic}[${slot.partition}]`),
        restored: slot.restored,
      });
    }
    partitions.sort((a, b) => a.partition - b.partition);
    const degraded: EngineHealth['degraded'] = [];
    for (const slot of this.slots.values()) {
      const detail = slot.worker?.quality.describe();
      if (detail !== undefined) degraded.push({ partition: slot.partition, detail });
    }
    degraded.sort((a, b) => a.partition - b.partition);
    const outputs = this.delivery.health();
    return {
      state: this.state,
      ready:
        this.state === 'running' &&
        !this.paused &&
        this.waitingFor === undefined &&
        this.sourceDown === undefined &&
        degraded.length === 0 &&
        outputs.every((output) => output.state === 'up'),
      paused: this.paused,
      waitingFor: this.waitingFor ?? this.sourceDown,
      pendingRecords: this.delivery.pendingRecords,
      partitions,
      outputs,
      degraded,
      error: this.failure?.message,
    };
  }

  /** The Kafka part of a progress line: lag, pending records, commits, snapshots, outputs not up. */
  progressExtra(): string {
    let lag = 0;
    for (const slot of this.slots.values()) lag += slot.lag;
    const stats = this.delivery.stats;
    const degraded: string[] = [];
    for (const slot of this.slots.values()) {
      const detail = slot.worker?.quality.describe();
      if (detail !== undefined) degraded.push(`p${slot.partition} ${detail}`);
    }
    const outputs = this.delivery
      .health()
      .map((output) => `${output.name} ${output.state}`)
      .join(', ');
    return (
      `partitions ${this.slots.size} | lag ${lag} | pending ${this.delivery.pendingRecords}` +
      `${this.paused ? ' (paused)' : ''}${this.waitingFor === undefined ? '' : ` (waiting for ${this.waitingFor})`} | commits ${stats.commits} | snapshots ${stats.snapshotsSaved}` +
      `${outputs === '' ? '' : ` | ${outputs}`}${degraded.length === 0 ? '' : ` | DEGRADED input: ${degraded.join('; ')}`}`
    );
  }

  // ---- start-up

  private async checkTopic(kafka: Kafka): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(this.topic))
        throw new MlfpError('source_unavailable', `ticks topic ${this.topic} does not exist`, {
          field: 'kafka.topics.ticks',
          value: this.topic,
          retriable: false,
        });
    } finally {
      await admin.disconnect();
    }
  }

  private async startConsumer(kafka: Kafka): Promise<void> {
    const kafkaConfig = this.config.kafka;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: kafkaConfig.sessionTimeoutMs,
      heartbeatInterval: kafkaConfig.heartbeatIntervalMs,
      maxWaitTimeInMs: kafkaConfig.maxWaitTimeInMs,
      maxBytes: kafkaConfig.fetchMaxBytes,
      maxBytesPerPartition: kafkaConfig.fetchMaxBytesPerPartition,
      allowAutoTopicCreation: false,
      readUncommitted: false,
      retry: {
        retries: kafkaConfig.connectRetries,
        // a kafkajs crash (broker trouble) restarts the consumer; our own failures do not
        restartOnFailure: async () => this.state === 'running' || this.state === 'starting',
      },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.sourceDown = undefined;
      this.onGroupJoin(event.payload.memberAssignment);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      // a crash kafkajs restarts (broker unreachable, coordinator moving or loading) is an outage, not a
      // failure: say so until the consumer is back in the group; one it does not restart stops the engine
      if (event.payload.restart)
        this.sourceDown = `the Kafka brokers (consumer restarting after: ${event.payload.error.message})`;
      else if (this.state === 'running' || this.state === 'starting')
        this.fail(toMlfpError(event.payload.error, 'source_unavailable'));
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    this.state = 'running';
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  // ---- assignment

  /** Runs synchronously inside kafkajs's join, before the first fetch of the new generation. */
  private onGroupJoin(assignment: Record<string, number[]>): void {
    const assigned = new Set(assignment[this.topic] ?? []);
    for (const slot of this.slots.values()) if (!assigned.has(slot.partition)) this.revoke(slot);
    for (const partition of assigned) {
      const slot = this.slots.get(partition);
      if (slot === undefined) {
        this.slots.set(partition, this.assign(partition));
        continue;
      }
      // kept across the rebalance: kafkajs would restart from the committed offset; continue where we are
      const next = slot.worker?.nextOffset;
      if (next !== undefined && this.consumer !== undefined) {
        slot.seekedTo = next;
        this.consumer.seek({ topic: this.topic, partition, offset: String(next) });
      }
      // and checkpoint it again in this generation: the last commit may never have reached the broker (it
      // failed while the brokers were away, or kafkajs dropped it during a crash), and a partition with no
      // new input would otherwise never commit again (its group would stay behind for good)
      slot.lastCheckpointOffset = undefined;
    }
    this.emit(
      'info',
      ENGINE_EVENTS.assigned,
      `assigned partitions [${[...assigned].sort((a, b) => a - b).join(', ')}]`,
      {
        partitions: [...assigned],
      },
    );
  }

  private assign(partition: number): PartitionSlot {
    const slot: PartitionSlot = {
      partition,
      ready: Promise.resolve(undefined),
      worker: undefined,
      revoked: false,
      restored: false,
      seekedTo: undefined,
      lock: undefined,
      lastCheckpointOffset: undefined,
      nextCheckpointAtMs: Date.now() + this.config.snapshots.intervalMs,
      lag: 0,
    };
    slot.ready = this.prepare(slot);
    slot.ready.catch(() => undefined);
    return slot;
  }

  /** Drops a partition no longer ours, without saving: its last durable snapshot is the hand-over point. */
  private revoke(slot: PartitionSlot): void {
    slot.revoked = true;
    this.slots.delete(slot.partition);
    if (slot.worker !== undefined) {
      this.delivery.unregister(slot.worker);
      slot.worker.close();
    }
    this.emit('info', ENGINE_EVENTS.revoked, `partition ${slot.partition} revoked`, {
      partition: slot.partition,
    });
  }

  /** Loads the partition's snapshot (retrying while the store is down) and builds its worker. */
  private async prepare(slot: PartitionSlot): Promise<PartitionWorker | undefined> {
    let snapshot: PartitionSnapshot | undefined;
    try {
      snapshot =
        this.store === undefined
          ? undefined
          : await this.retry(`load snapshot of partition ${slot.partition}`, slot, () =>
              this.store!.load(this.groupId, this.topic, slot.partition),
            );
    } catch (error) {
      // an unreadable stored snapshot is treated like one that does not fit (below); anything else is fatal
      if (!isMlfpError(error) || error.code !== 'snapshot_invalid') throw error;
      this.emit(
        'error',
        ENGINE_EVENTS.snapshotInvalid,
        `partition ${slot.partition}: ${error.message}; starting without it`,
        {
          partition: slot.partition,
        },
      );
    }
    if (slot.revoked || !this.isActive()) return undefined;
    let worker = this.createWorker(slot.partition);
    if (snapshot !== undefined) {
      try {
        worker.restore(snapshot.state);
        if (String(worker.nextOffset) !== snapshot.offset)
          throw new MlfpError(
            'snapshot_invalid',
            `snapshot offset ${snapshot.offset} differs from its state's ${String(worker.nextOffset)}`,
          );
        slot.restored = true;
        slot.lastCheckpointOffset = worker.nextOffset;
        this.emit(
          'info',
          ENGINE_EVENTS.restored,
          `partition ${slot.partition} restored at offset ${snapshot.offset}`,
          {
            partition: slot.partition,
            offset: snapshot.offset,
            takenAtMs: snapshot.takenAtMs,
          },
        );
      } catch (error) {
        if (!isMlfpError(error) || error.code !== 'snapshot_invalid') throw error;
        // a snapshot from another configuration (lateness, session, periods): start over, loudly
        worker.close();
        worker = this.createWorker(slot.partition);
        this.emit(
          'error',
          ENGINE_EVENTS.snapshotInvalid,
          `partition ${slot.partition}: ${error.message}; starting without it`,
          {
            partition: slot.partition,
            offset: snapshot.offset,
          },
        );
      }
    } else {
      this.emit(
        'info',
        ENGINE_EVENTS.fresh,
        `partition ${slot.partition} has no snapshot; starting from the committed offset`,
        {
          partition: slot.partition,
        },
      );
    }
    slot.worker = worker;
    this.delivery.register(worker);
    return worker;
  }

  private createWorker(partition: number): PartitionWorker {
    return new PartitionWorker({
      topic: this.topic,
      partition,
      bars: {
        allowedLatenessMs: this.config.bars.allowedLatenessMs,
        idleTimeoutMs: this.config.bars.idleTimeoutMs,
        session: this.config.bars.session,
        futureTime: this.config.bars.futureTime,
      },
      validator: {
        maxFutureMs: this.config.bars.maxClockSkewMs,
        numbersAsStrings: this.config.validation.numbersAsStrings,
      },
      dataQuality: this.config.dataQuality,
      onDataQualityAlert: (alert) =>
        this.emit(
          alert.state === 'firing' ? 'warn' : 'info',
          ENGINE_EVENTS.dataQuality,
          alert.message ?? '',
          {
            partition,
            subject: alert.subject,
            state: alert.state,
            share: alert.value,
            bound: alert.threshold,
          },
        ),
      corporateActions: this.book,
      stats: this.stats,
      createStage: this.deps.createStage,
    });
  }

  // ---- consumption

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat } = payload;
    if (this.state !== 'running' || batch.topic !== this.topic) return;
    const slot = this.slots.get(batch.partition);
    if (slot === undefined || slot.revoked) return;
    try {
      const worker = await this.withHeartbeat(slot.ready, heartbeat, 'the snapshot store');
      if (worker === undefined || slot.revoked || this.state !== 'running') return;
      const release = await this.acquire(slot);
      try {
        if (slot.revoked || this.state !== 'running') return;
        await this.processBatch(slot, worker, payload);
      } finally {
        release();
      }
    } catch (error) {
      // kafkajs errors (a rebalance seen by heartbeat()) go back to kafkajs, which rejoins the group
      if ((error as Error | null)?.name?.startsWith('KafkaJS') === true) throw error;
      this.fail(toMlfpError(error));
    }
  }

  private async processBatch(
    slot: PartitionSlot,
    worker: PartitionWorker,
    payload: EachBatchPayload,
  ): Promise<void> {
    const { batch, heartbeat } = payload;
    const messages = batch.messages;
    if (messages.length === 0) return;
    const first = Number(messages[0]!.offset);
    const expected = worker.nextOffset;
    if (expected !== undefined && first > expected && slot.seekedTo !== expected) {
      // the fetch position is past the state (a commit ahead of the snapshot): go back once; if the broker
      // again starts later, the offsets in between do not exist (compaction, transaction markers)
      slot.seekedTo = expected;
      this.consumer?.seek({ topic: this.topic, partition: slot.partition, offset: String(expected) });
      this.emit(
        'info',
        ENGINE_EVENTS.seek,
        `partition ${slot.partition}: seeking back to ${expected} (fetched ${first})`,
        {
          partition: slot.partition,
          offset: expected,
          fetched: first,
        },
      );
      return;
    }
    const count = messages.length;
    const values = this.values;
    if (values.length < count) values.length = count;
    try {
      await this.decodeAll(messages, values, slot, heartbeat);
      if (!this.stillOurs(slot)) return;
      if (this.deps.barHistory !== undefined && this.config.delivery.warmUpBars > 0)
        await this.warmUp(worker, messages, values, heartbeat);
      if (!this.stillOurs(slot)) return;
      await this.feedAll(slot, worker, payload, values);
    } finally {
      values.fill(undefined, 0, count); // the batch's objects must not outlive it
    }
  }

  private async feedAll(
    slot: PartitionSlot,
    worker: PartitionWorker,
    payload: EachBatchPayload,
    values: unknown[],
  ): Promise<void> {
    const { batch, heartbeat, resolveOffset } = payload;
    const messages = batch.messages;
    const count = messages.length;
    const maxBatchRecords = this.config.delivery.maxBatchRecords;
    const checkKey = this.config.validation.keyMustEqualSymbol;
    for (let index = 0; index < count; index++) {
      const message = messages[index]!;
      const value = values[index];
      const offset = Number(message.offset);
      const next = worker.nextOffset;
      if (next !== undefined && offset < next) continue; // already in the state (restored or re-fetched)
      const original = message.value ?? undefined;
      if (isDecodeFailure(value)) worker.reject(offset, message.offset, value, original);
      else worker.feed(offset, message.offset, value, original, checkKey ? message.key : undefined);
      if (worker.pendingRecords >= maxBatchRecords) this.delivery.cut();
      if (index % CHECK_EVERY_MESSAGES === CHECK_EVERY_MESSAGES - 1 && index < count - 1) {
        const due = Date.now() >= slot.nextCheckpointAtMs;
        if (due || this.delivery.isOverLimit) {
          resolveOffset(message.offset);
          if (this.delivery.isOverLimit) await this.backpressure(slot, heartbeat);
          if (!this.stillOurs(slot)) return;
          if (due) await this.checkpoint(slot, worker);
          if (!this.stillOurs(slot)) return;
        }
      }
    }
    // offsets after the last message (transaction markers) hold nothing: the state covers them too
    const last = Number(batch.lastOffset());
    if (worker.nextOffset !== undefined && last + 1 > worker.nextOffset) worker.nextOffset = last + 1;
    resolveOffset(messages[count - 1]!.offset);
    slot.lag = Math.max(0, Number(batch.highWatermark) - (worker.nextOffset ?? 0));
    if (this.delivery.isOverLimit) await this.backpressure(slot, heartbeat);
    if (!this.stillOurs(slot)) return;
    if (Date.now() >= slot.nextCheckpointAtMs) await this.checkpoint(slot, worker);
  }

  /** Decodes the batch into `values` (a DecodeFailure where a message is unusable). */
  private async decodeAll(
    messages: readonly KafkaMessage[],
    values: unknown[],
    slot: PartitionSlot,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const avro = this.avroDecoder;
    if (avro === undefined) {
      const decoder = this.jsonDecoder;
      for (let index = 0; index < messages.length; index++)
        values[index] = decoder.decode(messages[index]!.value);
      return;
    }
    for (let index = 0; index < messages.length; index++) {
      const bytes = messages[index]!.value;
      const id = avro.needsLookup(bytes);
      if (id !== undefined) {
        await this.withHeartbeat(
          this.retry(`fetch Avro schema ${id}`, slot, () => avro.lookup(id)),
          heartbeat,
          'the schema registry',
        );
        if (!this.stillOurs(slot)) return;
      }
      values[index] = avro.decodeCached(bytes);
    }
  }

  /**
   * Symbols this partition has no feature state for are warmed up from stored bars before their first tick
   * is fed: one query per timeframe for all new symbols of the batch, bars before the earliest of their
   * first ticks. Only ticks that look valid count, so junk cannot make the engine query at will.
   */
  private async warmUp(
    worker: PartitionWorker,
    messages: readonly KafkaMessage[],
    values: readonly unknown[],
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    let firstTs: Map<string, number> | undefined;
    const next = worker.nextOffset;
    for (let index = 0; index < messages.length; index++) {
      const value = values[index];
      if (isDecodeFailure(value) || (next !== undefined && Number(messages[index]!.offset) < next)) continue;
      const record = value as Record<string, unknown>;
      const symbol = record.symbol;
      if (typeof symbol !== 'string' || worker.knownSymbols.has(symbol) || firstTs?.has(symbol)) continue;
      if (!DEFAULT_SYMBOL_PATTERN.test(symbol)) continue;
      const ts = parseTime(record.ts);
      const price = readNumber(record.price);
      if (Number.isNaN(ts) || !(typeof price === 'number' && price > 0)) continue;
      (firstTs ??= new Map()).set(symbol, ts);
    }
    if (firstTs === undefined) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const ts of firstTs.values()) if (ts < earliest) earliest = ts;
    const symbols = [...firstTs.keys()];
    const history = this.deps.barHistory!;
    const count = this.config.delivery.warmUpBars;
    const isKafkaError = (error: unknown): boolean =>
      (error as Error | null)?.name?.startsWith('KafkaJS') === true;
    let bars: Bar[] = [];
    try {
      const perTimeframe = await retry(
        () =>
          this.withHeartbeat(
            Promise.all(
              TIMEFRAMES.map((tf) => history.recentBars(symbols, tf, this.barStartOf(earliest, tf), count)),
            ),
            heartbeat,
            'the bar history (warm-up)',
          ),
        {
          schedule: BACKOFF,
          maxAttempts: WARM_UP_ATTEMPTS,
          isRetriable: (error) => !isKafkaError(error),
          shouldStop: () => !this.isActive(),
          sleep: delay,
          now: Date.now,
        },
      );
      bars = perTimeframe.flat();
    } catch (error) {
      if (isKafkaError(error)) throw error;
      this.emit(
        'warn',
        ENGINE_EVENTS.warning,
        `warm-up of ${symbols.length} symbols failed; they start cold`,
        {
          partition: worker.partition,
          error: (error as Error)?.message,
        },
      );
    }
    worker.warmUp(bars, symbols);
    this.emit(
      'debug',
      ENGINE_EVENTS.warmedUp,
      `partition ${worker.partition}: warmed ${symbols.length} symbols`,
      {
        partition: worker.partition,
        symbols: symbols.length,
        bars: bars.length,
      },
    );
  }

  /** Start of the bar of `tf` holding `ts`: warm-up bars end before it. */
  private barStartOf(ts: number, tf: Timeframe): number {
    const fiveMinutes = Math.floor(ts / 300_000) * 300_000;
    if (tf === '5m') return fiveMinutes;
    if (tf === '1h') return Math.floor(ts / 3_600_000) * 3_600_000;
    return this.calendar.locate(fiveMinutes) ? this.calendar.dayStartMs : fiveMinutes;
  }

  // ---- checkpoints and backpressure

  /** A barrier: drain the async stage, snapshot the worker, cut every outbox with the snapshot riding along. */
  private async checkpoint(slot: PartitionSlot, worker: PartitionWorker): Promise<void> {
    await worker.drain();
    const now = Date.now();
    slot.nextCheckpointAtMs = now + this.config.snapshots.intervalMs;
    const next = worker.nextOffset;
    if (slot.revoked || worker.isClosed || next === undefined || next === slot.lastCheckpointOffset) return;
    const checkpoint: Checkpoint = {
      topic: this.topic,
      partition: slot.partition,
      offset: String(next),
      state: this.store === undefined ? undefined : worker.snapshot(),
      takenAtMs: now,
      isCurrent: () => !slot.revoked && this.slots.get(slot.partition) === slot,
    };
    slot.lastCheckpointOffset = next;
    this.delivery.cut([checkpoint]);
  }

  /** Partitions without new batches still need their last offsets checkpointed: the timer does it. */
  private checkpointIdlePartitions(): void {
    if (this.state !== 'running') return;
    const now = Date.now();
    for (const slot of this.slots.values()) {
      const worker = slot.worker;
      if (worker === undefined || slot.lock !== undefined || now < slot.nextCheckpointAtMs) continue;
      if (worker.nextOffset === slot.lastCheckpointOffset) continue;
      void this.acquire(slot).then(async (release) => {
        try {
          if (this.state === 'running' && !slot.revoked) await this.checkpoint(slot, worker);
        } catch (error) {
          this.fail(toMlfpError(error));
        } finally {
          release();
        }
      });
    }
  }

  private checkpointTickMs(): number {
    return Math.max(50, Math.min(1_000, Math.floor(this.config.snapshots.intervalMs / 2)));
  }

  /** Pauses every assigned partition until the pending records fall to half the limit, heartbeating meanwhile. */
  private async backpressure(slot: PartitionSlot, heartbeat: () => Promise<void>): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    this.paused = true;
    consumer.pause([{ topic: this.topic }]);
    this.emit(
      'warn',
      ENGINE_EVENTS.paused,
      `consumption paused: ${this.delivery.pendingRecords} records not yet durable`,
      {
        pendingRecords: this.delivery.pendingRecords,
        outputs: this.delivery
          .health()
          .filter((output) => output.state !== 'up')
          .map((output) => output.name),
      },
    );
    const resumeAt = Math.floor(this.config.delivery.maxPendingRecords / 2);
    try {
      while (!(await this.delivery.waitPendingAtMost(resumeAt, HEARTBEAT_EVERY_MS))) {
        if (slot.revoked || this.state !== 'running') return;
        await heartbeat();
      }
    } finally {
      this.paused = false;
      if (this.state === 'running') {
        consumer.resume([{ topic: this.topic }]);
        this.emit('info', ENGINE_EVENTS.resumed, 'consumption resumed', {
          pendingRecords: this.delivery.pendingRecords,
        });
      }
    }
  }

  private async commit(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) throw new MlfpError('internal', 'no consumer to commit with');
    // kafkajs resolves commitOffsets without committing while its consumer is not running (crashed, or
    // restarting: it returns early, and swallows the error of a commit the crash interrupted). Fail instead,
    // so the delivery reports it; the checkpoint after the consumer rejoins commits these offsets again.
    if (this.sourceDown !== undefined)
      throw new MlfpError('source_unavailable', `offsets not committed: waiting for ${this.sourceDown}`, {
        retriable: true,
      });
    await consumer.commitOffsets(offsets);
  }

  // ---- stop and failure

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
    this.consumer?.pause([{ topic: this.topic }]);
    try {
      await withTimeout(this.finalCheckpoint(), STOP_TIMEOUT_MS, 'final checkpoint');
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

  private async finalCheckpoint(): Promise<void> {
    for (const slot of [...this.slots.values()]) {
      const worker = await slot.ready.catch(() => undefined);
      if (worker === undefined || slot.revoked) continue;
      const release = await this.acquire(slot);
      try {
        await this.checkpoint(slot, worker);
      } finally {
        release();
      }
    }
    await this.delivery.settle();
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
    if (this.checkpointTimer !== undefined) clearInterval(this.checkpointTimer);
    this.checkpointTimer = undefined;
    this.delivery.close();
    const consumer = this.consumer;
    this.consumer = undefined;
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
    for (const slot of this.slots.values()) {
      slot.revoked = true;
      slot.worker?.close();
    }
    this.slots.clear();
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

  // ---- helpers

  private stillOurs(slot: PartitionSlot): boolean {
    return !slot.revoked && this.state === 'running';
  }

  private isActive(): boolean {
    return this.state === 'running' || this.state === 'starting';
  }

  /**
   * Awaits `work`, calling kafkajs's heartbeat about every second so a slow store or registry keeps us in the
   * group. Consumption stands still meanwhile: once the wait outlasts one heartbeat, health() says what for
   * (a sink retrying through an outage would otherwise leave the source looking 'up').
   */
  private async withHeartbeat<T>(work: Promise<T>, heartbeat: () => Promise<void>, what: string): Promise<T> {
    let settled = false;
    const guarded = work.finally(() => {
      settled = true;
    });
    try {
      for (;;) {
        const tick = await Promise.race([
          guarded.then(() => true),
          delay(HEARTBEAT_EVERY_MS).then(() => false),
        ]);
        if (tick || settled || !this.isActive()) return await guarded;
        this.waitingFor = what;
        await heartbeat();
      }
    } finally {
      if (this.waitingFor === what) this.waitingFor = undefined;
    }
  }

  /** Retries a retriable failure with capped backoff while the slot is ours and the engine runs. */
  private retry<T>(what: string, slot: PartitionSlot, work: () => Promise<T>): Promise<T> {
    return retry(work, {
      schedule: BACKOFF,
      // an MlfpError stays as it is (final ones are thrown at once); anything else counts as source_unavailable
      mapError: (error) => toMlfpError(error, 'source_unavailable'),
      isRetriable: (error) => error.retriable,
      shouldStop: () => slot.revoked || !this.isActive(),
      onRetry: (error, { attempt }) =>
        this.emit('warn', ENGINE_EVENTS.warning, `${what} failed (attempt ${attempt}); retrying`, {
          partition: slot.partition,
          error: error.message,
        }),
      sleep: delay,
      now: Date.now,
    });
  }

  private async acquire(slot: PartitionSlot): Promise<() => void> {
    while (slot.lock !== undefined) await slot.lock;
    let release!: () => void;
    slot.lock = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => {
      slot.lock = undefined;
      release();
    };
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

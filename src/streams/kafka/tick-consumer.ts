// The kafkajs consumer of the ticks topic: group membership (joins, crashes kafkajs restarts), eachBatch
// (decode, warm up, feed the partition's worker, checkpoint and backpressure between messages) and the
// commit port the delivery coordinator calls once every sink holds a checkpoint's outputs.

import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { MlfpError, toMlfpError } from '../../errors.js';
import { isDecodeFailure } from '../decode.js';
import { ENGINE_EVENTS } from '../engine-events.js';
import type { PartitionWorker } from '../partition-worker.js';
import type { FlowControl } from './backpressure.js';
import type { Checkpoints } from './checkpoints.js';
import { isKafkaJsError, type EngineContext } from './engine-context.js';
import { acquire, stillOurs, type PartitionSlot, type PartitionSlots } from './partition-slots.js';
import type { TickDecoding } from './tick-decoding.js';
import type { BarWarmUp } from './warm-up.js';

const CHECK_EVERY_MESSAGES = 64;
/** restarts after a crash kafkajs gives up on while the brokers are away: first wait, and the cap */
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 5_000;

/**
 * kafkajs does not restart its consumer after some crashes that only mean "the brokers are away": it raises
 * KafkaJSGroupCoordinatorNotFound (a non-retriable class) when the coordinator lookup runs out of retries
 * during an outage, and wraps connection failures in KafkaJSNonRetriableError. These names anywhere in the
 * cause chain make a crash an outage (wait and rejoin), not a failure (stop the engine).
 */
const BROKER_AWAY_ERRORS = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSLockTimeout',
]);

/** Whether a consumer crash only says the brokers are unreachable (see BROKER_AWAY_ERRORS). */
export function brokersAway(error: unknown): boolean {
  let current = error as { name?: unknown; cause?: unknown; retriable?: unknown } | undefined;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    if (typeof current.name === 'string' && BROKER_AWAY_ERRORS.has(current.name)) return true;
    if (current.name === 'KafkaJSProtocolError' && current.retriable === true) return true;
    current = current.cause as typeof current;
  }
  return false;
}

/** The parts eachBatch drives. */
export interface BatchParts {
  slots: PartitionSlots;
  flow: FlowControl;
  decoding: TickDecoding;
  warmUp: BarWarmUp;
  checkpoints: Checkpoints;
}

export class TickConsumer {
  /** the kafkajs consumer, from start() until detach() */
  consumer: Consumer | undefined;
  /**
   * Set while kafkajs restarts the consumer after a crash it retries (the brokers are away), cleared when the
   * consumer rejoins the group: consumption stands still meanwhile, and health() says so (not ready).
   */
  sourceDown: string | undefined;
  /** decoded values of the batch in hand, reused across batches */
  private values: unknown[] = [];
  /** our own restarts since the consumer was last in the group (backoff) */
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: EngineContext,
    private readonly parts: BatchParts,
  ) {}

  /** Fails with a final source_unavailable error unless the ticks topic exists. */
  async checkTopic(kafka: Kafka): Promise<void> {
    const { topic } = this.context;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(topic))
        throw new MlfpError('source_unavailable', `ticks topic ${topic} does not exist`, {
          field: 'kafka.topics.ticks',
          value: topic,
          retriable: false,
        });
    } finally {
      await admin.disconnect();
    }
  }

  /** Joins the group and starts consuming; `onSubscribed` runs once subscribed, before the consumer runs. */
  async start(kafka: Kafka, onSubscribed: () => void): Promise<void> {
    const { context } = this;
    const kafkaConfig = context.config.kafka;
    const consumer = kafka.consumer({
      groupId: context.groupId,
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
        restartOnFailure: async () => context.isActive(),
      },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.sourceDown = undefined;
      this.restarts = 0;
      this.parts.slots.onGroupJoin(event.payload.memberAssignment, this.consumer);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      // a crash kafkajs restarts (broker unreachable, coordinator moving or loading) is an outage, not a
      // failure: say so until the consumer is back in the group; one it does not restart stops the engine
      if (event.payload.restart)
        this.sourceDown = `the Kafka brokers (consumer restarting after: ${event.payload.error.message})`;
      else if (!context.isActive()) return;
      else if (brokersAway(event.payload.error)) {
        this.sourceDown = `the Kafka brokers (consumer restarting after: ${event.payload.error.message})`;
        this.restartLater(consumer);
      } else context.fail(toMlfpError(event.payload.error, 'source_unavailable'));
    });
    await consumer.connect();
    await consumer.subscribe({ topic: context.topic, fromBeginning: true });
    onSubscribed();
    await this.run(consumer);
  }

  private run(consumer: Consumer): Promise<void> {
    return consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /**
   * Reconnects and rejoins after a crash kafkajs will not restart (it has disconnected the consumer; the
   * subscription stays). Backs off while the brokers stay away; a further crash comes back here through the
   * CRASH event. Nothing happens once the engine stops or the consumer is detached.
   */
  private restartLater(consumer: Consumer): void {
    clearTimeout(this.restartTimer);
    const wait = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** Math.min(this.restarts, 10));
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.consumer !== consumer || !this.context.isActive()) return;
      consumer
        .connect()
        .then(() => (this.consumer === consumer && this.context.isActive() ? this.run(consumer) : undefined))
        .catch((error: unknown) => {
          if (this.consumer !== consumer || !this.context.isActive()) return;
          if (brokersAway(error)) this.restartLater(consumer);
          else this.context.fail(toMlfpError(error, 'source_unavailable'));
        });
    }, wait);
  }

  /** The commit port of the delivery coordinator. */
  async commit(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
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

  /** Forgets the consumer (no more commits, seeks or pauses) and returns it, to disconnect. */
  detach(): Consumer | undefined {
    const consumer = this.consumer;
    this.consumer = undefined;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    return consumer;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { context } = this;
    const { batch, heartbeat } = payload;
    if (context.state() !== 'running' || batch.topic !== context.topic) return;
    const slot = this.parts.slots.get(batch.partition);
    if (slot === undefined || slot.revoked) return;
    try {
      const worker = await this.parts.flow.withHeartbeat(slot.ready, heartbeat, 'the snapshot store');
      if (worker === undefined || slot.revoked || context.state() !== 'running') return;
      const release = await acquire(slot);
      try {
        if (slot.revoked || context.state() !== 'running') return;
        await this.processBatch(slot, worker, payload);
      } finally {
        release();
      }
    } catch (error) {
      // kafkajs errors (a rebalance seen by heartbeat()) go back to kafkajs, which rejoins the group
      if (isKafkaJsError(error)) throw error;
      context.fail(toMlfpError(error));
    }
  }

  private async processBatch(
    slot: PartitionSlot,
    worker: PartitionWorker,
    payload: EachBatchPayload,
  ): Promise<void> {
    const { context, parts } = this;
    const { batch, heartbeat } = payload;
    const messages = batch.messages;
    if (messages.length === 0) return;
    const first = Number(messages[0]!.offset);
    const expected = worker.nextOffset;
    if (expected !== undefined && first > expected && slot.seekedTo !== expected) {
      // the fetch position is past the state (a commit ahead of the snapshot): go back once; if the broker
      // again starts later, the offsets in between do not exist (compaction, transaction markers)
      slot.seekedTo = expected;
      this.consumer?.seek({ topic: context.topic, partition: slot.partition, offset: String(expected) });
      context.emit(
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
      await parts.decoding.decodeAll(messages, values, slot, heartbeat);
      if (!stillOurs(context, slot)) return;
      if (parts.warmUp.enabled) await parts.warmUp.warmUp(worker, messages, values, heartbeat);
      if (!stillOurs(context, slot)) return;
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
    const { context, parts } = this;
    const { delivery } = context;
    const { batch, heartbeat, resolveOffset } = payload;
    const messages = batch.messages;
    const count = messages.length;
    const maxBatchRecords = context.config.delivery.maxBatchRecords;
    const checkKey = context.config.validation.keyMustEqualSymbol;
    for (let index = 0; index < count; index++) {
      const message = messages[index]!;
      const value = values[index];
      const offset = Number(message.offset);
      const next = worker.nextOffset;
      if (next !== undefined && offset < next) continue; // already in the state (restored or re-fetched)
      const original = message.value ?? undefined;
      if (isDecodeFailure(value)) worker.reject(offset, message.offset, value, original);
      else worker.feed(offset, message.offset, value, original, checkKey ? message.key : undefined);
      if (worker.pendingRecords >= maxBatchRecords) delivery.cut();
      if (index % CHECK_EVERY_MESSAGES === CHECK_EVERY_MESSAGES - 1 && index < count - 1) {
        const due = Date.now() >= slot.nextCheckpointAtMs;
        if (due || delivery.isOverLimit) {
          resolveOffset(message.offset);
          if (delivery.isOverLimit) await parts.flow.backpressure(slot, heartbeat);
          if (!stillOurs(context, slot)) return;
          if (due) await parts.checkpoints.checkpoint(slot, worker);
          if (!stillOurs(context, slot)) return;
        }
      }
    }
    // offsets after the last message (transaction markers) hold nothing: the state covers them too
    const last = Number(batch.lastOffset());
    if (worker.nextOffset !== undefined && last + 1 > worker.nextOffset) worker.nextOffset = last + 1;
    resolveOffset(messages[count - 1]!.offset);
    slot.lag = Math.max(0, Number(batch.highWatermark) - (worker.nextOffset ?? 0));
    if (delivery.isOverLimit) await parts.flow.backpressure(slot, heartbeat);
    if (!stillOurs(context, slot)) return;
    if (Date.now() >= slot.nextCheckpointAtMs) await parts.checkpoints.checkpoint(slot, worker);
  }
}

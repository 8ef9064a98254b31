// Reads the whole corporate-actions topic into the in-memory book, from the beginning, on every instance:
// a consumer in a group of its own (random id, never commits) so each instance sees every partition.
// start() resolves once the topic is read up to where it ended at start; later actions keep arriving.
// Malformed actions become dead letters, handed to the delivery coordinator like any outbox.

import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { CorporateAction, DeadLetter } from '../domain/types.js';
import { isDeadLetter } from '../domain/types.js';
import { emptyBatch, type OutputBatch } from '../sinks/sink.js';
import { parseCorporateAction, type CorporateActionBook } from './corporate-actions.js';
import { isDecodeFailure, JsonTickDecoder } from './decode.js';
import type { OutboxOwner } from './delivery.js';
import { ENGINE_EVENTS, type EngineEventListener } from './engine-events.js';

export interface CorporateActionReaderOptions {
  topic: string;
  /** the engine's group id; the reader's own group is `${groupId}.corporate-actions.<random>` */
  groupId: string;
  book: CorporateActionBook;
  maxMessageBytes: number;
  maxWaitTimeInMs: number;
  /** give up waiting for the catch-up after this long (a warning; the reader keeps reading) */
  catchUpTimeoutMs?: number;
  onEvent?: EngineEventListener;
}

export class CorporateActionReader implements OutboxOwner {
  readonly partition = -1;
  readonly topic: string;
  /** actions accepted / rejected so far */
  accepted = 0;
  rejected = 0;
  private readonly decoder: JsonTickDecoder;
  private consumer: Consumer | undefined;
  private outbox: OutputBatch = emptyBatch();
  private readonly remaining = new Map<number, number>();
  private caughtUp: (() => void) | undefined;

  /** per partition, the offset after the last message read (a restarted consumer re-reads from the start) */
  private readonly nextOffsets = new Map<number, number>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: CorporateActionReaderOptions,
  ) {
    this.topic = options.topic;
    this.decoder = new JsonTickDecoder(options.maxMessageBytes);
  }

  get pendingRecords(): number {
    return this.outbox.deadLetters.length;
  }

  takeOutbox(): OutputBatch | undefined {
    if (this.outbox.deadLetters.length === 0) return undefined;
    const batch = this.outbox;
    this.outbox = emptyBatch();
    return batch;
  }

  /** Connects and reads until the end the topic had at start. A missing topic is a warning: no actions. */
  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: Array<{ partition: number; high: string; low: string }>;
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(this.topic)) {
        this.options.onEvent?.({
          type: ENGINE_EVENTS.warning,
          level: 'warn',
          message: `corporate actions topic ${this.topic} does not exist: no splits or dividends will be applied`,
          fields: { topic: this.topic },
        });
        return;
      }
      ends = await admin.fetchTopicOffsets(this.topic);
    } finally {
      await admin.disconnect();
    }
    for (const end of ends) {
      const high = Number(end.high);
      if (high > Number(end.low)) this.remaining.set(end.partition, high);
    }
    const caughtUp = new Promise<void>((resolve) => {
      this.caughtUp = resolve;
    });
    if (this.remaining.size === 0) this.caughtUp?.();
    const consumer = this.kafka.consumer({
      groupId: `${this.options.groupId}.corporate-actions.${randomUUID()}`,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      // kafkajs restarts a consumer that crashed on a retriable error even when the crash came from our own
      // disconnect() racing its restart after a broker outage; a consumer restarted after stop() would keep
      // the process alive (the engine never exits on SIGTERM). Restart only while this reader still owns it.
      retry: { restartOnFailure: async () => this.consumer === consumer },
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.onBatch(payload) });
    const timeoutMs = this.options.catchUpTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      caughtUp.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.options.onEvent?.({
      type: finished ? ENGINE_EVENTS.corporateActionsLoaded : ENGINE_EVENTS.warning,
      level: finished ? 'info' : 'warn',
      message: finished
        ? `corporate actions loaded: ${this.options.book.size} kept, ${this.rejected} rejected`
        : `corporate actions not fully read after ${timeoutMs} ms; continuing while the rest arrives`,
      fields: { accepted: this.accepted, rejected: this.rejected },
    });
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer !== undefined) await consumer.disconnect();
  }

  /** Validates one message into the book, or into the outbox as a dead letter. */
  accept(value: Buffer | null, partition: number, offset: string): CorporateAction | DeadLetter {
    const source = { topic: this.topic, partition, offset };
    const decoded = this.decoder.decode(value);
    const result: CorporateAction | DeadLetter = isDecodeFailure(decoded)
      ? {
          reason: decoded.reason,
          field: decoded.field,
          value: decoded.value,
          message: decoded.message,
          source,
        }
      : parseCorporateAction(decoded, source);
    if (isDeadLetter(result)) {
      if (value !== null) result.original = value;
      this.rejected++;
      this.outbox.deadLetters.push(result);
      this.options.onEvent?.({
        type: ENGINE_EVENTS.corporateActionRejected,
        level: 'warn',
        message: `corporate action rejected: ${result.reason}: ${result.message}`,
        fields: { partition, offset, reason: result.reason },
      });
    } else {
      this.accepted++;
      this.options.book.add(result);
    }
    return result;
  }

  private async onBatch({ batch }: EachBatchPayload): Promise<void> {
    // the reader commits nothing (a fresh group each start): a consumer kafkajs restarted after a crash reads
    // the topic from the beginning again; what was read already must not be booked or dead-lettered twice
    const partition = batch.partition;
    let next = this.nextOffsets.get(partition) ?? 0;
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset < next) continue;
      this.accept(message.value, partition, message.offset);
      next = offset + 1;
    }
    this.nextOffsets.set(partition, next);
    const target = this.remaining.get(batch.partition);
    if (target !== undefined && Number(batch.lastOffset()) + 1 >= target) {
      this.remaining.delete(batch.partition);
      if (this.remaining.size === 0) this.caughtUp?.();
    }
  }
}

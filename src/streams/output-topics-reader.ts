// The public API's view of every instance's outputs: a consumer in a group of its own (random id, never
// commits) reads the output topics (ml.predictions, ml.alerts, and bars / features when the engine publishes
// them) from their start (so the latest values are there before clients ask), and hands each record to the
// API's store (latest values) and hub. So any instance, or a separate `mlfp serve`, serves every symbol, not
// only what its own partitions computed.
// A value that does not parse is counted and logged (once per topic), never thrown.

import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { PublicApi } from '../api/public-api.js';
import type { EngineConfig, KafkaOutputConfig } from '../config/schema.js';
import type { LocalStoreSink } from '../sinks/memory/local-store-sink.js';
import {
  TIMEFRAMES,
  type Alert,
  type Bar,
  type FeatureVector,
  type Prediction,
  type Timeframe,
} from '../domain/types.js';
import { topicFor } from '../sinks/kafka/kafka-records.js';
import { parseOutputValue, type OutputTopicKind } from '../sinks/kafka/output-records-parse.js';
import { emptyBatch, type OutputBatch } from '../sinks/sink.js';
import { barChannel, featuresChannel, type Channel, type ChannelRecord } from '../api/channels.js';
import type { KafkaPosition } from '../api/position-index.js';
import { ENGINE_EVENTS, type EngineEventListener } from './engine-events.js';

export interface OutputTopicsReaderOptions {
  /** config.outputs.kafka: the topic names and whether bars / features are published */
  outputs: KafkaOutputConfig;
  /** the reader's group is `${groupId}.api.<random>` */
  groupId: string;
  maxWaitTimeInMs: number;
  /** where the records of each batch go (the API's store and hub), with their positions in the topic */
  publish: (batch: OutputBatch, positions: PositionsOf) => void;
  /** how long a Kafka replay may take before the API falls back to the snapshot tier */
  replayTimeoutMs?: number;
  onEvent?: EngineEventListener;
}

/** The Kafka position of each record of a published batch (same order as the batch's arrays). */
export interface PositionsOf {
  partition: number;
  offsets: number[];
}

export class OutputTopicsReader {
  /** records read / refused so far */
  read = 0;
  refused = 0;
  private consumer: Consumer | undefined;
  private readonly kinds = new Map<string, OutputTopicKind>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: OutputTopicsReaderOptions,
  ) {
    const topics = options.outputs.topics;
    this.kinds.set(topics.predictions, 'prediction');
    this.kinds.set(topics.alerts, 'alert');
    for (const tf of TIMEFRAMES) {
      if (options.outputs.bars) this.kinds.set(topicFor(topics.bars, tf), 'bar');
      if (options.outputs.features) this.kinds.set(topicFor(topics.features, tf), 'features');
    }
  }

  get topics(): string[] {
    return [...this.kinds.keys()];
  }

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `${this.options.groupId}.api.${randomUUID()}`,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: async () => this.consumer === consumer },
    });
    this.consumer = consumer;
    await consumer.connect();
    // from the start (retention bounds it): the latest value per key is rebuilt before clients ask for it
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.onBatch(payload) });
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer !== undefined) await consumer.disconnect();
  }

  private async onBatch({ batch }: EachBatchPayload): Promise<void> {
    const kind = this.kinds.get(batch.topic);
    if (kind === undefined) return;
    const out = emptyBatch();
    const positions: PositionsOf = { partition: batch.partition, offsets: [] };
    for (const message of batch.messages) {
      const parsed = parseOutputValue(kind, message.value?.toString('utf8') ?? '');
      if (parsed.kind === 'refused') {
        this.refused++;
        if (!this.warned.has(batch.topic)) {
          this.warned.add(batch.topic);
          this.options.onEvent?.({
            type: ENGINE_EVENTS.warning,
            level: 'warn',
            message: `output topic ${batch.topic}: a value the API cannot serve (${parsed.reason}); such values are skipped (counted, logged once per topic)`,
            fields: { topic: batch.topic, partition: batch.partition, offset: message.offset },
          });
        }
        continue;
      }
      this.read++;
      positions.offsets.push(Number(message.offset));
      if (parsed.kind === 'bar') out.bars.push(parsed.value as Bar);
      else if (parsed.kind === 'features') out.features.push(parsed.value as FeatureVector);
      else if (parsed.kind === 'prediction') out.predictions.push(parsed.value as Prediction);
      else out.alerts.push(parsed.value as Alert);
    }
    this.options.publish(out, positions);
  }

  /** The topic a channel's records are read from. */
  topicOf(channel: Channel): string | undefined {
    const topics = this.options.outputs.topics;
    if (channel === 'predictions') return topics.predictions;
    if (channel === 'alerts') return topics.alerts;
    const [kind, tf] = channel.split('.') as ['bars' | 'features', Timeframe];
    return (kind === 'bars' ? this.options.outputs.bars : this.options.outputs.features)
      ? topicFor(kind === 'bars' ? topics.bars : topics.features, tf)
      : undefined;
  }

  /**
   * The Kafka replay tier: the records at `positions` of the channel's topic, in that order, read by a consumer
   * of its own seeking to the first wanted offset of each partition. Rejects when one cannot be read in time.
   */
  async fetch(channel: Channel, positions: readonly KafkaPosition[]): Promise<ChannelRecord[]> {
    const topic = this.topicOf(channel);
    const kind = topic === undefined ? undefined : this.kinds.get(topic);
    if (topic === undefined || kind === undefined) throw new Error(`${channel} is not read from Kafka`);
    const wanted = new Map<number, Set<number>>();
    for (const { partition, offset } of positions) {
      let offsets = wanted.get(partition);
      if (offsets === undefined) wanted.set(partition, (offsets = new Set()));
      offsets.add(offset);
    }
    const found = new Map<string, ChannelRecord>();
    const consumer = this.kafka.consumer({
      groupId: `${this.options.groupId}.api-replay.${randomUUID()}`,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      retry: { retries: 2 },
    });
    let done: () => void = () => undefined;
    const complete = new Promise<void>((resolve) => (done = resolve));
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: false });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const offsets = wanted.get(batch.partition);
          if (offsets === undefined) return;
          for (const message of batch.messages) {
            const offset = Number(message.offset);
            if (!offsets.has(offset)) continue;
            const parsed = parseOutputValue(kind, message.value?.toString('utf8') ?? '');
            if (parsed.kind !== 'refused') found.set(`${batch.partition}:${offset}`, parsed.value);
          }
          if (found.size >= positions.length) done();
        },
      });
      for (const [partition, offsets] of wanted)
        consumer.seek({ topic, partition, offset: String(Math.min(...offsets)) });
      const timeoutMs = this.options.replayTimeoutMs ?? 20_000;
      const finished = await Promise.race([
        complete.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
      if (!finished)
        throw new Error(
          `Kafka replay of ${channel}: ${found.size} of ${positions.length} records in ${timeoutMs} ms`,
        );
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
    return positions.map(({ partition, offset }) => found.get(`${partition}:${offset}`)!);
  }
}

/** Reads every instance's outputs back from the output topics into the API's store and hub. */
export function apiOutputReader(
  config: EngineConfig,
  kafka: Kafka,
  api: PublicApi,
  local: LocalStoreSink,
  onEvent: EngineEventListener,
): OutputTopicsReader {
  const reader = new OutputTopicsReader(kafka, {
    outputs: config.outputs.kafka,
    groupId: config.kafka.groupId,
    maxWaitTimeInMs: config.kafka.maxWaitTimeInMs,
    publish: (batch, positions) => {
      void local.write(batch); // in memory: done when it returns
      // one topic per batch: exactly one of the arrays holds records, in offset order
      const at = (index: number) => ({ partition: positions.partition, offset: positions.offsets[index]! });
      batch.bars.forEach((bar, i) => api.hub.publish(barChannel(bar.timeframe), bar, at(i)));
      batch.features.forEach((vector, i) =>
        api.hub.publish(featuresChannel(vector.timeframe), vector, at(i)),
      );
      batch.predictions.forEach((prediction, i) => api.hub.publish('predictions', prediction, at(i)));
      batch.alerts.forEach((alert, i) => api.hub.publish('alerts', alert, at(i)));
    },
    onEvent,
  });
  api.hub.kafkaFetch = (channel, positions) => reader.fetch(channel, positions);
  return reader;
}

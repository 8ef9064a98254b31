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
import { TIMEFRAMES, type Alert, type Bar, type FeatureVector, type Prediction } from '../domain/types.js';
import { topicFor } from '../sinks/kafka/kafka-records.js';
import { parseOutputValue, type OutputTopicKind } from '../sinks/kafka/output-records-parse.js';
import { emptyBatch, type OutputBatch } from '../sinks/sink.js';
import { ENGINE_EVENTS, type EngineEventListener } from './engine-events.js';

export interface OutputTopicsReaderOptions {
  /** config.outputs.kafka: the topic names and whether bars / features are published */
  outputs: KafkaOutputConfig;
  /** the reader's group is `${groupId}.api.<random>` */
  groupId: string;
  maxWaitTimeInMs: number;
  /** where each record goes (the API's store and hub), one record at a time */
  publish: (batch: OutputBatch) => void;
  onEvent?: EngineEventListener;
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
      if (parsed.kind === 'bar') out.bars.push(parsed.value as Bar);
      else if (parsed.kind === 'features') out.features.push(parsed.value as FeatureVector);
      else if (parsed.kind === 'prediction') out.predictions.push(parsed.value as Prediction);
      else out.alerts.push(parsed.value as Alert);
    }
    this.options.publish(out);
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
  return new OutputTopicsReader(kafka, {
    outputs: config.outputs.kafka,
    groupId: config.kafka.groupId,
    maxWaitTimeInMs: config.kafka.maxWaitTimeInMs,
    publish: (batch) => {
      void local.write(batch); // in memory: done when it returns
      api.hub.publishBatch(batch);
    },
    onEvent,
  });
}

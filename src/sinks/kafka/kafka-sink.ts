// The Kafka producer sink: predictions, alerts, dead letters and optionally bars / feature vectors as JSON, keyed
// by symbol, through one idempotent producer (one request in flight, so retries never reorder a partition).
// Sends in chunks (≤ maxRecordsPerRequest records, ≈ maxBytesPerRequest bytes), one at a time with an await
// between them, each retried while the cluster is away; creates missing output topics at start.

import {
  CompressionTypes,
  Partitioners,
  type Kafka,
  type Message,
  type Producer,
  type ITopicConfig,
} from 'kafkajs';
import type { KafkaOutputConfig } from '../../config/schema.js';
import { TIMEFRAMES, type Timeframe } from '../../domain/types.js';
import { classifyKafkaError } from './kafka-errors.js';
import {
  alertValue,
  barValue,
  deadLetterKey,
  deadLetterValue,
  featuresValue,
  labelValue,
  performanceValue,
  predictionValue,
  topicFor,
  type OutputRecord,
} from './kafka-records.js';
import { ensureTopics } from './kafka-topics.js';
import { Retrier, type RetrierDependencies } from '../retrier.js';
import { SinkLifecycle } from '../sink-lifecycle.js';
import type { OutputBatch, Sink, SinkHealth } from '../sink.js';

/** Per-record framing overhead counted against maxBytesPerRequest (record headers, lengths, timestamps). */
const RECORD_OVERHEAD_BYTES = 64;

export interface KafkaSinkDependencies extends RetrierDependencies {
  /** a producer to use instead of kafka.producer(...) (tests) */
  producer?: Producer;
}

/** What one sendBatch call carries. */
export interface OutputChunk {
  topicMessages: { topic: string; messages: Message[] }[];
  records: number;
  bytes: number;
}

/** The records of a batch, in batch order per kind (so per key). */
export function* outputRecords(batch: OutputBatch, config: KafkaOutputConfig): Generator<OutputRecord> {
  const { topics } = config;
  for (const letter of batch.deadLetters)
    yield {
      topic: topics.deadLetters,
      key: deadLetterKey(letter),
      value: deadLetterValue(letter, config.maxOriginalBytes),
    };
  if (config.bars && batch.bars.length > 0) {
    const barTopics = topicsByTimeframe(topics.bars);
    for (const bar of batch.bars)
      yield { topic: barTopics[bar.timeframe], key: bar.symbol, value: barValue(bar) };
  }
  if (config.features && batch.features.length > 0) {
    const featureTopics = topicsByTimeframe(topics.features);
    for (const vector of batch.features)
      yield { topic: featureTopics[vector.timeframe], key: vector.symbol, value: featuresValue(vector) };
  }
  for (const prediction of batch.predictions)
    yield { topic: topics.predictions, key: prediction.symbol, value: predictionValue(prediction) };
  for (const alert of batch.alerts)
    yield { topic: topics.alerts, key: alert.subject, value: alertValue(alert) };
  for (const label of batch.labels)
    yield { topic: topics.labels, key: label.symbol, value: labelValue(label) };
  for (const record of batch.performance)
    yield { topic: topics.performance, key: record.model, value: performanceValue(record) };
}

function topicsByTimeframe(template: string): Record<Timeframe, string> {
  return { '5m': topicFor(template, '5m'), '1h': topicFor(template, '1h'), '1d': topicFor(template, '1d') };
}

/** Cuts records into chunks of at most `maxRecords` and about `maxBytes` (a larger single record goes alone). */
export function* outputChunks(
  records: Iterable<OutputRecord>,
  maxRecords: number,
  maxBytes: number,
): Generator<OutputChunk> {
  let byTopic = new Map<string, Message[]>();
  let count = 0;
  let bytes = 0;
  const take = (): OutputChunk => {
    const chunk = {
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      records: count,
      bytes,
    };
    byTopic = new Map();
    count = 0;
    bytes = 0;
    return chunk;
  };
  for (const record of records) {
    const size =
      Buffer.byteLength(record.value) +
      (record.key === null ? 0 : Buffer.byteLength(record.key)) +
      RECORD_OVERHEAD_BYTES;
    if (count > 0 && (count >= maxRecords || bytes + size > maxBytes)) yield take();
    let messages = byTopic.get(record.topic);
    if (messages === undefined) byTopic.set(record.topic, (messages = []));
    messages.push({ key: record.key, value: record.value });
    count++;
    bytes += size;
  }
  if (count > 0) yield take();
}

export class KafkaSink implements Sink {
  readonly name = 'kafka';
  private readonly producer: Producer;
  private readonly retrier: Retrier;
  private readonly lifecycle: SinkLifecycle;

  constructor(
    private readonly kafka: Kafka,
    private readonly config: KafkaOutputConfig,
    dependencies: KafkaSinkDependencies = {},
  ) {
    this.retrier = new Retrier(
      'kafka producer',
      config.retry,
      (error) => classifyKafkaError(error, 'send'),
      dependencies,
    );
    this.lifecycle = new SinkLifecycle('kafka', this.retrier);
    this.producer =
      dependencies.producer ??
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // murmur2 like the Java client: a symbol lands on the partition Java/Flink producers would pick
        createPartitioner: Partitioners.DefaultPartitioner,
        // an idempotent producer retries a retriable send until the broker acknowledges it, with the same
        // producer id and sequence numbers, so a retry is never a duplicate (kafkajs warns at creation that
        // fewer retries "may invalidate EoS guarantees"); a lost cluster still surfaces as the failed reconnect
        // that our retrier waits out (health 'retrying')
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 2_000 },
      });
  }

  /** The output topics this configuration writes (and creates when createTopics is on). */
  topics(): string[] {
    const { topics } = this.config;
    const names = [topics.predictions, topics.alerts, topics.deadLetters, topics.labels, topics.performance];
    if (this.config.bars) for (const timeframe of TIMEFRAMES) names.push(topicFor(topics.bars, timeframe));
    if (this.config.features)
      for (const timeframe of TIMEFRAMES) names.push(topicFor(topics.features, timeframe));
    return [...new Set(names)];
  }

  /** How a missing topic is created: configured partitions and replication, retention.ms when set. */
  topicConfigs(): ITopicConfig[] {
    return this.topics().map((topic) => ({
      topic,
      numPartitions: this.config.partitions,
      replicationFactor: this.config.replicationFactor,
      ...(this.config.retentionMs === undefined
        ? {}
        : { configEntries: [{ name: 'retention.ms', value: String(this.config.retentionMs) }] }),
    }));
  }

  /** Connects the producer and creates missing topics, retrying while the cluster is away. */
  start(): Promise<void> {
    return this.lifecycle.start(async () => {
      await this.producer.connect();
      if (!this.config.createTopics) return;
      const admin = this.kafka.admin();
      await admin.connect();
      try {
        await ensureTopics(admin, this.topicConfigs());
      } finally {
        await admin.disconnect();
      }
    });
  }

  health(): SinkHealth {
    return this.retrier.health();
  }

  write(batch: OutputBatch): Promise<void> {
    const records =
      batch.deadLetters.length +
      batch.predictions.length +
      batch.alerts.length +
      batch.labels.length +
      batch.performance.length +
      (this.config.bars ? batch.bars.length : 0) +
      (this.config.features ? batch.features.length : 0);
    return this.lifecycle.write(records, async (acknowledge) => {
      const compression = this.config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
      const chunks = outputChunks(
        outputRecords(batch, this.config),
        this.config.maxRecordsPerRequest,
        this.config.maxBytesPerRequest,
      );
      // one request at a time: the await lets the event loop run between chunks; a failed chunk is resent
      // alone (chunks already acknowledged are not sent again)
      for (const chunk of chunks) {
        await this.retrier.run('send', () =>
          this.producer.sendBatch({ topicMessages: chunk.topicMessages, acks: -1, compression }),
        );
        acknowledge(chunk.records);
      }
    });
  }

  async close(): Promise<void> {
    if (await this.lifecycle.close(this.config.closeTimeoutMs)) await this.producer.disconnect();
  }
}

// KafkaSink against the real broker: topics created with the configured partitions and retention, JSON payloads
// and keys per the contract, chunked sends keeping per-key order, a 2015 bar stamped with the production time
// (readable, not aged out by retention), and a 5 MB dead-letter original truncated under the 1 MB limit.
import { ConfigResourceTypes, Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { KafkaOutputConfig } from '../../../src/config/schema.js';
import { FEATURE_COLUMNS } from '../../../src/domain/types.js';
import { KafkaSink } from '../../../src/sinks/kafka/kafka-sink.js';
import {
  batchOf,
  makeAlert,
  makeBar,
  makeDeadLetter,
  makeFeatures,
  makePrediction,
  times,
  uniqueSuffix,
} from '../../sinks/records.js';

const services = inject('services');
const suffix = uniqueSuffix();
const kafka = new Kafka({
  clientId: 'mlfp-it-kafka-sink',
  brokers: services.kafkaBrokers,
  logLevel: logLevel.WARN,
});
const admin = kafka.admin();

const config: KafkaOutputConfig = parseConfig({
  outputs: {
    kafka: {
      topics: {
        predictions: `mlfp-it-predictions-${suffix}`,
        alerts: `mlfp-it-alerts-${suffix}`,
        deadLetters: `mlfp-it-dlq-${suffix}`,
        labels: `mlfp-it-labels-${suffix}`,
        performance: `mlfp-it-performance-${suffix}`,
        bars: `mlfp-it-bars-{timeframe}-${suffix}`,
        features: `mlfp-it-features-{timeframe}-${suffix}`,
      },
      bars: true,
      features: true,
      partitions: 3,
      retentionMs: 7 * 86_400_000,
      maxRecordsPerRequest: 400,
    },
  },
}).outputs.kafka;

/** Reads `count` messages per topic from the beginning. */
async function consume(topics: Record<string, number>): Promise<Map<string, KafkaMessage[]>> {
  const consumer = kafka.consumer({ groupId: `mlfp-it-kafka-sink-${uniqueSuffix()}`, maxWaitTimeInMs: 100 });
  const received = new Map<string, KafkaMessage[]>(Object.keys(topics).map((topic) => [topic, []]));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: Object.keys(topics), fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const done = (): boolean =>
        Object.entries(topics).every(([topic, count]) => (received.get(topic)?.length ?? 0) >= count);
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) reject(event.payload.error);
      });
      consumer
        .run({
          eachMessage: async ({ topic, message }) => {
            received.get(topic)?.push(message);
            if (done()) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

describe('kafka sink', () => {
  const sink = new KafkaSink(kafka, config);

  beforeAll(async () => {
    await admin.connect();
    await sink.start();
  });
  afterAll(async () => {
    await sink.close();
    await admin.deleteTopics({ topics: sink.topics() });
    await admin.disconnect();
  });

  it('creates the output topics with the configured partitions and retention', async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: sink.topics() });
    expect(metadata.topics.map((topic) => topic.partitions.length)).toEqual(sink.topics().map(() => 3));
    expect(sink.topics()).toHaveLength(11);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: config.topics.predictions, configNames: ['retention.ms'] },
      ],
    });
    expect(described.resources[0]?.configEntries[0]?.configValue).toBe(String(7 * 86_400_000));
    expect(sink.health().state).toBe('up');
  });

  it('produces every output as contract JSON, keyed by symbol, in per-key order across chunks', async () => {
    const ts = times(Date.UTC(2024, 0, 2, 14, 30), 1_000);
    const old = Date.UTC(2015, 2, 2, 15, 0);
    const producedFrom = Date.now();
    await sink.write(
      batchOf({
        bars: [makeBar('IBM', old), makeBar('AAPL', ts[0] as number, 1, '1h')],
        features: [makeFeatures('AAPL', ts[0] as number, 0, 2)],
        predictions: ts.map((t) => makePrediction('AAPL', t)),
        alerts: [makeAlert('lgbm-return@1.0.0', ts[5] as number)],
        deadLetters: [makeDeadLetter(12, new Uint8Array(5 * 1024 * 1024).fill(0x41))],
      }),
    );
    const producedTo = Date.now();
    expect(sink.health().pendingRecords).toBe(0);
    const received = await consume({
      [config.topics.predictions]: 1_000,
      [`mlfp-it-bars-5m-${suffix}`]: 1,
      [`mlfp-it-bars-1h-${suffix}`]: 1,
      [`mlfp-it-features-5m-${suffix}`]: 1,
      [config.topics.alerts]: 1,
      [config.topics.deadLetters]: 1,
    });

    const predictions = received.get(config.topics.predictions) ?? [];
    expect(predictions.every((m) => m.key?.toString() === 'AAPL')).toBe(true);
    const payloads = predictions.map((m) => JSON.parse(m.value?.toString() ?? 'null'));
    expect(payloads.map((p) => p.ts)).toEqual(ts.map((t) => new Date(t).toISOString())); // one key = one partition, in order
    expect(payloads[0]).toEqual({
      symbol: 'AAPL',
      timeframe: '5m',
      ts: new Date(ts[0] as number).toISOString(),
      model: 'lgbm-return',
      version: '1.0.0',
      kind: 'classifier',
      output: { label: 'up', p_up: 0.625, p_down: 0.375 },
      latencyMs: 1.5,
    });

    // a bar from 2015: event time in the payload, production time on the record (7-day retention counts from now)
    const [oldBar] = received.get(`mlfp-it-bars-5m-${suffix}`) ?? [];
    expect(oldBar?.key?.toString()).toBe('IBM');
    const bar = makeBar('IBM', old);
    expect(JSON.parse(oldBar?.value?.toString() ?? 'null')).toEqual({
      ...bar,
      ts: '2015-03-02T15:00:00.000Z',
      end: '2015-03-02T15:05:00.000Z',
    });
    const stamp = Number(oldBar?.timestamp);
    expect(stamp).toBeGreaterThanOrEqual(producedFrom);
    expect(stamp).toBeLessThanOrEqual(producedTo);

    const [features] = received.get(`mlfp-it-features-5m-${suffix}`) ?? [];
    const vector = makeFeatures('AAPL', ts[0] as number, 0, 2);
    const featuresPayload = JSON.parse(features?.value?.toString() ?? 'null');
    expect(featuresPayload).toMatchObject({
      symbol: 'AAPL',
      timeframe: '5m',
      revision: 0,
      close: vector.close,
    });
    expect(featuresPayload.features).toEqual(
      Object.fromEntries(FEATURE_COLUMNS.map((name, i) => [name, i < 2 ? null : vector.values[i]])),
    );

    const [alert] = received.get(config.topics.alerts) ?? [];
    expect(alert?.key?.toString()).toBe('lgbm-return@1.0.0');
    expect(JSON.parse(alert?.value?.toString() ?? 'null')).toMatchObject({
      type: 'drift',
      state: 'firing',
      value: 0.31,
    });

    const [dead] = received.get(config.topics.deadLetters) ?? [];
    expect(dead?.value?.length).toBeLessThan(100_000);
    expect(dead?.key?.toString()).toBe('market.ticks/3');
    const letter = JSON.parse(dead?.value?.toString() ?? 'null');
    expect(letter).toMatchObject({
      reason: 'non_positive_price',
      field: 'price',
      topic: 'market.ticks',
      partition: 3,
      offset: '12',
      originalBytes: 5 * 1024 * 1024,
      truncated: true,
    });
    expect(Buffer.from(letter.original, 'base64')).toEqual(Buffer.alloc(64 * 1024, 0x41));
  });
});

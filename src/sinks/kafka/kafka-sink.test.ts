// KafkaSink with a stand-in producer: retry on a lost cluster (health 'retrying', the failed chunk resent, the
// acknowledged ones not), final refusal of a record, one request in flight, topics to create.
import {
  Kafka,
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  logLevel,
  type Producer,
  type ProducerBatch,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { batchOf, makePrediction, times } from '../../../test/sinks/records.js';
import { classifyKafkaError, isRetriableKafkaError } from './kafka-errors.js';
import { KafkaSink } from './kafka-sink.js';

const config = parseConfig({
  outputs: {
    kafka: { maxRecordsPerRequest: 10, createTopics: false, retentionMs: 86_400_000, features: true },
  },
}).outputs.kafka;

/** Records every sendBatch; `failures` decides per call whether (and how) it fails. */
function fakeProducer(failures: (call: number) => Error | undefined) {
  const sent: ProducerBatch[] = [];
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: async (batch: ProducerBatch) => {
      calls++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight--;
      const failure = failures(calls);
      if (failure !== undefined) throw failure;
      sent.push(batch);
      return [];
    },
  } as unknown as Producer;
  return { producer, sent, maxInFlight: () => maxInFlight, calls: () => calls };
}

const kafka = new Kafka({ brokers: ['127.0.0.1:1'] });
const noSleep = { sleep: async () => undefined };
const predictions = (count: number) =>
  times(Date.UTC(2024, 0, 2), count).map((t) => makePrediction('AAPL', t));

describe('kafka producer options', () => {
  it('creates its idempotent producer without kafkajs warning about limited retries', () => {
    const logged: string[] = [];
    const quiet = new Kafka({
      brokers: ['127.0.0.1:1'],
      logLevel: logLevel.INFO,
      logCreator: () => (entry) => logged.push(`${entry.namespace}: ${entry.log.message}`),
    });
    new KafkaSink(quiet, config);
    expect(logged.filter((line) => /retries|EoS/i.test(line))).toEqual([]);
  });
});

describe('kafka error classification', () => {
  it('waits out a lost cluster; refuses what the brokers reject', () => {
    const lost = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:19092');
    expect(isRetriableKafkaError(lost)).toBe(true);
    expect(
      isRetriableKafkaError(new KafkaJSNumberOfRetriesExceeded(lost, { retryCount: 5, retryTime: 100 })),
    ).toBe(true);
    const tooLarge = new KafkaJSProtocolError({
      message: 'The request included a message larger than the max message size the server will accept',
      type: 'MESSAGE_TOO_LARGE',
      code: 10,
      retriable: false,
    } as never);
    expect(isRetriableKafkaError(tooLarge)).toBe(false);
    expect(
      isRetriableKafkaError(Object.assign(new KafkaJSNonRetriableError(tooLarge), { cause: tooLarge })),
    ).toBe(false);
    const notLeader = new KafkaJSProtocolError({
      message: 'This server is not the leader for that topic-partition',
      type: 'NOT_LEADER_FOR_PARTITION',
      code: 6,
      retriable: true,
    } as never);
    expect(isRetriableKafkaError(notLeader)).toBe(true);
    expect(isRetriableKafkaError(new TypeError('bug'))).toBe(false);
    expect(classifyKafkaError(tooLarge, 'send')).toMatchObject({ code: 'sink_rejected', retriable: false });
  });
});

describe('KafkaSink', () => {
  it('sends in chunks of at most maxRecordsPerRequest, one request at a time', async () => {
    const fake = fakeProducer(() => undefined);
    const sink = new KafkaSink(kafka, config, { producer: fake.producer, ...noSleep });
    await sink.start();
    await Promise.all([
      sink.write(batchOf({ predictions: predictions(25) })),
      sink.write(batchOf({ predictions: predictions(5) })),
    ]);
    expect(fake.sent.map((b) => b.topicMessages?.[0]?.messages.length)).toEqual([10, 10, 5, 5]);
    expect(fake.sent.every((b) => b.acks === -1)).toBe(true);
    expect(fake.maxInFlight()).toBe(1);
    expect(sink.health()).toMatchObject({ state: 'up', pendingRecords: 0 });
  });

  it('retries the failed chunk while the cluster is away, without resending acknowledged chunks', async () => {
    const lost = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('connect ECONNREFUSED'), {
      retryCount: 5,
      retryTime: 100,
    });
    const states: string[] = [];
    const holder: { sink?: KafkaSink } = {};
    const fake = fakeProducer((call) => {
      states.push(holder.sink?.health().state ?? '');
      return call >= 2 && call <= 4 ? lost : undefined;
    });
    const sink = new KafkaSink(kafka, config, { producer: fake.producer, ...noSleep });
    holder.sink = sink;
    await sink.start();
    const data = predictions(25);
    await sink.write(batchOf({ predictions: data }));
    expect(states).toEqual(['up', 'up', 'retrying', 'retrying', 'retrying', 'up']);
    const delivered = fake.sent.flatMap((b) => b.topicMessages?.[0]?.messages.map((m) => m.value) ?? []);
    expect(delivered).toHaveLength(25);
    expect(new Set(delivered).size).toBe(25);
    expect(sink.health()).toMatchObject({ state: 'up', retries: 3, pendingRecords: 0 });
    expect(sink.health().lastError).toMatch(/ECONNREFUSED|retries/i);
  });

  it('rejects a batch the brokers refuse, and keeps going for the next', async () => {
    const refusal = new KafkaJSProtocolError({
      message: 'message too large',
      type: 'MESSAGE_TOO_LARGE',
      code: 10,
      retriable: false,
    } as never);
    const fake = fakeProducer((call) => (call === 1 ? refusal : undefined));
    const sink = new KafkaSink(kafka, config, { producer: fake.producer, ...noSleep });
    await sink.start();
    await expect(sink.write(batchOf({ predictions: predictions(3) }))).rejects.toMatchObject({
      code: 'sink_rejected',
      retriable: false,
    });
    await sink.write(batchOf({ predictions: predictions(3) }));
    expect(fake.sent).toHaveLength(1);
    expect(sink.health()).toMatchObject({ state: 'up', pendingRecords: 0 });
  });

  it('lists the topics to create with partitions, replication and retention.ms', () => {
    const sink = new KafkaSink(kafka, config, { producer: fakeProducer(() => undefined).producer });
    expect(sink.topics()).toEqual([
      'ml.predictions',
      'ml.alerts',
      'market.ticks.dlq',
      'ml.labels',
      'ml.performance',
      'features.5m',
      'features.1h',
      'features.1d',
    ]);
    expect(sink.topicConfigs()[0]).toEqual({
      topic: 'ml.predictions',
      numPartitions: 6,
      replicationFactor: 1,
      configEntries: [{ name: 'retention.ms', value: '86400000' }],
    });
  });

  it('refuses writes before start and after close', async () => {
    const sink = new KafkaSink(kafka, config, { producer: fakeProducer(() => undefined).producer });
    await expect(sink.write(batchOf({ predictions: predictions(1) }))).rejects.toMatchObject({
      code: 'internal',
    });
    await sink.start();
    await sink.close();
    await expect(sink.write(batchOf({ predictions: predictions(1) }))).rejects.toMatchObject({
      code: 'sink_unavailable',
    });
    expect(sink.health().state).toBe('closed');
  });
});

// Proves each real service answers with the clients the engine uses: Kafka (plain and transactional),
// the schema registry through @kafkajs/confluent-schema-registry, PostgreSQL and Redis.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Redis } from 'ioredis';
import {
  ConfigResourceTypes,
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type KafkaMessage,
} from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTopics } from '../../src/sinks/kafka/kafka-topics.js';

const services = inject('services');
const runId = `${process.pid}-${Date.now()}`;
const kafka = new Kafka({
  clientId: 'mlfp-it-services',
  brokers: services.kafkaBrokers,
  logLevel: logLevel.WARN,
});

/** Runs the consumer until `count` messages arrived, then stops it; rejects on a consumer crash. */
async function consume(consumer: Consumer, topic: string, count: number): Promise<KafkaMessage[]> {
  const received: KafkaMessage[] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  return new Promise<KafkaMessage[]>((resolve, reject) => {
    // kafkajs restarts a consumer after a retriable crash by itself; only a final one fails the test.
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) reject(event.payload.error);
    });
    consumer
      .run({
        eachMessage: async ({ message }) => {
          received.push(message);
          if (received.length === count) resolve(received);
        },
      })
      .catch(reject);
  });
}

describe('kafka broker', () => {
  const admin = kafka.admin();
  const topics: string[] = [];

  beforeAll(async () => {
    await admin.connect();
  });
  afterAll(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics });
    await admin.disconnect();
  });

  it('runs with auto topic creation off and 6 partitions by default', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.length).toBeGreaterThanOrEqual(1);
    const brokerId = String(cluster.brokers[0]?.nodeId);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: ConfigResourceTypes.BROKER,
          name: brokerId,
          configNames: ['auto.create.topics.enable', 'num.partitions'],
        },
      ],
    });
    const entries = Object.fromEntries(
      (described.resources[0]?.configEntries ?? []).map((entry) => [entry.configName, entry.configValue]),
    );
    expect(entries).toEqual({ 'auto.create.topics.enable': 'false', 'num.partitions': '6' });
  });

  it('creates a topic and round-trips a keyed message', async () => {
    const topic = `mlfp-it-roundtrip-${runId}`;
    topics.push(topic);
    await ensureTopics(admin, [{ topic, numPartitions: 6 }]);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(6);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId: `mlfp-it-roundtrip-${runId}`, maxWaitTimeInMs: 100 });
    await Promise.all([producer.connect(), consumer.connect()]);
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: 'AAPL', value: '{"symbol":"AAPL","ts":1709562600123,"price":171.32,"size":100}' }],
      });
      const [message] = await consume(consumer, topic, 1);
      expect(message?.key?.toString()).toBe('AAPL');
      expect(JSON.parse(message?.value?.toString() ?? 'null')).toEqual({
        symbol: 'AAPL',
        ts: 1709562600123,
        price: 171.32,
        size: 100,
      });
    } finally {
      await Promise.all([producer.disconnect(), consumer.disconnect()]);
    }
  });

  it('hides aborted transactions from a read_committed consumer', async () => {
    const topic = `mlfp-it-transactions-${runId}`;
    topics.push(topic);
    await ensureTopics(admin, [{ topic, numPartitions: 1 }]);
    const producer = kafka.producer({
      transactionalId: `mlfp-it-${runId}`,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const consumer = kafka.consumer({
      groupId: `mlfp-it-transactions-${runId}`,
      maxWaitTimeInMs: 100,
      readUncommitted: false,
    });
    await Promise.all([producer.connect(), consumer.connect()]);
    try {
      for (const [value, commit] of [
        ['committed-1', true],
        ['aborted', false],
        ['committed-2', true],
      ] as const) {
        const transaction = await producer.transaction();
        await transaction.send({ topic, messages: [{ key: 'k', value }] });
        if (commit) await transaction.commit();
        else await transaction.abort();
      }
      const messages = await consume(consumer, topic, 2);
      expect(messages.map((message) => message.value?.toString())).toEqual(['committed-1', 'committed-2']);
    } finally {
      await Promise.all([producer.disconnect(), consumer.disconnect()]);
    }
  });
});

describe('schema registry', () => {
  it('registers, evolves and decodes an Avro schema through the Confluent-compatible API', async () => {
    const registry = new SchemaRegistry({ host: services.registryUrl });
    const subject = `mlfp-it-tick-${runId}-value`;
    const version1 = {
      type: 'record',
      name: 'Tick',
      namespace: 'mlfp.test',
      fields: [
        { name: 'symbol', type: 'string' },
        { name: 'ts', type: 'long' },
        { name: 'price', type: 'double' },
      ],
    };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(version1) },
      { subject },
    );
    const tick = { symbol: 'MSFT', ts: 1709562600123, price: 411.5 };
    const encoded = await registry.encode(id, tick);
    // Confluent wire format: magic byte 0, then the 4-byte schema id, then the Avro body.
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    expect(await registry.decode(encoded)).toEqual(tick);

    const version2 = {
      ...version1,
      fields: [...version1.fields, { name: 'size', type: 'double', default: 0 }],
    };
    const evolved = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(version2) },
      { subject },
    );
    expect(evolved.id).not.toBe(id);
    expect(await registry.getLatestSchemaId(subject)).toBe(evolved.id);
    expect(await registry.decode(await registry.encode(evolved.id, { ...tick, size: 7 }))).toEqual({
      ...tick,
      size: 7,
    });
  });
});

describe('postgresql', () => {
  it('answers select 1 on the test database', async () => {
    const client = new pg.Client({ connectionString: services.postgresUrl });
    await client.connect();
    try {
      const result = await client.query<{ one: number; database: string }>(
        'select 1 as one, current_database() as database',
      );
      expect(result.rows).toEqual([{ one: 1, database: 'test' }]);
    } finally {
      await client.end();
    }
  });
});

describe('redis', () => {
  it('answers ping and keeps a value with a TTL', async () => {
    const redis = new Redis(services.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      expect(await redis.ping()).toBe('PONG');
      const key = `mlfp-it:${runId}`;
      await redis.set(key, 'value', 'EX', 60);
      expect(await redis.get(key)).toBe('value');
      expect(await redis.ttl(key)).toBeGreaterThan(0);
      await redis.del(key);
    } finally {
      redis.disconnect();
    }
  });
});

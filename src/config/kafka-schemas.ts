// Config sections for Kafka: the input cluster (brokers, topics, security, fetch sizes) and the Kafka outputs
// (topics per output, batching, retry) (zod schemas; their types are exported from schema.ts).

import { z } from 'zod';
import { retrySchema } from './sink-schemas.js';

const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name (A-Z a-z 0-9 . _ -, at most 249)');
const timeframeTopic = z
  .string()
  .regex(
    /^[A-Za-z0-9._-]*\{timeframe\}[A-Za-z0-9._-]*$/,
    'expected a topic name with one {timeframe} placeholder',
  );

export const kafkaOutputSchema = z.strictObject({
  /** produce outputs to Kafka when the engine has a Kafka cluster configured */
  enabled: z.boolean().default(true),
  topics: z
    .strictObject({
      predictions: topicName.default('ml.predictions'),
      alerts: topicName.default('ml.alerts'),
      deadLetters: topicName.default('market.ticks.dlq'),
      /** realised outcomes of predictions (labels), keyed by symbol */
      labels: topicName.default('ml.labels'),
      /** rolling model performance, keyed by model */
      performance: topicName.default('ml.performance'),
      bars: timeframeTopic.default('market.bars.{timeframe}'),
      features: timeframeTopic.default('features.{timeframe}'),
    })
    .prefault({}),
  /** also publish bars / feature vectors (one topic per timeframe) */
  bars: z.boolean().default(false),
  features: z.boolean().default(false),
  /** create the output topics that do not exist (never alters or deletes existing ones) */
  createTopics: z.boolean().default(true),
  partitions: z.number().int().min(1).max(10_000).default(6),
  replicationFactor: z.number().int().min(1).max(16).default(1),
  /** retention.ms of topics the engine creates (absent = the broker's default; -1 = forever) */
  retentionMs: z.number().int().min(-1).optional(),
  maxRecordsPerRequest: z.number().int().min(1).max(100_000).default(1_000),
  maxBytesPerRequest: z
    .number()
    .int()
    .min(1_024)
    .max(16 * 1024 * 1024)
    .default(128 * 1024),
  /** dead-letter originals are kept up to this many bytes, so a DLQ record stays under the 1 MB message limit */
  maxOriginalBytes: z
    .number()
    .int()
    .min(0)
    .max(512 * 1024)
    .default(64 * 1024),
  compression: z.enum(['none', 'gzip']).default('none'),
  retry: retrySchema.prefault({}),
  closeTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
});

export const outputsSchema = z.strictObject({
  kafka: kafkaOutputSchema.prefault({}),
});

export const kafkaTopicsSchema = z.strictObject({
  ticks: topicName.default('market.ticks'),
  corporateActions: topicName.default('corporate.actions'),
});

/** PEM text, or a path the loader reads; kept as given here (never logged). */
const pem = z.string().min(1);

export const kafkaSchema = z.strictObject({
  /** host:port of the bootstrap brokers; required when source is 'kafka' */
  brokers: z
    .array(
      z.string().regex(/^(?:[^\s:[\]]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/, 'expected host:port ([ipv6]:port)'),
    )
    .default([]),
  clientId: z.string().min(1).max(255).default('mlfp-engine'),
  groupId: z.string().min(1).max(255).default('mlfp-engine'),
  topics: kafkaTopicsSchema.default(kafkaTopicsSchema.parse({})),
  /** tick message format on the ticks topic */
  format: z.enum(['json', 'avro']).default('json'),
  registry: z
    .strictObject({
      /** Confluent-compatible API base URL */
      url: z.url(),
      auth: z.strictObject({ username: z.string(), password: z.string() }).optional(),
    })
    .optional(),
  ssl: z
    .union([
      z.boolean(),
      z.strictObject({
        ca: pem.optional(),
        cert: pem.optional(),
        key: pem.optional(),
        rejectUnauthorized: z.boolean().optional(),
      }),
    ])
    .optional(),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      password: z.string().min(1),
    })
    .optional(),
  /** larger tick messages are dead letters `too_large` without being decoded */
  maxMessageBytes: z.number().int().min(64).max(100_000_000).default(65_536),
  /** kafkajs consumer maxBytes (one fetch response) */
  fetchMaxBytes: z.number().int().min(1024).max(1_000_000_000).default(10_485_760),
  /**
   * kafkajs consumer maxBytesPerPartition. Small fetches measured fastest here: kafkajs decodes a whole fetch
   * response before handing out any batch, so 128 KiB per partition keeps partitions interleaved and the
   * pipeline busy (560k ticks: 1 MiB ≈ 125k ticks/s, 128 KiB ≈ 140k, bars+features to Kafka and PostgreSQL)
   */
  fetchMaxBytesPerPartition: z.number().int().min(1024).max(1_000_000_000).default(131_072),
  sessionTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
  heartbeatIntervalMs: z.number().int().min(100).max(600_000).default(3_000),
  /** longest a fetch waits for data on the broker */
  maxWaitTimeInMs: z.number().int().min(1).max(60_000).default(500),
  /** corporate actions kept in memory (oldest ex-dates dropped first) */
  maxCorporateActions: z.number().int().min(1).max(10_000_000).default(100_000),
  /** connection attempts before a start fails (kafkajs retry.retries) */
  connectRetries: z.number().int().min(0).max(100).default(5),
});

// The engine's one configuration: a zod schema gives the type, the defaults (which run embedded, with no
// external service) and the validation. Read once at start (src/config/load.ts) and passed down.

import { z } from 'zod';
import { DEFAULT_SYMBOL_PATTERN } from '../domain/validate-tick.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24h)');

const timezone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'unknown IANA time zone');

export const sessionSchema = z
  .strictObject({
    timezone,
    open: hhmm,
    close: hhmm,
  })
  .refine((s) => s.open < s.close, { message: 'session open must be before close', path: ['close'] });

export const syntheticSchema = z.strictObject({
  /** symbols to simulate; each gets its own price scale and regime path */
  symbols: z
    .array(z.string().regex(DEFAULT_SYMBOL_PATTERN))
    .min(1)
    .max(100_000)
    .default(['AAPL', 'MSFT', 'NVDA', 'AMZN', 'TSLA', 'JPM', 'XOM', 'BTC-USD']),
  seed: z.number().int().min(0).max(0xffffffff).default(42),
  /** simulated start of trading (event time), ISO-8601 */
  start: z.string().default('2024-01-02T00:00:00Z'),
  /** 0 = as fast as the engine takes them (event time runs ahead of wall time); else paced */
  ticksPerSecond: z.number().min(0).max(50_000_000).default(0),
  /** mean simulated milliseconds between two ticks of one symbol */
  meanTickIntervalMs: z.number().positive().max(3_600_000).default(250),
  /** stop after this many ticks (0 = run until stopped) */
  maxTicks: z.number().int().min(0).default(0),
  /** share of deliberately malformed ticks, to exercise the dead-letter path */
  badTickRate: z.number().min(0).max(1).default(0.0001),
});

export const barsSchema = z.strictObject({
  allowedLatenessMs: z.number().int().min(0).max(300_000).default(2_000),
  idleTimeoutMs: z.number().int().min(100).max(86_400_000).default(5_000),
  /** daily bars follow this session; absent = UTC days (24/7 markets) */
  session: sessionSchema.optional(),
});

const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name: 1..249 of A-Z a-z 0-9 . _ -');

export const kafkaTopicsSchema = z.strictObject({
  ticks: topicName.default('market.ticks'),
  corporateActions: topicName.default('corporate.actions'),
  dlq: topicName.default('market.ticks.dlq'),
  predictions: topicName.default('ml.predictions'),
  alerts: topicName.default('ml.alerts'),
  /** bars of timeframe tf go to `${barsPrefix}.${tf}` (e.g. market.bars.5m) when a Kafka output wants them */
  barsPrefix: topicName.default('market.bars'),
  featuresPrefix: topicName.default('features'),
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
  /** kafkajs consumer maxBytesPerPartition */
  fetchMaxBytesPerPartition: z.number().int().min(1024).max(1_000_000_000).default(1_048_576),
  sessionTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
  heartbeatIntervalMs: z.number().int().min(100).max(600_000).default(3_000),
  /** longest a fetch waits for data on the broker */
  maxWaitTimeInMs: z.number().int().min(1).max(60_000).default(500),
  /** corporate actions kept in memory (oldest ex-dates dropped first) */
  maxCorporateActions: z.number().int().min(1).max(10_000_000).default(100_000),
  /** connection attempts before a start fails (kafkajs retry.retries) */
  connectRetries: z.number().int().min(0).max(100).default(5),
});

export const snapshotsSchema = z.strictObject({
  /** where per-partition state goes; 'none': commit after each durable flush, restart warms up from bars */
  store: z.enum(['none', 'memory', 'redis', 'postgres']).default('memory'),
  /** a snapshot (and the offset commit that goes with it) per partition at most this often */
  intervalMs: z.number().int().min(100).max(3_600_000).default(5_000),
});

export const deliverySchema = z.strictObject({
  /** outputs go to the sinks at least this often */
  flushIntervalMs: z.number().int().min(1).max(60_000).default(200),
  /** ... or as soon as this many records wait */
  maxBatchRecords: z.number().int().min(1).max(10_000_000).default(20_000),
  /** records not yet durable (waiting + in flight) above which consumption pauses */
  maxPendingRecords: z.number().int().min(1).max(100_000_000).default(200_000),
  /** flushes written concurrently (each sink keeps per-key order) */
  maxFlushesInFlight: z.number().int().min(1).max(64).default(2),
  /** bars fetched per symbol and timeframe to warm features up when a partition has no snapshot */
  warmUpBars: z.number().int().min(0).max(10_000).default(60),
});

export const engineConfigSchema = z
  .strictObject({
    source: z.enum(['synthetic', 'kafka']).default('synthetic'),
    synthetic: syntheticSchema.default(syntheticSchema.parse({})),
    bars: barsSchema.default(barsSchema.parse({})),
    progress: z
      .strictObject({
        /** a progress line every this many ms; 0 = none */
        intervalMs: z.number().int().min(0).default(5_000),
      })
      .default({ intervalMs: 5_000 }),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .default({ level: 'info' }),
    kafka: kafkaSchema.default(kafkaSchema.parse({})),
    snapshots: snapshotsSchema.default(snapshotsSchema.parse({})),
    delivery: deliverySchema.default(deliverySchema.parse({})),
  })
  .superRefine((config, context) => {
    // cross-field rules, each naming the key to fix
    if (config.source === 'kafka' && config.kafka.brokers.length === 0)
      context.addIssue({
        code: 'custom',
        path: ['kafka', 'brokers'],
        message: "source 'kafka' needs at least one broker (host:port)",
      });
    if (config.kafka.format === 'avro' && config.kafka.registry === undefined)
      context.addIssue({
        code: 'custom',
        path: ['kafka', 'registry', 'url'],
        message: "format 'avro' needs a schema registry url",
      });
    if (config.kafka.heartbeatIntervalMs >= config.kafka.sessionTimeoutMs)
      context.addIssue({
        code: 'custom',
        path: ['kafka', 'heartbeatIntervalMs'],
        message: 'must be lower than kafka.sessionTimeoutMs (Kafka advises a third of it)',
      });
    if (config.delivery.maxPendingRecords < config.delivery.maxBatchRecords)
      context.addIssue({
        code: 'custom',
        path: ['delivery', 'maxPendingRecords'],
        message: 'must be at least delivery.maxBatchRecords',
      });
    const topics = Object.values(config.kafka.topics);
    if (new Set(topics).size !== topics.length)
      context.addIssue({
        code: 'custom',
        path: ['kafka', 'topics'],
        message: 'topic names must differ from each other',
      });
  });

export type EngineConfig = z.infer<typeof engineConfigSchema>;
export type SessionConfig = z.infer<typeof sessionSchema>;
export type BarsConfig = z.infer<typeof barsSchema>;
export type SyntheticConfig = z.infer<typeof syntheticSchema>;
export type KafkaConfig = z.infer<typeof kafkaSchema>;
export type SnapshotsConfig = z.infer<typeof snapshotsSchema>;
export type DeliveryConfig = z.infer<typeof deliverySchema>;

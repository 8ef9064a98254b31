// The engine's one configuration: a zod schema gives the type, the defaults (which run embedded, with no
// external service) and the validation. Read once at start (src/config/load.ts) and passed down.

import { z } from 'zod';
import { DEFAULT_SYMBOL_PATTERN } from '../domain/validate-tick.js';
import { apiSchema } from './api-schemas.js';
import { kafkaSchema, outputsSchema, type kafkaOutputSchema } from './kafka-schemas.js';
import { postgresSchema, redisSchema, type retrySchema, type tlsSchema } from './sink-schemas.js';
import { monitoringSchema } from './monitoring-schemas.js';

export { kafkaOutputSchema, kafkaSchema, kafkaTopicsSchema, outputsSchema } from './kafka-schemas.js';
export { postgresSchema, redisSchema, retrySchema, tlsSchema } from './sink-schemas.js';

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
  /** ticks far ahead of their stream are held until the stream confirms their time (src/bars/event-time-guard.ts) */
  futureTime: z
    .strictObject({
      /** a tick more than this ahead of its stream's newest accepted time is held, not applied */
      toleranceMs: z.number().int().min(0).max(86_400_000).default(60_000),
      /** a held tick is applied once this many ticks (itself included) at or after its time − toleranceMs arrived from 2+ symbols (or 4× as many from one); rejected as future_time once as many arrived behind it */
      confirmTicks: z.number().int().min(2).max(1_000).default(3),
      /** most ticks held at once per stream; past it the oldest is rejected as future_time */
      maxHeldTicks: z.number().int().min(1).max(100_000).default(256),
    })
    .prefault({}),
  /** reject ticks more than this ahead of the wall clock as future_time (live Kafka use); absent = off (replays) */
  maxClockSkewMs: z.number().int().min(0).max(31_536_000_000).optional(),
});

/** how strictly input messages are held to the documented contract; each relaxation is logged at start */
export const validationSchema = z.strictObject({
  /** the Kafka key must equal the tick's symbol (null key included): a symbol's state lives in one partition */
  keyMustEqualSymbol: z.boolean().default(true),
  /** accept "170.5" for a number in JSON/Avro ticks (CSV input is text and always accepts it) */
  numbersAsStrings: z.boolean().default(false),
  /** reject JSON objects that name a member twice (RFC 7493); false = the last value wins, as JSON.parse does */
  rejectDuplicateMembers: z.boolean().default(true),
  /** reject a message that starts with a UTF-8 byte-order mark (RFC 8259 §8.1); false = strip it */
  rejectByteOrderMark: z.boolean().default(true),
});

/** per-stream data quality: a reject reason's share of a window of records past its bound degrades /readyz and fires a system alert */
export const dataQualitySchema = z.strictObject({
  /** records per window (tumbling, per stream: a Kafka partition or the embedded feed) */
  windowRecords: z.number().int().min(10).max(10_000_000).default(1_000),
  /** a reason's share of a window at or above which the stream is degraded (0..1) */
  maxShare: z.number().min(0).max(1).default(0.05),
  /** per-reason bounds overriding maxShare, e.g. {"late": 0.01} */
  maxShareByReason: z.record(z.string(), z.number().min(0).max(1)).default({}),
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
    models: z
      .strictObject({
        /** score closed bars with the models of this directory (live and shadow versions, registry.json) */
        enabled: z.boolean().default(true),
        dir: z.string().min(1).default('models'),
        /** feature vectors per micro-batch (and rows per network-model inference) */
        maxBatchSize: z.number().int().min(1).max(65_536).default(256),
        /** the wait budget: a batch is scored at most this long after its first vector arrived */
        maxWaitMs: z.number().min(0).max(60_000).default(1),
        /** overrides each ONNX model's execution provider; falls back to cpu with a warning when unavailable */
        executionProvider: z.enum(['cpu', 'cuda', 'tensorrt']).optional(),
        /** apply `mlfp models …` changes to the directory while running (ms between checks; 0 = never) */
        watchIntervalMs: z.number().int().min(0).default(1_000),
        /** a model that fails to load stops the start instead of being skipped with a warning */
        strict: z.boolean().default(false),
      })
      .default({
        enabled: true,
        dir: 'models',
        maxBatchSize: 256,
        maxWaitMs: 1,
        watchIntervalMs: 1_000,
        strict: false,
      }),
    http: z
      .strictObject({
        /** serve /metrics, /healthz and /readyz */
        enabled: z.boolean().default(true),
        /** loopback by default: bind to 0.0.0.0 only behind a firewall or proxy */
        host: z.string().min(1).default('127.0.0.1'),
        /** 0 = any free port (printed at start) */
        port: z.number().int().min(0).max(65_535).default(9464),
      })
      .default({ enabled: true, host: '127.0.0.1', port: 9464 }),
    api: apiSchema.prefault({}),
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
    validation: validationSchema.prefault({}),
    dataQuality: dataQualitySchema.prefault({}),
    kafka: kafkaSchema.default(kafkaSchema.parse({})),
    snapshots: snapshotsSchema.default(snapshotsSchema.parse({})),
    delivery: deliverySchema.default(deliverySchema.parse({})),
    /** PostgreSQL / TimescaleDB sink (absent = none) */
    postgres: postgresSchema.optional(),
    /** Redis latest-value sink (absent = none) */
    redis: redisSchema.optional(),
    outputs: outputsSchema.prefault({}),
    /** labels, performance, drift, alerts (src/config/monitoring-schemas.ts) */
    monitoring: monitoringSchema.prefault({}),
  })
  .superRefine((config, context) => {
    // cross-field rules, each naming the key to fix
    if (config.api.enabled && config.api.auth.mode === 'none' && !isLoopback(config.api.host))
      context.addIssue({
        code: 'custom',
        path: ['api', 'auth', 'mode'],
        message: `auth mode 'none' is allowed only on a loopback host (127.0.0.1, ::1, localhost), not ${config.api.host}; use mode 'oidc'`,
      });
    if (config.api.softBytes >= config.api.hardBytes)
      context.addIssue({
        code: 'custom',
        path: ['api', 'softBytes'],
        message: 'api.softBytes must be below api.hardBytes',
      });
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
    const out = config.outputs.kafka.topics;
    const topics = [
      ...Object.values(config.kafka.topics),
      out.predictions,
      out.alerts,
      out.deadLetters,
      out.labels,
      out.performance,
      ...['5m', '1h', '1d'].flatMap((tf) => [
        out.bars.replace('{timeframe}', tf),
        out.features.replace('{timeframe}', tf),
      ]),
    ];
    if (new Set(topics).size !== topics.length)
      context.addIssue({
        code: 'custom',
        path: ['kafka', 'topics'],
        message: 'topic names (kafka.topics and outputs.kafka.topics) must differ from each other',
      });
    if (config.snapshots.store === 'redis' && config.redis === undefined)
      context.addIssue({
        code: 'custom',
        path: ['snapshots', 'store'],
        message: "store 'redis' needs the redis section (redis.url)",
      });
    if (config.snapshots.store === 'postgres' && config.postgres === undefined)
      context.addIssue({
        code: 'custom',
        path: ['snapshots', 'store'],
        message: "store 'postgres' needs the postgres section (postgres.url)",
      });
  });

export type EngineConfig = z.infer<typeof engineConfigSchema>;
export type SessionConfig = z.infer<typeof sessionSchema>;
export type BarsConfig = z.infer<typeof barsSchema>;
export type ValidationConfig = z.infer<typeof validationSchema>;
export type DataQualityConfig = z.infer<typeof dataQualitySchema>;
export type SyntheticConfig = z.infer<typeof syntheticSchema>;
export type RetryConfig = z.infer<typeof retrySchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
export type PostgresConfig = z.infer<typeof postgresSchema>;
export type RedisConfig = z.infer<typeof redisSchema>;
export type KafkaOutputConfig = z.infer<typeof kafkaOutputSchema>;
export type KafkaConfig = z.infer<typeof kafkaSchema>;
export type SnapshotsConfig = z.infer<typeof snapshotsSchema>;
export type DeliveryConfig = z.infer<typeof deliverySchema>;

/** 127.0.0.0/8, ::1 and localhost: the hosts `auth: none` may bind to. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/u.test(host);
}
export type MonitoringConfig = z.infer<typeof monitoringSchema>;

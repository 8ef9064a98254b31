// Config sections of the PostgreSQL and Redis sinks, with the TLS and retry settings that sinks share
// (zod schemas; their types are exported from schema.ts).

import { z } from 'zod';

/** capped exponential backoff of a sink while its service is away (src/sinks/retrier.ts) */
export const retrySchema = z
  .strictObject({
    initialDelayMs: z.number().int().min(1).max(60_000).default(200),
    maxDelayMs: z.number().int().min(1).max(600_000).default(10_000),
  })
  .refine((r) => r.initialDelayMs <= r.maxDelayMs, {
    message: 'initialDelayMs must not exceed maxDelayMs',
    path: ['maxDelayMs'],
  });

/** TLS for PostgreSQL and Redis: true = verify with the system CAs; PEM text for a private CA or client certs. */
export const tlsSchema = z.union([
  z.boolean(),
  z.strictObject({
    rejectUnauthorized: z.boolean().default(true),
    /** PEM text of the CA certificate(s) */
    ca: z.string().min(1).optional(),
    /** PEM text of the client certificate */
    cert: z.string().min(1).optional(),
    /** PEM text of the client key */
    key: z.string().min(1).optional(),
    /** TLS SNI / certificate host name, when it differs from the URL's host */
    servername: z.string().min(1).optional(),
  }),
]);

/** a PostgreSQL interval literal the engine writes into DDL: "<n> <unit>" only (no SQL can ride along) */
const sqlInterval = z
  .string()
  .regex(
    /^[1-9]\d{0,5} (second|minute|hour|day|week|month|year)s?$/,
    'expected "<n> <unit>" with unit second|minute|hour|day|week|month|year',
  );

export const postgresSchema = z.strictObject({
  /** postgres://user:password@host:port/database (the password is never logged) */
  url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'expected a postgres:// URL'),
  ssl: tlsSchema.optional(),
  /** schema holding the engine's tables (created when missing) */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
    .default('mlfp'),
  poolSize: z.number().int().min(1).max(100).default(4),
  statementTimeoutMs: z.number().int().min(0).max(3_600_000).default(60_000),
  connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** how a batch is merged: binary COPY into a staging table (fastest), text COPY, or arrays through UNNEST */
  writeMethod: z.enum(['copy', 'copy-text', 'unnest']).default('copy'),
  /** which outputs go to PostgreSQL */
  tables: z
    .strictObject({
      bars: z.boolean().default(true),
      features: z.boolean().default(true),
      predictions: z.boolean().default(true),
      alerts: z.boolean().default(true),
      deadLetters: z.boolean().default(true),
      /** realised outcomes of predictions (table labels) */
      labels: z.boolean().default(true),
      /** rolling model performance (table model_performance) */
      performance: z.boolean().default(true),
    })
    .prefault({}),
  /** auto = TimescaleDB hypertables when the extension can be used, else native monthly range partitions */
  partitioning: z.enum(['auto', 'timescaledb', 'native']).default('auto'),
  timescale: z
    .strictObject({
      chunkInterval: sqlInterval.default('7 days'),
      /** compress chunks older than this (null = no compression policy) */
      compressAfter: sqlInterval.nullable().default('30 days'),
      /** drop chunks older than this (absent = keep everything) */
      retention: sqlInterval.optional(),
      /** a continuous aggregate bars_daily (daily OHLCV from the 5m bars) */
      dailyAggregate: z.boolean().default(true),
    })
    .prefault({}),
  /** dead-letter originals are kept up to this many bytes (the rest is counted, not stored) */
  maxOriginalBytes: z
    .number()
    .int()
    .min(0)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  retry: retrySchema.prefault({}),
  /** close() waits this long for writes in flight */
  closeTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
});

export const redisSchema = z.strictObject({
  /** redis://[:password@]host:port[/db] or rediss:// (TLS); the password is never logged */
  url: z.string().regex(/^rediss?:\/\/\S*$/, 'expected a redis:// or rediss:// URL'),
  keyPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 of A-Z a-z 0-9 _ . -')
    .default('mlfp'),
  /** TTL of the latest-value hashes (0 = no expiry) */
  ttlSeconds: z
    .number()
    .int()
    .min(0)
    .max(10 * 365 * 86_400)
    .default(7 * 86_400),
  tls: tlsSchema.optional(),
  connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** a command not answered in this time fails (and is retried with its batch) */
  commandTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** commands per pipeline round trip */
  maxPipelineCommands: z.number().int().min(1).max(100_000).default(1_000),
  /** which latest values go to Redis */
  latest: z
    .strictObject({
      bars: z.boolean().default(true),
      features: z.boolean().default(true),
      predictions: z.boolean().default(true),
    })
    .prefault({}),
  retry: retrySchema.prefault({}),
  closeTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
});

// Engine config files for the end-to-end runs: the real sinks with per-test names (output topics, a
// PostgreSQL schema, a Redis key prefix), snapshots in Redis or PostgreSQL, a 1 h idle timeout (replays are
// deterministic), an HTTP port picked by the OS, and short Kafka timings for a shared test broker.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TIMEFRAMES, type Timeframe } from '../../../src/domain/types.js';

/** A name no other test or run uses: lower case, so it is also a valid SQL identifier and Redis prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomUUID().slice(0, 8)}`;
}

export interface OutputTopics {
  bars: Record<Timeframe, string>;
  features: Record<Timeframe, string>;
  predictions: string;
  alerts: string;
  deadLetters: string;
  all: string[];
}

export function outputTopics(prefix: string): OutputTopics {
  const per = (kind: string): Record<Timeframe, string> =>
    Object.fromEntries(TIMEFRAMES.map((tf) => [tf, `${prefix}.${kind}.${tf}`])) as Record<Timeframe, string>;
  const bars = per('bars');
  const features = per('features');
  const predictions = `${prefix}.predictions`;
  const alerts = `${prefix}.alerts`;
  const deadLetters = `${prefix}.dlq`;
  return {
    bars,
    features,
    predictions,
    alerts,
    deadLetters,
    all: [...Object.values(bars), ...Object.values(features), predictions, alerts, deadLetters],
  };
}

export interface E2eConfigOptions {
  brokers: string[];
  groupId: string;
  ticksTopic: string;
  actionsTopic: string;
  /** Kafka outputs (bars and features too) under this prefix; undefined = no Kafka sink */
  kafkaOutputs?: string;
  postgres?: { url: string; schema: string };
  redis?: { url: string; keyPrefix: string };
  snapshots: 'redis' | 'postgres' | 'memory' | 'none';
  snapshotIntervalMs?: number;
  avroRegistryUrl?: string;
  models?: boolean;
  maxMessageBytes?: number;
  /** kafka.fetchMaxBytesPerPartition: small fetches interleave the partitions (each batch is one partition's) */
  fetchMaxBytesPerPartition?: number;
  delivery?: Record<string, number>;
  /** shorter retry backoff for the outage tests */
  retryMaxDelayMs?: number;
}

export function e2eConfig(options: E2eConfigOptions): Record<string, unknown> {
  const retry =
    options.retryMaxDelayMs === undefined
      ? undefined
      : { initialDelayMs: 100, maxDelayMs: options.retryMaxDelayMs };
  const config: Record<string, unknown> = {
    source: 'kafka',
    bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 3_600_000 },
    kafka: {
      brokers: options.brokers,
      clientId: `mlfp-e2e-${options.groupId}`,
      groupId: options.groupId,
      topics: { ticks: options.ticksTopic, corporateActions: options.actionsTopic },
      format: options.avroRegistryUrl === undefined ? 'json' : 'avro',
      ...(options.avroRegistryUrl === undefined ? {} : { registry: { url: options.avroRegistryUrl } }),
      maxWaitTimeInMs: 100,
      // the broker's minimum: a SIGKILLed member leaves the group as soon as Kafka allows
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
      ...(options.fetchMaxBytesPerPartition === undefined
        ? {}
        : { fetchMaxBytesPerPartition: options.fetchMaxBytesPerPartition }),
    },
    snapshots: { store: options.snapshots, intervalMs: options.snapshotIntervalMs ?? 1_000 },
    delivery: { flushIntervalMs: 200, ...options.delivery },
    models: { enabled: options.models === true, watchIntervalMs: 0 },
    http: { port: 0 },
    progress: { intervalMs: 2_000 },
    log: { level: 'info' },
  };
  if (options.kafkaOutputs === undefined) config.outputs = { kafka: { enabled: false } };
  else {
    const topics = outputTopics(options.kafkaOutputs);
    config.outputs = {
      kafka: {
        enabled: true,
        topics: {
          predictions: topics.predictions,
          alerts: topics.alerts,
          deadLetters: topics.deadLetters,
          bars: `${options.kafkaOutputs}.bars.{timeframe}`,
          features: `${options.kafkaOutputs}.features.{timeframe}`,
        },
        bars: true,
        features: true,
        partitions: 6,
        ...(retry === undefined ? {} : { retry }),
      },
    };
  }
  if (options.postgres !== undefined)
    config.postgres = {
      url: options.postgres.url,
      schema: options.postgres.schema,
      connectTimeoutMs: 2_000,
      ...(retry === undefined ? {} : { retry }),
    };
  if (options.redis !== undefined)
    config.redis = {
      url: options.redis.url,
      keyPrefix: options.redis.keyPrefix,
      ttlSeconds: 3_600,
      connectTimeoutMs: 2_000,
      commandTimeoutMs: 5_000,
      ...(retry === undefined ? {} : { retry }),
    };
  return config;
}

export async function writeConfig(
  dir: string,
  name: string,
  config: Record<string, unknown>,
): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** The addresses groupConfig needs (the `services` the integration setup provides). */
export interface GroupServices {
  kafkaBrokers: string[];
  postgresUrl: string;
  redisUrl: string;
}

/** e2eConfig for one consumer group whose Kafka outputs, PostgreSQL schema and Redis prefix are named after it. */
export function groupConfig(
  services: GroupServices,
  names: { group: string; ticksTopic: string; actionsTopic: string },
  options: Omit<E2eConfigOptions, 'brokers' | 'groupId' | 'ticksTopic' | 'actionsTopic'>,
): Record<string, unknown> {
  return e2eConfig({
    brokers: services.kafkaBrokers,
    groupId: names.group,
    ticksTopic: names.ticksTopic,
    actionsTopic: names.actionsTopic,
    kafkaOutputs: names.group,
    postgres: { url: services.postgresUrl, schema: names.group },
    redis: { url: services.redisUrl, keyPrefix: names.group },
    ...options,
  });
}

// Waiting for an end-to-end run to finish and checking everything it wrote: PostgreSQL, the Kafka output
// topics and Redis against the CLI reference, the dead letters against what was sent, and no duplicate keys.
import { expect } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import { TIMEFRAMES } from '../../../src/domain/types.js';
import type { EngineProcess } from '../../support/engine-process.js';
import { countByReason, type MalformedMessage } from './dataset.js';
import type { OutputTopics } from './engine-config.js';
import {
  compareBars,
  compareFeatures,
  compareRedis,
  deadLettersFromTopic,
  groupProgress,
  latestBars,
  latestFeatures,
  letterFingerprints,
  readPostgres,
  readRedisLatest,
  readTopics,
  type Comparison,
  type DeadLetterRecord,
  type OutputBar,
  type OutputFeatures,
  type PostgresOutputs,
} from './outputs.js';
import type { Reference } from './reference.js';

const EQUAL = { missing: 0, unexpected: 0, different: 0, examples: [] };

export function expectEqual(comparison: Comparison, what: string): void {
  expect({ ...comparison, compared: undefined }, what).toEqual({ ...EQUAL, compared: undefined });
  expect(comparison.compared, `${what}: compared rows`).toBeGreaterThan(0);
}

/**
 * Polls until the group has committed every partition of `topic` to its end (commits follow only durable
 * outputs and saved snapshots, so every output is then in every sink). Fails at once when an engine that
 * should be running exited, naming it with its last output lines.
 */
export async function waitForGroupDone(
  kafka: Kafka,
  groupId: string,
  topic: string,
  options: { timeoutMs: number; running: () => readonly EngineProcess[]; onPoll?: () => Promise<void> },
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const startedAt = Date.now();
  try {
    for (;;) {
      for (const engine of options.running())
        if (!engine.isRunning)
          throw new Error(`${engine.name} exited (${JSON.stringify(engine.exitStatus)})\n${engine.tail()}`);
      const progress = await groupProgress(admin, groupId, topic);
      if (progress.done) return Date.now() - startedAt;
      if (Date.now() - startedAt > options.timeoutMs)
        throw new Error(
          `group ${groupId}: ${progress.committed} of ${progress.total} committed after ${options.timeoutMs} ms\n` +
            options
              .running()
              .map((engine) => engine.tail(15))
              .join('\n'),
        );
      await options.onPoll?.();
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

export interface VerifyOptions {
  kafka: Kafka;
  redis: Redis;
  postgresUrl: string;
  schema: string;
  redisPrefix: string;
  /** the Kafka output topics; undefined = the run had no Kafka sink (dead letters are checked in PostgreSQL) */
  topics: OutputTopics | undefined;
  ticksTopic: string;
  reference: Reference;
  symbols: readonly string[];
  /** symbols whose bars never close: no Redis key may exist for them */
  sentinelSymbols: readonly string[];
  malformed: readonly MalformedMessage[];
  maxOriginalBytes: number;
  /** valid ticks sent: the 5m bars' trades must add up to it */
  validTicks: number;
}

export interface VerifySummary {
  postgres: PostgresOutputs;
  kafkaRecords: number;
  kafkaDuplicates: number;
  dlqDuplicates: number;
  line: string;
}

/** Checks PostgreSQL, Kafka and Redis against the reference and the DLQ against what was sent. */
export async function verifyOutputs(options: VerifyOptions): Promise<VerifySummary> {
  const { reference, topics } = options;
  const postgres = await readPostgres(options.postgresUrl, options.schema, options.ticksTopic);
  expectEqual(compareBars(postgres.bars, reference), 'postgres bars');
  expectEqual(compareFeatures(postgres.features, reference), 'postgres features');
  expect(postgres.duplicateKeys, 'postgres keys stored twice').toEqual({
    bars: 0,
    features: 0,
    predictions: 0,
  });
  let trades = 0;
  for (const bar of postgres.bars.values()) if (bar.timeframe === '5m') trades += bar.trades;
  expect(trades, 'ticks counted in the 5m bars').toBe(options.validTicks);

  let kafkaRecords = 0;
  let kafkaDuplicates = 0;
  let dlq: { letters: DeadLetterRecord[]; duplicates: number } | undefined;
  if (topics !== undefined) {
    const records = await readTopics(options.kafka, [
      ...TIMEFRAMES.map((tf) => topics.bars[tf]),
      ...TIMEFRAMES.map((tf) => topics.features[tf]),
      topics.deadLetters,
    ]);
    const kafkaBars = new Map<string, OutputBar>();
    const kafkaFeatures = new Map<string, OutputFeatures>();
    for (const tf of TIMEFRAMES) {
      const bars = latestBars(records.get(topics.bars[tf])!);
      const features = latestFeatures(records.get(topics.features[tf])!);
      kafkaRecords += records.get(topics.bars[tf])!.length + records.get(topics.features[tf])!.length;
      kafkaDuplicates += bars.duplicates + features.duplicates;
      for (const [key, row] of bars.rows) {
        expect(row.timeframe, `bar ${key} on the ${tf} topic`).toBe(tf);
        kafkaBars.set(key, row);
      }
      for (const [key, row] of features.rows) {
        expect(row.timeframe, `features ${key} on the ${tf} topic`).toBe(tf);
        kafkaFeatures.set(key, row);
      }
    }
    expectEqual(compareBars(kafkaBars, reference), 'kafka bars (latest per key)');
    expectEqual(compareFeatures(kafkaFeatures, reference), 'kafka features (latest per key)');
    dlq = deadLettersFromTopic(records.get(topics.deadLetters)!, options.ticksTopic);
  }

  const latest = await readRedisLatest(options.redis, options.redisPrefix, [
    ...options.symbols,
    ...options.sentinelSymbols,
  ]);
  expectEqual(compareRedis(latest, reference), 'redis latest bar and features per symbol');

  const expectedLetters = countByReason(options.malformed);
  const expectedPrints = letterFingerprints(
    options.malformed.map((message) => ({ reason: message.reason, original: message.value })),
    options.maxOriginalBytes,
  );
  if (dlq !== undefined) {
    expect(countByReason(dlq.letters), 'kafka DLQ records per reason').toEqual(expectedLetters);
    expect(letterFingerprints(dlq.letters), 'kafka DLQ originals').toEqual(expectedPrints);
    for (const letter of dlq.letters)
      if (letter.originalBytes !== null && letter.originalBytes > options.maxOriginalBytes)
        expect(letter.truncated, 'a cut original is marked truncated').toBe(true);
  }
  expect(countByReason(postgres.deadLetters), 'postgres dead letters per reason').toEqual(expectedLetters);
  expect(letterFingerprints(postgres.deadLetters), 'postgres dead-letter originals').toEqual(expectedPrints);

  const counts = TIMEFRAMES.map((tf) => `${tf} ${reference.counts[tf]}`).join(', ');
  return {
    postgres,
    kafkaRecords,
    kafkaDuplicates,
    dlqDuplicates: dlq?.duplicates ?? 0,
    line:
      topics === undefined
        ? `bars+features equal the CLI in PostgreSQL and Redis (${counts} rows per table); ` +
          `${postgres.deadLetters.length} dead letters`
        : `bars+features equal the CLI in PostgreSQL, Kafka and Redis (${counts} rows per table); ` +
          `${kafkaRecords} bar/feature records in Kafka (${kafkaDuplicates} replayed duplicates), ` +
          `${dlq!.letters.length} dead letters (${dlq!.duplicates} replayed duplicates in the DLQ topic)`,
  };
}

/**
 * verifyOutputs for one consumer group's run of a data set: its PostgreSQL schema and Redis prefix are named
 * after the group (groupConfig), and every valid tick must be in the 5m bars.
 */
export function verifyGroupRun(
  run: Omit<VerifyOptions, 'schema' | 'redisPrefix' | 'symbols' | 'sentinelSymbols' | 'validTicks'> & {
    group: string;
    data: { symbols: readonly string[]; ticks: readonly unknown[] };
    sentinel: { symbols: readonly string[] };
  },
): Promise<VerifySummary> {
  const { group, data, sentinel, ...options } = run;
  return verifyOutputs({
    ...options,
    schema: group,
    redisPrefix: group,
    symbols: data.symbols,
    sentinelSymbols: sentinel.symbols,
    validTicks: data.ticks.length,
  });
}

// Reads what the engine wrote to the real services — PostgreSQL tables, Kafka output topics (latest record
// per key), Redis latest-value hashes — into rows shaped like the CLI reference, and compares them field by
// field with `===` (null ↔ empty cell for features).
import { createHash, randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { TIMEFRAME_MS } from '../../../src/domain/time.js';
import { FEATURE_COLUMNS, TIMEFRAMES, type Timeframe } from '../../../src/domain/types.js';
import { rowKey, type BarRow, type FeatureRow, type Reference } from './reference.js';

export interface OutputBar extends BarRow {
  end: number;
  revision: number;
}

export interface OutputFeatures extends FeatureRow {
  revision: number;
}

export interface OutputPrediction {
  symbol: string;
  timeframe: string;
  ts: number;
  model: string;
  version: string;
  output: Record<string, number | string>;
}

export interface DeadLetterRecord {
  reason: string;
  partition: number;
  offset: string;
  /** the original bytes kept (at most maxOriginalBytes), null for a tombstone */
  original: Buffer | null;
  originalBytes: number | null;
  truncated: boolean;
}

/** Differences between two keyed tables; all zero and no examples when they are equal. */
export interface Comparison {
  compared: number;
  missing: number;
  unexpected: number;
  different: number;
  examples: string[];
}

const MAX_EXAMPLES = 5;

function compareMaps<A, E>(
  actual: ReadonlyMap<string, A>,
  expected: ReadonlyMap<string, E>,
  difference: (a: A, e: E) => string | undefined,
): Comparison {
  const result: Comparison = {
    compared: expected.size,
    missing: 0,
    unexpected: 0,
    different: 0,
    examples: [],
  };
  const note = (text: string): void => {
    if (result.examples.length < MAX_EXAMPLES) result.examples.push(text);
  };
  for (const [key, want] of expected) {
    const got = actual.get(key);
    if (got === undefined) {
      result.missing++;
      note(`missing ${key}`);
      continue;
    }
    const why = difference(got, want);
    if (why !== undefined) {
      result.different++;
      note(`${key}: ${why}`);
    }
  }
  for (const key of actual.keys())
    if (!expected.has(key)) {
      result.unexpected++;
      note(`unexpected ${key}`);
    }
  return result;
}

const BAR_FIELDS = ['open', 'high', 'low', 'close', 'volume', 'vwap', 'trades'] as const;

function barDifference(got: OutputBar, want: BarRow): string | undefined {
  for (const field of BAR_FIELDS)
    if (got[field] !== want[field]) return `${field} ${got[field]} !== ${want[field]}`;
  if (got.end !== want.ts + TIMEFRAME_MS[want.timeframe]) return `end ${got.end} for ts ${want.ts}`;
  if (got.revision !== 0) return `revision ${got.revision}`;
  return undefined;
}

function featureDifference(got: OutputFeatures, want: FeatureRow): string | undefined {
  if (got.close !== want.close) return `close ${got.close} !== ${want.close}`;
  if (got.revision !== 0) return `revision ${got.revision}`;
  for (let index = 0; index < FEATURE_COLUMNS.length; index++)
    if (got.values[index] !== want.values[index])
      return `${FEATURE_COLUMNS[index]} ${got.values[index]} !== ${want.values[index]}`;
  return undefined;
}

export function compareBars(actual: ReadonlyMap<string, OutputBar>, reference: Reference): Comparison {
  return compareMaps(actual, reference.bars, barDifference);
}

export function compareFeatures(
  actual: ReadonlyMap<string, OutputFeatures>,
  reference: Reference,
): Comparison {
  return compareMaps(actual, reference.features, featureDifference);
}

/** Predictions of one model (`symbol|ts` keys) against `mlfp score`'s output values. */
export function comparePredictions(
  actual: readonly OutputPrediction[],
  model: string,
  expected: ReadonlyMap<string, Record<string, number | string>>,
): Comparison {
  const mine = new Map<string, Record<string, number | string>>();
  for (const prediction of actual)
    if (prediction.model === model) mine.set(`${prediction.symbol}|${prediction.ts}`, prediction.output);
  return compareMaps(mine, expected, (got, want) => {
    for (const [key, value] of Object.entries(want))
      if (got[key] !== value) return `${key} ${String(got[key])} !== ${String(value)}`;
    if (Object.keys(got).length !== Object.keys(want).length) return `keys ${Object.keys(got).join(',')}`;
    return undefined;
  });
}

// ---- PostgreSQL

export interface PostgresOutputs {
  bars: Map<string, OutputBar>;
  features: Map<string, OutputFeatures>;
  predictions: OutputPrediction[];
  deadLetters: DeadLetterRecord[];
  /** keys stored more than once (GROUP BY key HAVING count(*) > 1), per table */
  duplicateKeys: { bars: number; features: number; predictions: number };
}

const msOf = (column: string): string => `(extract(epoch from ${column}) * 1000)::int8::text`;

export async function readPostgres(url: string, schema: string, topic: string): Promise<PostgresOutputs> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const bars = new Map<string, OutputBar>();
    const barRows = await client.query(
      `SELECT symbol, timeframe, ${msOf('ts')} AS ts, ${msOf('"end"')} AS end_ms, open, high, low, close, volume,
              vwap, trades::text AS trades, revision FROM "${schema}".bars`,
    );
    for (const row of barRows.rows) {
      const bar: OutputBar = {
        symbol: row.symbol,
        timeframe: row.timeframe,
        ts: Number(row.ts),
        end: Number(row.end_ms),
        open: row.open,
        high: row.high,
        low: row.low,
        close: row.close,
        volume: row.volume,
        vwap: row.vwap,
        trades: Number(row.trades),
        revision: row.revision,
      };
      bars.set(rowKey(bar), bar);
    }
    const features = new Map<string, OutputFeatures>();
    const featureRows = await client.query(
      `SELECT symbol, timeframe, ${msOf('ts')} AS ts, revision, close, ${FEATURE_COLUMNS.map((c) => `"${c}"`).join(', ')}
         FROM "${schema}".features`,
    );
    for (const row of featureRows.rows) {
      const vector: OutputFeatures = {
        symbol: row.symbol,
        timeframe: row.timeframe,
        ts: Number(row.ts),
        revision: row.revision,
        close: row.close,
        values: FEATURE_COLUMNS.map((column) => row[column] as number | null),
      };
      features.set(rowKey(vector), vector);
    }
    const predictionRows = await client.query(
      `SELECT symbol, timeframe, ${msOf('ts')} AS ts, model, version, output FROM "${schema}".predictions`,
    );
    const predictions: OutputPrediction[] = predictionRows.rows.map((row) => ({
      symbol: row.symbol,
      timeframe: row.timeframe,
      ts: Number(row.ts),
      model: row.model,
      version: row.version,
      output: row.output,
    }));
    const letterRows = await client.query(
      `SELECT reason, partition, "offset"::text AS "offset", original, original_bytes, truncated
         FROM "${schema}".dead_letters WHERE topic = $1`,
      [topic],
    );
    const deadLetters: DeadLetterRecord[] = letterRows.rows.map((row) => ({
      reason: row.reason,
      partition: row.partition,
      offset: row.offset,
      original: row.original,
      originalBytes: row.original_bytes,
      truncated: row.truncated,
    }));
    const duplicates = async (table: string, key: string): Promise<number> =>
      Number(
        (
          await client.query(
            `SELECT count(*)::int AS n FROM (SELECT 1 FROM "${schema}".${table} GROUP BY ${key} HAVING count(*) > 1) d`,
          )
        ).rows[0].n,
      );
    return {
      bars,
      features,
      predictions,
      deadLetters,
      duplicateKeys: {
        bars: await duplicates('bars', 'symbol, timeframe, ts'),
        features: await duplicates('features', 'symbol, timeframe, ts'),
        predictions: await duplicates('predictions', 'symbol, timeframe, ts, model, version'),
      },
    };
  } finally {
    await client.end();
  }
}

/** Row counts of the bars and features tables (0 while the schema does not exist yet). */
export async function postgresRowCounts(
  url: string,
  schema: string,
): Promise<{ bars: number; features: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`"${schema}".features`]);
    if (exists.rows[0].ok !== true) return { bars: 0, features: 0 };
    const result = await client.query(
      `SELECT (SELECT count(*) FROM "${schema}".bars)::int AS bars, (SELECT count(*) FROM "${schema}".features)::int AS features`,
    );
    return { bars: result.rows[0].bars, features: result.rows[0].features };
  } finally {
    await client.end();
  }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

// ---- Kafka

export interface KafkaRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
}

/** Every record of `topics` up to their current end, per topic, in partition-offset order. */
export async function readTopics(
  kafka: Kafka,
  topics: readonly string[],
  timeoutMs = 120_000,
): Promise<Map<string, KafkaRecord[]>> {
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, number>(); // "topic:partition" -> high watermark
  try {
    for (const topic of topics)
      for (const partition of await admin.fetchTopicOffsets(topic))
        if (Number(partition.high) > Number(partition.low))
          remaining.set(`${topic}:${partition.partition}`, Number(partition.high));
  } finally {
    await admin.disconnect();
  }
  const records = new Map<string, KafkaRecord[]>(topics.map((topic) => [topic, []]));
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `mlfp-e2e-reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const list = records.get(batch.topic)!;
        const slot = `${batch.topic}:${batch.partition}`;
        const high = remaining.get(slot);
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (high === undefined || offset >= high) continue;
          list.push({
            partition: batch.partition,
            offset,
            key: message.key === null ? null : message.key.toString('utf8'),
            value: message.value,
          });
          if (offset === high - 1) remaining.delete(slot);
        }
        if (remaining.size === 0) done();
      },
    });
    const timer = new Promise<never>((_, reject) =>
      setTimeout(
        () =>
          reject(new Error(`reading ${topics.join(', ')}: ${remaining.size} partitions not read to the end`)),
        timeoutMs,
      ).unref(),
    );
    await Promise.race([finished, timer]);
  } finally {
    await consumer.disconnect();
  }
  for (const list of records.values()) list.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return records;
}

/** The latest record per payload key (symbol, timeframe, ts) of bar topics, and how many were overwritten. */
export function latestBars(records: readonly KafkaRecord[]): {
  rows: Map<string, OutputBar>;
  duplicates: number;
} {
  const rows = new Map<string, OutputBar>();
  let duplicates = 0;
  for (const record of records) {
    const value = JSON.parse(record.value!.toString('utf8')) as Record<string, unknown>;
    const bar: OutputBar = {
      symbol: value.symbol as string,
      timeframe: value.timeframe as Timeframe,
      ts: Date.parse(value.ts as string),
      end: Date.parse(value.end as string),
      open: value.open as number,
      high: value.high as number,
      low: value.low as number,
      close: value.close as number,
      volume: value.volume as number,
      vwap: value.vwap as number,
      trades: value.trades as number,
      revision: value.revision as number,
    };
    if (record.key !== bar.symbol) throw new Error(`bar record key ${record.key} for ${bar.symbol}`);
    const key = rowKey(bar);
    if (rows.has(key)) duplicates++;
    rows.set(key, bar);
  }
  return { rows, duplicates };
}

export function latestFeatures(records: readonly KafkaRecord[]): {
  rows: Map<string, OutputFeatures>;
  duplicates: number;
} {
  const rows = new Map<string, OutputFeatures>();
  let duplicates = 0;
  for (const record of records) {
    const value = JSON.parse(record.value!.toString('utf8')) as Record<string, unknown>;
    const named = value.features as Record<string, number | null>;
    const vector: OutputFeatures = {
      symbol: value.symbol as string,
      timeframe: value.timeframe as Timeframe,
      ts: Date.parse(value.ts as string),
      revision: value.revision as number,
      close: value.close as number,
      values: FEATURE_COLUMNS.map((column) => named[column] ?? null),
    };
    if (record.key !== vector.symbol)
      throw new Error(`features record key ${record.key} for ${vector.symbol}`);
    const key = rowKey(vector);
    if (rows.has(key)) duplicates++;
    rows.set(key, vector);
  }
  return { rows, duplicates };
}

export function latestPredictions(records: readonly KafkaRecord[]): {
  rows: OutputPrediction[];
  duplicates: number;
} {
  const rows = new Map<string, OutputPrediction>();
  let duplicates = 0;
  for (const record of records) {
    const value = JSON.parse(record.value!.toString('utf8')) as Record<string, unknown>;
    const prediction: OutputPrediction = {
      symbol: value.symbol as string,
      timeframe: value.timeframe as string,
      ts: Date.parse(value.ts as string),
      model: value.model as string,
      version: value.version as string,
      output: value.output as Record<string, number | string>,
    };
    const key = `${rowKey(prediction)}|${prediction.model}|${prediction.version}`;
    if (rows.has(key)) duplicates++;
    rows.set(key, prediction);
  }
  return { rows: [...rows.values()], duplicates };
}

/** DLQ records, one per (partition, offset, reason) of the source message (replays write the same one again). */
export function deadLettersFromTopic(
  records: readonly KafkaRecord[],
  sourceTopic: string,
): { letters: DeadLetterRecord[]; duplicates: number } {
  const letters = new Map<string, DeadLetterRecord>();
  let duplicates = 0;
  for (const record of records) {
    const value = JSON.parse(record.value!.toString('utf8')) as Record<string, unknown>;
    if (value.topic !== sourceTopic) continue;
    const letter: DeadLetterRecord = {
      reason: value.reason as string,
      partition: value.partition as number,
      offset: String(value.offset),
      original: value.original === null ? null : Buffer.from(value.original as string, 'base64'),
      originalBytes: (value.originalBytes as number | undefined) ?? null,
      truncated: value.truncated === true,
    };
    if (record.key !== `${sourceTopic}/${letter.partition}`) throw new Error(`DLQ record key ${record.key}`);
    const key = `${letter.partition}:${letter.offset}:${letter.reason}`;
    if (letters.has(key)) duplicates++;
    letters.set(key, letter);
  }
  return { letters: [...letters.values()], duplicates };
}

/**
 * What must be in the DLQ, as a sorted multiset of "reason|length|sha1(kept bytes)" (the kept bytes are the
 * first `maxOriginalBytes`), to compare with the letters actually stored.
 */
export function letterFingerprints(
  letters: ReadonlyArray<{ reason: string; original: Buffer | null; originalBytes?: number | null }>,
  maxOriginalBytes?: number,
): string[] {
  return letters
    .map((letter) => {
      if (letter.original === null) return `${letter.reason}|null`;
      const kept =
        maxOriginalBytes === undefined ? letter.original : letter.original.subarray(0, maxOriginalBytes);
      const length = letter.originalBytes ?? letter.original.length;
      return `${letter.reason}|${length}|${createHash('sha1').update(kept).digest('hex')}`;
    })
    .sort();
}

/**
 * Committed offsets of `groupId` on `topic` against the topic's end: done when every partition is committed
 * to its end. `byPartition` holds each partition's committed offset (0 when none).
 */
export async function groupProgress(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<{ committed: number; total: number; done: boolean; byPartition: Map<number, number> }> {
  const [ends, offsets] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const byPartition = new Map<number, number>();
  for (const partition of offsets[0]?.partitions ?? [])
    byPartition.set(partition.partition, Math.max(0, Number(partition.offset)));
  let committed = 0;
  let total = 0;
  let done = true;
  for (const end of ends) {
    const high = Number(end.high);
    const at = Math.min(high, byPartition.get(end.partition) ?? 0);
    committed += at;
    total += high;
    if (at < high) done = false;
  }
  return { committed, total, done, byPartition };
}

/** The offset each partition was restored at, from an engine's log (the first restore of each partition). */
export function restoredOffsets(log: string): Map<number, number> {
  const restored = new Map<number, number>();
  for (const match of log.matchAll(/partition (\d+) restored at offset (\d+)/g)) {
    const partition = Number(match[1]);
    if (!restored.has(partition)) restored.set(partition, Number(match[2]));
  }
  return restored;
}

// ---- Redis

export interface RedisLatest {
  bars: Map<string, Record<string, string>>;
  features: Map<string, Record<string, string>>;
  /** keys under `<prefix>:bar:` and `<prefix>:features:` (none may exist beyond the expected ones) */
  keyCount: number;
}

export async function readRedisLatest(
  redis: Redis,
  prefix: string,
  symbols: readonly string[],
): Promise<RedisLatest> {
  const pipeline = redis.pipeline();
  const order: Array<['bars' | 'features', string]> = [];
  for (const timeframe of TIMEFRAMES)
    for (const symbol of symbols) {
      pipeline.hgetall(`${prefix}:bar:${timeframe}:${symbol}`);
      order.push(['bars', `${symbol}|${timeframe}`]);
      pipeline.hgetall(`${prefix}:features:${timeframe}:${symbol}`);
      order.push(['features', `${symbol}|${timeframe}`]);
    }
  const results = (await pipeline.exec()) ?? [];
  const latest: RedisLatest = { bars: new Map(), features: new Map(), keyCount: 0 };
  results.forEach(([error, value], index) => {
    if (error !== null) throw error;
    const [kind, key] = order[index]!;
    const hash = value as Record<string, string>;
    if (Object.keys(hash).length > 0) latest[kind].set(key, hash);
  });
  for (const pattern of [`${prefix}:bar:*`, `${prefix}:features:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      latest.keyCount += keys.length;
      cursor = next;
    } while (cursor !== '0');
  }
  return latest;
}

/** Each symbol's latest bar and features per timeframe in the reference against the Redis hashes. */
export function compareRedis(latest: RedisLatest, reference: Reference): Comparison {
  const newest = new Map<string, { bar: BarRow; features: FeatureRow }>();
  for (const [key, bar] of reference.bars) {
    const slot = `${bar.symbol}|${bar.timeframe}`;
    const current = newest.get(slot);
    if (current === undefined || bar.ts > current.bar.ts)
      newest.set(slot, { bar, features: reference.features.get(key)! });
  }
  const expected = new Map<string, { bar: BarRow; features: FeatureRow }>();
  const actual = new Map<
    string,
    { bar: Record<string, string>; features: Record<string, string> | undefined }
  >();
  for (const [slot, rows] of newest) {
    expected.set(slot, rows);
    const bar = latest.bars.get(slot);
    if (bar !== undefined) actual.set(slot, { bar, features: latest.features.get(slot) });
  }
  for (const slot of latest.bars.keys())
    if (!newest.has(slot)) actual.set(slot, { bar: {}, features: undefined });
  const result = compareMaps(actual, expected, (got, want) => {
    const bar = got.bar;
    if (Number(bar.ts) !== want.bar.ts) return `bar ts ${bar.ts} !== ${want.bar.ts}`;
    if (Number(bar.end) !== want.bar.ts + TIMEFRAME_MS[want.bar.timeframe]) return `bar end ${bar.end}`;
    for (const field of BAR_FIELDS)
      if (Number(bar[field]) !== want.bar[field]) return `bar ${field} ${bar[field]} !== ${want.bar[field]}`;
    if (bar.revision !== '0') return `bar revision ${bar.revision}`;
    const features = got.features;
    if (features === undefined) return 'no features hash';
    if (Number(features.ts) !== want.features.ts) return `features ts ${features.ts} !== ${want.features.ts}`;
    if (Number(features.close) !== want.features.close) return `features close ${features.close}`;
    for (let index = 0; index < FEATURE_COLUMNS.length; index++) {
      const name = FEATURE_COLUMNS[index]!;
      const text = features[name];
      if (text === undefined) return `no field ${name}`;
      const value = text === '' ? null : Number(text);
      if (value !== want.features.values[index]) return `${name} ${text} !== ${want.features.values[index]}`;
    }
    return undefined;
  });
  const expectedKeys = expected.size * 2;
  if (latest.keyCount !== expectedKeys) {
    result.unexpected += Math.max(0, latest.keyCount - expectedKeys);
    result.examples.push(`${latest.keyCount} bar/features keys, expected ${expectedKeys}`);
  }
  return result;
}

export async function deleteRedisKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

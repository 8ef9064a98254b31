// PostgresSink against the real PostgreSQL (plain 15, so the native-partitioning path): migrations under a lock,
// batches read back exactly, idempotent rewrites, revision guard, partitions and the DEFAULT safety net, refused
// records, recentBars, snapshots — for both write methods (COPY staging and UNNEST).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { PostgresConfig } from '../../../src/config/schema.js';
import { FEATURE_COLUMNS } from '../../../src/domain/types.js';
import { MlfpError } from '../../../src/errors.js';
import { PostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { PostgresSnapshotStore } from '../../../src/sinks/postgres/postgres-snapshot-store.js';
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
const admin = new pg.Pool({ connectionString: services.postgresUrl, max: 2 });
const schemas: string[] = [];

function configFor(schema: string, writeMethod: PostgresConfig['writeMethod']): PostgresConfig {
  const config = parseConfig({
    postgres: {
      url: services.postgresUrl,
      schema,
      writeMethod,
      retry: { initialDelayMs: 20, maxDelayMs: 200 },
    },
  }).postgres;
  if (config === undefined) throw new Error('postgres config missing');
  return config;
}

function freshSchema(): string {
  const schema = `mlfp_it_${uniqueSuffix()}`;
  schemas.push(schema);
  return schema;
}

afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

const JAN_2024 = Date.UTC(2024, 0, 31, 23, 0);

describe('postgres migrations', () => {
  it('two instances starting together apply each migration once and agree on native partitioning', async () => {
    const schema = freshSchema();
    const sinks = [new PostgresSink(configFor(schema, 'copy')), new PostgresSink(configFor(schema, 'copy'))];
    try {
      await Promise.all(sinks.map((sink) => sink.start()));
      const history = await admin.query<{ version: number; mode: string }>(
        `SELECT version, mode FROM "${schema}".schema_migrations ORDER BY version`,
      );
      expect(history.rows).toEqual([
        { version: 1, mode: 'native' },
        { version: 2, mode: 'native' },
        { version: 3, mode: 'native' },
        { version: 4, mode: 'native' },
      ]);
      expect(sinks.map((sink) => sink.mode)).toEqual(['native', 'native']);
      const partitioned = await admin.query<{ relname: string }>(
        `SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`,
        [schema],
      );
      expect(partitioned.rows.map((row) => row.relname)).toEqual([
        'alerts',
        'bars',
        'features',
        'labels',
        'model_performance',
        'predictions',
      ]);
      expect(sinks[0]?.health().state).toBe('up');
    } finally {
      await Promise.all(sinks.map((sink) => sink.close()));
    }
  });

  it('refuses partitioning: timescaledb where the extension is missing, naming the key', async () => {
    const config = { ...configFor(freshSchema(), 'copy'), partitioning: 'timescaledb' as const };
    const sink = new PostgresSink(config);
    try {
      await expect(sink.start()).rejects.toMatchObject({
        code: 'config_invalid',
        field: 'postgres.partitioning',
      });
    } finally {
      await sink.close();
    }
  });
});

describe.each(['copy', 'copy-text', 'unnest'] as const)('postgres sink, write method %s', (writeMethod) => {
  let schema: string;
  let sink: PostgresSink;

  beforeAll(async () => {
    schema = freshSchema();
    sink = new PostgresSink(configFor(schema, writeMethod));
    await sink.start();
  });
  afterAll(async () => {
    await sink.close();
  });

  const count = async (table: string): Promise<number> =>
    Number((await admin.query(`SELECT count(*) AS n FROM "${schema}"."${table}"`)).rows[0].n);

  it('writes every output and reads it back exactly (NaN features are NULL)', async () => {
    const ts = times(JAN_2024, 3);
    const bars = ts.flatMap((t) => [makeBar('AAPL', t), makeBar('BTC-USD', t)]);
    const features = ts.map((t, i) => makeFeatures('AAPL', t, 0, 5 - i * 2));
    const letter = makeDeadLetter(41, 'tab\there\nnewline \\ backslash');
    await sink.write(
      batchOf({
        bars,
        features,
        predictions: [makePrediction('AAPL', ts[0] as number)],
        alerts: [makeAlert('lgbm-return@1.0.0', ts[1] as number)],
        deadLetters: [letter],
      }),
    );

    const storedBars = await admin.query(
      `SELECT symbol, timeframe, (extract(epoch FROM ts) * 1000)::float8 AS ts, (extract(epoch FROM "end") * 1000)::float8 AS "end",
              open, high, low, close, volume, vwap, trades::float8 AS trades, revision
         FROM "${schema}".bars ORDER BY ts, symbol`,
    );
    const expected = [...bars].sort((a, b) => a.ts - b.ts || a.symbol.localeCompare(b.symbol));
    expect(storedBars.rows).toEqual(expected);

    const storedFeatures = await admin.query(`SELECT * FROM "${schema}".features ORDER BY ts`);
    expect(storedFeatures.rows).toHaveLength(3);
    storedFeatures.rows.forEach((row: Record<string, unknown>, i) => {
      const vector = features[i];
      FEATURE_COLUMNS.forEach((name, column) => {
        const value = vector?.values[column] as number;
        expect(row[name], `${name} of row ${i}`).toBe(Number.isNaN(value) ? null : value);
      });
    });
    const nanCount = await admin.query(
      `SELECT count(*)::int AS n FROM "${schema}".features WHERE 'NaN'::float8 IN (${FEATURE_COLUMNS.map((c) => `"${c}"`).join(', ')})`,
    );
    expect(nanCount.rows[0].n).toBe(0);

    const prediction = await admin.query(
      `SELECT model, version, kind, output, latency_ms FROM "${schema}".predictions`,
    );
    expect(prediction.rows).toEqual([
      {
        model: 'lgbm-return',
        version: '1.0.0',
        kind: 'classifier',
        output: { label: 'up', p_up: 0.625, p_down: 0.375 },
        latency_ms: 1.5,
      },
    ]);
    const alert = await admin.query(
      `SELECT type, state, severity, subject, value, threshold, message FROM "${schema}".alerts`,
    );
    expect(alert.rows).toEqual([
      {
        type: 'drift',
        state: 'firing',
        severity: 'warning',
        subject: 'lgbm-return@1.0.0',
        value: 0.31,
        threshold: 0.2,
        message: 'psi of lgbm-return@1.0.0 above threshold',
      },
    ]);
    const dead = await admin.query(
      `SELECT letter_key, reason, topic, partition, "offset"::text AS "offset", convert_from(original, 'UTF8') AS original,
              original_bytes, truncated FROM "${schema}".dead_letters`,
    );
    expect(dead.rows).toEqual([
      {
        letter_key: 'kafka:market.ticks:3:41:non_positive_price',
        reason: 'non_positive_price',
        topic: 'market.ticks',
        partition: 3,
        offset: '41',
        original: 'tab\there\nnewline \\ backslash',
        original_bytes: Buffer.byteLength('tab\there\nnewline \\ backslash'),
        truncated: false,
      },
    ]);
  });

  it('rewrites idempotently: the same batch twice leaves one row per key', async () => {
    const ts = times(Date.UTC(2024, 1, 10), 50);
    const batch = batchOf({
      bars: ts.map((t) => makeBar('MSFT', t)),
      features: ts.map((t) => makeFeatures('MSFT', t)),
      predictions: ts.map((t) => makePrediction('MSFT', t)),
      deadLetters: [makeDeadLetter(7), makeDeadLetter(8)],
    });
    const before = await Promise.all(['bars', 'features', 'predictions', 'dead_letters'].map(count));
    await sink.write(batch);
    await sink.write(batch);
    const after = await Promise.all(['bars', 'features', 'predictions', 'dead_letters'].map(count));
    expect(after.map((n, i) => n - (before[i] as number))).toEqual([50, 50, 50, 2]);
    const duplicates = await admin.query(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM "${schema}".bars GROUP BY symbol, timeframe, ts HAVING count(*) > 1) d`,
    );
    expect(duplicates.rows[0].n).toBe(0);
  });

  it('keeps the newest revision: a late older revision is ignored, in one batch or across batches', async () => {
    const t = Date.UTC(2024, 2, 1, 14, 30);
    await sink.write(batchOf({ bars: [makeBar('NVDA', t, 2)], features: [makeFeatures('NVDA', t, 2)] }));
    await sink.write(batchOf({ bars: [makeBar('NVDA', t, 1)], features: [makeFeatures('NVDA', t, 1)] }));
    // in one batch: revision 3 then a stale revision 0 of the same key
    await sink.write(batchOf({ bars: [makeBar('TSLA', t, 3), makeBar('TSLA', t, 0)] }));
    const rows = await admin.query(
      `SELECT symbol, revision, close FROM "${schema}".bars WHERE ts = $1 ORDER BY symbol`,
      [new Date(t).toISOString()],
    );
    expect(rows.rows).toEqual([
      { symbol: 'NVDA', revision: 2, close: makeBar('NVDA', t, 2).close },
      { symbol: 'TSLA', revision: 3, close: makeBar('TSLA', t, 3).close },
    ]);
    const features = await admin.query(`SELECT revision FROM "${schema}".features WHERE symbol = 'NVDA'`);
    expect(features.rows).toEqual([{ revision: 2 }]);
    // a newer revision does replace
    await sink.write(batchOf({ bars: [makeBar('NVDA', t, 4)] }));
    const newer = await admin.query(
      `SELECT revision FROM "${schema}".bars WHERE symbol = 'NVDA' AND ts = $1`,
      [new Date(t).toISOString()],
    );
    expect(newer.rows).toEqual([{ revision: 4 }]);
  });

  it('creates one partition per month touched, across years, and leaves DEFAULT empty', async () => {
    const old = Date.UTC(2015, 5, 30, 23, 55);
    await sink.write(batchOf({ bars: [makeBar('JPM', old), makeBar('JPM', old + 300_000)] }));
    const partitions = await admin.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = '"${schema}".bars'::regclass ORDER BY 1`,
    );
    expect(partitions.rows.map((row) => row.name)).toEqual(
      expect.arrayContaining([
        'bars_default',
        'bars_p2015_06',
        'bars_p2015_07',
        'bars_p2024_01',
        'bars_p2024_02',
      ]),
    );
    expect(await count('bars_default')).toBe(0);
  });

  it('moves rows that fell into DEFAULT into the month partition when it is created', async () => {
    const t = Date.UTC(2019, 8, 9, 13, 0);
    const stray = makeBar('XOM', t + 600_000);
    await admin.query(
      `INSERT INTO "${schema}".bars_default (symbol, timeframe, ts, "end", open, high, low, close, volume, vwap, trades, revision)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        stray.symbol,
        stray.timeframe,
        new Date(stray.ts).toISOString(),
        new Date(stray.end).toISOString(),
        stray.open,
        stray.high,
        stray.low,
        stray.close,
        stray.volume,
        stray.vwap,
        stray.trades,
        stray.revision,
      ],
    );
    await sink.write(batchOf({ bars: [makeBar('XOM', t)] }));
    const rows = await admin.query<{ partition: string; n: number }>(
      `SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM "${schema}".bars
        WHERE symbol = 'XOM' GROUP BY 1`,
    );
    expect(rows.rows).toEqual([{ partition: `${schema}.bars_p2019_09`, n: 2 }]);
  });

  it('refuses a non-finite bar naming the table and record, and writes nothing of that batch', async () => {
    const t = Date.UTC(2024, 3, 2, 10, 0);
    const bad = { ...makeBar('AMZN', t + 300_000), high: Number.NaN };
    const before = await count('bars');
    const error = await sink.write(batchOf({ bars: [makeBar('AMZN', t), bad] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlfpError);
    expect(error).toMatchObject({ code: 'sink_rejected', retriable: false });
    expect((error as MlfpError).message).toMatch(
      /bars: AMZN 5m 2024-04-02T10:05:00.000Z revision 0: high is NaN/,
    );
    expect(await count('bars')).toBe(before);
    // the sink keeps working after a refused batch
    await sink.write(batchOf({ bars: [makeBar('AMZN', t)] }));
    expect(await count('bars')).toBe(before + 1);
    expect(sink.health().state).toBe('up');
  });

  it('refuses a value the column cannot hold as sink_rejected naming the table (and the record where known)', async () => {
    const t = Date.UTC(2024, 3, 3, 10, 0);
    // revision is an integer column: 3e9 overflows it. Binary COPY checks before sending; with text COPY and
    // UNNEST the server refuses (SQLSTATE 22003), and text COPY names the line. A data error, not an outage.
    const before = await count('bars');
    const error = await sink
      .write(batchOf({ bars: [makeBar('CPQ', t), makeBar('CPQ', t + 300_000, 3_000_000_000)] }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'sink_rejected', retriable: false, field: 'bars' });
    const message = (error as MlfpError).message;
    if (writeMethod === 'copy')
      expect(message).toMatch(
        /CPQ 5m 2024-04-03T10:05:00.000Z revision 3000000000: revision is 3000000000, not a 32-bit integer/,
      );
    else expect(message).toMatch(/22003/);
    if (writeMethod === 'copy-text')
      expect(message).toMatch(/at CPQ 5m 2024-04-03T10:05:00.000Z revision 3000000000/);
    expect(await count('bars')).toBe(before);
    expect(sink.health().state).toBe('up');
  });

  it('keeps 64 KiB of a 5 MB dead-letter original and records its full length', async () => {
    const original = new Uint8Array(5 * 1024 * 1024).fill(0x7b);
    await sink.write(batchOf({ deadLetters: [makeDeadLetter(90_001, original)] }));
    const row = await admin.query(
      `SELECT length(original) AS kept, original_bytes, truncated FROM "${schema}".dead_letters WHERE "offset" = 90001`,
    );
    expect(row.rows).toEqual([{ kept: 64 * 1024, original_bytes: 5 * 1024 * 1024, truncated: true }]);
  });

  it('serves recent bars per symbol, oldest first, latest revision, before the given time', async () => {
    const ts = times(Date.UTC(2024, 4, 31, 23, 0), 30); // crosses into June: two partitions
    await sink.write(batchOf({ bars: ts.flatMap((t) => [makeBar('AAA', t), makeBar('BBB', t)]) }));
    await sink.write(batchOf({ bars: [makeBar('AAA', ts[27] as number, 1)] }));
    const recent = await sink.recentBars(['BBB', 'AAA', 'NONE', 'AAA'], '5m', ts[28] as number, 5);
    expect(recent.map((bar) => [bar.symbol, bar.ts, bar.revision])).toEqual([
      ...[23, 24, 25, 26, 27].map((i) => ['BBB', ts[i], 0]),
      ...[23, 24, 25, 26, 27].map((i) => ['AAA', ts[i], i === 27 ? 1 : 0]),
    ]);
    expect(recent[9]).toEqual(makeBar('AAA', ts[27] as number, 1));
    expect(await sink.recentBars(['AAA'], '1h', ts[28] as number, 5)).toEqual([]);
  });
});

describe('postgres snapshot store', () => {
  it('saves forward only, compares offsets as big integers, and round-trips state', async () => {
    const config = configFor(freshSchema(), 'copy');
    const store = new PostgresSnapshotStore(config);
    try {
      await store.start();
      const base = { group: 'g1', topic: 'market.ticks', partition: 2, takenAtMs: Date.UTC(2024, 0, 1) };
      await store.save([{ ...base, offset: '9007199254740993', state: { v: 1, text: 'a"b\\c' } }]);
      // lower by one past 2^53: a Number comparison would call them equal
      await store.save([{ ...base, offset: '9007199254740992', state: { v: 0 } }]);
      expect(await store.load('g1', 'market.ticks', 2)).toEqual({
        ...base,
        offset: '9007199254740993',
        state: { v: 1, text: 'a"b\\c' },
      });
      await store.save([
        { ...base, offset: '9223372036854775807', state: { v: 2 } },
        { ...base, partition: 3, offset: '0', state: [] },
      ]);
      expect((await store.load('g1', 'market.ticks', 2))?.state).toEqual({ v: 2 });
      expect((await store.load('g1', 'market.ticks', 3))?.offset).toBe('0');
      expect(await store.load('g1', 'market.ticks', 4)).toBeUndefined();
      await expect(store.save([{ ...base, offset: '-1', state: {} }])).rejects.toMatchObject({
        code: 'snapshot_invalid',
      });
    } finally {
      await store.close();
    }
  });
});

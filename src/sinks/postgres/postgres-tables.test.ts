// The generated SQL, including the TimescaleDB statements this machine cannot execute (plain PostgreSQL 15
// here): checked against the TimescaleDB ≥ 2.13 API (create_hypertable with by_range, compression settings and
// policies with if_not_exists, continuous aggregates WITH NO DATA inside a transaction).
import { describe, expect, it } from 'vitest';
import { FEATURE_COLUMNS } from '../../domain/types.js';
import { migrations } from './postgres-migrations.js';
import {
  ALERTS_V1,
  TABLES,
  addColumnsSql,
  conflictSql,
  copyIntoStageSql,
  createStageTableSql,
  createTableSql,
  dailyAggregateSql,
  hypertableSql,
  mergeFromArraysSql,
  mergeFromStageSql,
} from './postgres-tables.js';

const timescale = { chunkInterval: '7 days', compressAfter: '30 days', retention: '2 years' };

describe('table DDL', () => {
  it('native: time tables are range-partitioned on ts with a DEFAULT partition, keyed by the idempotency key', () => {
    const [create, fallback] = createTableSql('mlfp', TABLES.bars, 'native');
    expect(create).toContain('CREATE TABLE IF NOT EXISTS "mlfp"."bars" (');
    expect(create).toContain('"end" timestamptz NOT NULL');
    expect(create).toContain('PRIMARY KEY ("symbol", "timeframe", "ts")');
    expect(create).toMatch(/\) PARTITION BY RANGE \("ts"\)$/);
    expect(fallback).toBe(
      'CREATE TABLE IF NOT EXISTS "mlfp"."bars_default" PARTITION OF "mlfp"."bars" DEFAULT',
    );
    const predictions = createTableSql('mlfp', TABLES.predictions, 'native')[0];
    expect(predictions).toContain('PRIMARY KEY ("symbol", "timeframe", "ts", "model", "version")');
    expect(createTableSql('mlfp', TABLES.alerts, 'native')[0]).toContain(
      'PRIMARY KEY ("type", "subject", "ts", "state")',
    );
  });

  it('features: the 16 contract columns as nullable double precision', () => {
    const create = createTableSql('s', TABLES.features, 'native')[0] as string;
    for (const name of FEATURE_COLUMNS) expect(create).toContain(`"${name}" double precision,`);
    expect(create).toContain('"close" double precision NOT NULL');
  });

  it('timescaledb: plain tables made hypertables with compression segmented by symbol, timeframe', () => {
    expect(createTableSql('mlfp', TABLES.bars, 'timescaledb')).toHaveLength(1);
    expect(createTableSql('mlfp', TABLES.bars, 'timescaledb')[0]).not.toContain('PARTITION BY');
    expect(hypertableSql('mlfp', TABLES.bars, timescale)).toEqual([
      `SELECT create_hypertable('"mlfp"."bars"', by_range('ts', INTERVAL '7 days'), if_not_exists => TRUE)`,
      `ALTER TABLE "mlfp"."bars" SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, timeframe', timescaledb.compress_orderby = 'ts DESC')`,
      `SELECT add_compression_policy('"mlfp"."bars"', compress_after => INTERVAL '30 days', if_not_exists => TRUE)`,
      `SELECT add_retention_policy('"mlfp"."bars"', drop_after => INTERVAL '2 years', if_not_exists => TRUE)`,
    ]);
    // alerts: a hypertable without compression; no policy when compression is off or retention unset
    expect(hypertableSql('mlfp', TABLES.alerts, timescale)).toHaveLength(2);
    expect(hypertableSql('mlfp', TABLES.features, { chunkInterval: '1 day', compressAfter: null })).toEqual([
      `SELECT create_hypertable('"mlfp"."features"', by_range('ts', INTERVAL '1 day'), if_not_exists => TRUE)`,
    ]);
  });

  it('daily aggregate: a continuous aggregate WITH NO DATA plus a refresh policy, or a plain view', () => {
    const [view, policy] = dailyAggregateSql('mlfp', 'timescaledb');
    expect(view).toMatch(
      /^CREATE MATERIALIZED VIEW IF NOT EXISTS "mlfp"\."bars_daily" WITH \(timescaledb\.continuous\) AS/,
    );
    expect(view).toContain(`time_bucket(INTERVAL '1 day', "ts") AS "day"`);
    expect(view).toContain('first("open", "ts") AS "open"');
    expect(view).toContain('last("close", "ts") AS "close"');
    expect(view).toContain(`WHERE "timeframe" = '5m'`);
    expect(view).toMatch(/GROUP BY "symbol", time_bucket\(INTERVAL '1 day', "ts"\)\nWITH NO DATA$/);
    expect(policy).toBe(
      `SELECT add_continuous_aggregate_policy('"mlfp"."bars_daily"', start_offset => INTERVAL '3 days', ` +
        `end_offset => INTERVAL '5 minutes', schedule_interval => INTERVAL '15 minutes', if_not_exists => TRUE)`,
    );
    const [plain] = dailyAggregateSql('mlfp', 'native');
    expect(plain).toMatch(/^CREATE OR REPLACE VIEW "mlfp"\."bars_daily" AS/);
    expect(plain).toContain(`date_trunc('day', "ts", 'UTC') AS "day"`);
  });

  it('migrations: stable versions; the extension first in timescaledb mode; the aggregate optional there', () => {
    const native = migrations('mlfp', 'native', { ...timescale, dailyAggregate: true });
    const hyper = migrations('mlfp', 'timescaledb', { ...timescale, dailyAggregate: false });
    expect(native.map((m) => m.version)).toEqual([1, 2, 3, 4]);
    expect(hyper.map((m) => m.version)).toEqual([1, 2, 3, 4]);
    expect(hyper[0]?.statements[0]).toBe('CREATE EXTENSION IF NOT EXISTS timescaledb');
    expect(hyper[0]?.statements.filter((s) => s.startsWith('SELECT create_hypertable'))).toHaveLength(4);
    expect(native[0]?.statements.some((s) => s.includes('timescaledb'))).toBe(false);
    expect(hyper[2]?.statements).toEqual([]);
    expect(native[2]?.statements).toHaveLength(1);
  });
});

describe('merge SQL', () => {
  it('bars and features: an older revision never overwrites a newer one', () => {
    expect(conflictSql(TABLES.bars)).toBe(
      'ON CONFLICT ("symbol", "timeframe", "ts") DO UPDATE SET "end" = excluded."end", "open" = excluded."open", ' +
        '"high" = excluded."high", "low" = excluded."low", "close" = excluded."close", "volume" = excluded."volume", ' +
        '"vwap" = excluded."vwap", "trades" = excluded."trades", "revision" = excluded."revision" ' +
        'WHERE excluded."revision" >= t."revision"',
    );
    expect(conflictSql(TABLES.features)).toMatch(/WHERE excluded\."revision" >= t\."revision"$/);
    expect(conflictSql(TABLES.predictions)).toBe(
      'ON CONFLICT ("symbol", "timeframe", "ts", "model", "version") DO UPDATE SET "kind" = excluded."kind", ' +
        '"output" = excluded."output", "latency_ms" = excluded."latency_ms"',
    );
    expect(conflictSql(TABLES.dead_letters)).toBe('ON CONFLICT ("letter_key") DO NOTHING');
  });

  it('staging: a session TEMP table emptied at commit, filled by COPY, merged by INSERT … SELECT', () => {
    expect(createStageTableSql(TABLES.alerts)).toMatch(
      /^CREATE TEMP TABLE IF NOT EXISTS "mlfp_stage_alerts" \([\s\S]*\) ON COMMIT DELETE ROWS$/,
    );
    expect(copyIntoStageSql(TABLES.alerts, 'text')).toBe(
      'COPY pg_temp."mlfp_stage_alerts" ("type", "state", "severity", "subject", "value", "threshold", "ts", "message", ' +
        '"rule", "fingerprint", "labels", "starts_at", "annotations") FROM STDIN',
    );
    expect(copyIntoStageSql(TABLES.alerts)).toMatch(/FROM STDIN \(FORMAT binary\)$/);
    expect(mergeFromStageSql('s', TABLES.alerts)).toMatch(
      /^INSERT INTO "s"\."alerts" AS t \(.*\)\nSELECT .* FROM pg_temp\."mlfp_stage_alerts"\nON CONFLICT/,
    );
  });

  it('unnest: one typed array parameter per column', () => {
    const sql = mergeFromArraysSql('s', TABLES.bars);
    expect(sql).toContain(
      'unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::double precision[], $6::double precision[], ' +
        '$7::double precision[], $8::double precision[], $9::double precision[], $10::double precision[], $11::bigint[], $12::integer[])',
    );
  });
});

describe('monitoring tables (migration 4)', () => {
  const options = { ...timescale, dailyAggregate: true };

  it('labels: keyed like predictions, revision-guarded, partitioned on ts, indexed by model and label time', () => {
    const [create, fallback, index] = createTableSql('mlfp', TABLES.labels, 'native');
    expect(create).toContain('CREATE TABLE IF NOT EXISTS "mlfp"."labels" (');
    for (const definition of [
      '"horizon_bars" integer NOT NULL',
      '"label_ts" timestamptz NOT NULL',
      '"state" text NOT NULL',
      '"reason" text,',
      '"revision" integer NOT NULL',
      '"realised_return" double precision,',
      '"actual_class" text,',
      '"actual_value" double precision,',
      '"predicted_class" text,',
      '"predicted_value" double precision,',
    ])
      expect(create).toContain(definition);
    expect(create).toContain('PRIMARY KEY ("symbol", "timeframe", "ts", "model", "version")');
    expect(create).toMatch(/\) PARTITION BY RANGE \("ts"\)$/);
    expect(fallback).toBe(
      'CREATE TABLE IF NOT EXISTS "mlfp"."labels_default" PARTITION OF "mlfp"."labels" DEFAULT',
    );
    expect(index).toBe(
      'CREATE INDEX IF NOT EXISTS "labels_model_label_ts" ON "mlfp"."labels" ("model", "version", "label_ts")',
    );
    expect(conflictSql(TABLES.labels)).toMatch(
      /^ON CONFLICT \("symbol", "timeframe", "ts", "model", "version"\) DO UPDATE SET "kind" = excluded\."kind", .*"predicted_value" = excluded\."predicted_value" WHERE excluded\."revision" >= t\."revision"$/,
    );
  });

  it('model_performance: keyed by (model, version, ts), metrics jsonb, updated on conflict', () => {
    const [create, fallback] = createTableSql('mlfp', TABLES.model_performance, 'native');
    expect(create).toContain('"metrics" jsonb NOT NULL');
    expect(create).toContain('"error_drift_statistic" double precision,');
    expect(create).toContain('"error_drift_alarm" boolean NOT NULL');
    expect(create).toContain('PRIMARY KEY ("model", "version", "ts")');
    expect(fallback).toContain('PARTITION OF "mlfp"."model_performance" DEFAULT');
    expect(conflictSql(TABLES.model_performance)).toBe(
      'ON CONFLICT ("model", "version", "ts") DO UPDATE SET "kind" = excluded."kind", "timeframe" = excluded."timeframe", ' +
        '"count" = excluded."count", "metrics" = excluded."metrics", ' +
        '"error_drift_statistic" = excluded."error_drift_statistic", ' +
        '"error_drift_threshold" = excluded."error_drift_threshold", "error_drift_alarm" = excluded."error_drift_alarm"',
    );
  });

  it('migration 1 keeps creating alerts without the lifecycle columns; migration 4 adds them', () => {
    const [first, , , fourth] = migrations('mlfp', 'native', options);
    const alerts = first?.statements.find((s) =>
      s.startsWith('CREATE TABLE IF NOT EXISTS "mlfp"."alerts" ('),
    );
    expect(alerts).toBe(createTableSql('mlfp', ALERTS_V1, 'native')[0]);
    expect(alerts).not.toContain('fingerprint');
    expect(fourth).toMatchObject({ version: 4, name: 'monitoring' });
    expect(fourth?.statements).toEqual([
      ...createTableSql('mlfp', TABLES.labels, 'native'),
      ...createTableSql('mlfp', TABLES.model_performance, 'native'),
      'ALTER TABLE "mlfp"."alerts"\n' +
        '  ADD COLUMN IF NOT EXISTS "rule" text,\n' +
        '  ADD COLUMN IF NOT EXISTS "fingerprint" text,\n' +
        '  ADD COLUMN IF NOT EXISTS "labels" jsonb,\n' +
        '  ADD COLUMN IF NOT EXISTS "starts_at" timestamptz,\n' +
        '  ADD COLUMN IF NOT EXISTS "annotations" jsonb',
    ]);
    expect(fourth?.statements.some((s) => s.includes('timescaledb') || s.includes('hypertable'))).toBe(false);
    expect(addColumnsSql('s', 'bars', [{ name: 'x', type: 'integer', nullable: false }])).toBe(
      'ALTER TABLE "s"."bars"\n  ADD COLUMN IF NOT EXISTS "x" integer NOT NULL',
    );
  });

  it('timescaledb: both monitoring tables become compressed hypertables; no DEFAULT partitions', () => {
    const fourth = migrations('mlfp', 'timescaledb', options)[3]?.statements ?? [];
    expect(fourth.some((s) => s.includes('PARTITION'))).toBe(false);
    expect(fourth.filter((s) => s.startsWith('SELECT create_hypertable'))).toEqual([
      `SELECT create_hypertable('"mlfp"."labels"', by_range('ts', INTERVAL '7 days'), if_not_exists => TRUE)`,
      `SELECT create_hypertable('"mlfp"."model_performance"', by_range('ts', INTERVAL '7 days'), if_not_exists => TRUE)`,
    ]);
    expect(fourth).toContain(
      `ALTER TABLE "mlfp"."model_performance" SET (timescaledb.compress, timescaledb.compress_segmentby = 'model, version', timescaledb.compress_orderby = 'ts DESC')`,
    );
    expect(fourth).toContain(
      `SELECT add_retention_policy('"mlfp"."labels"', drop_after => INTERVAL '2 years', if_not_exists => TRUE)`,
    );
    expect(fourth.at(-1)).toMatch(/^ALTER TABLE "mlfp"\."alerts"\n {2}ADD COLUMN IF NOT EXISTS "rule" text/);
  });
});

// The engine's PostgreSQL tables as data (columns, idempotency keys, revision guard) and the SQL generated from
// them: DDL for native range partitioning or TimescaleDB hypertables, staging tables, and the merge statements.
// Pure functions, so every statement is unit-tested, including the TimescaleDB ones this machine cannot run.

import { FEATURE_COLUMNS } from '../../domain/types.js';

export type TableName =
  'bars' | 'features' | 'predictions' | 'alerts' | 'dead_letters' | 'labels' | 'model_performance';
export type PartitioningMode = 'native' | 'timescaledb';

export interface ColumnSpec {
  name: string;
  type: 'text' | 'timestamptz' | 'double precision' | 'integer' | 'bigint' | 'jsonb' | 'bytea' | 'boolean';
  nullable: boolean;
}

export interface TableSpec {
  name: TableName;
  /** the columns the engine writes, in COPY / UNNEST order */
  columns: readonly ColumnSpec[];
  /** the idempotency key (the primary key) */
  key: readonly string[];
  /** an older revision of a key never overwrites a newer one */
  revision?: string;
  /** on a key conflict: update the non-key columns, or keep the stored row */
  onConflict: 'update' | 'nothing';
  /** range-partitioned (native) or a hypertable (TimescaleDB) on ts */
  timePartitioned: boolean;
  /** TimescaleDB compression segments */
  compressSegmentBy?: readonly string[];
}

const column = (name: string, type: ColumnSpec['type'], nullable = false): ColumnSpec => ({
  name,
  type,
  nullable,
});

/** Alert lifecycle columns (migration 4): NULL for alerts raised outside the lifecycle (data quality). */
export const ALERT_LIFECYCLE_COLUMNS: readonly ColumnSpec[] = [
  column('rule', 'text', true),
  column('fingerprint', 'text', true),
  column('labels', 'jsonb', true),
  column('starts_at', 'timestamptz', true),
  column('annotations', 'jsonb', true),
];

const ALERT_COLUMNS: readonly ColumnSpec[] = [
  column('type', 'text'),
  column('state', 'text'),
  column('severity', 'text'),
  column('subject', 'text'),
  column('value', 'double precision', true),
  column('threshold', 'double precision', true),
  column('ts', 'timestamptz'),
  column('message', 'text', true),
];

export const TABLES: Readonly<Record<TableName, TableSpec>> = {
  bars: {
    name: 'bars',
    columns: [
      column('symbol', 'text'),
      column('timeframe', 'text'),
      column('ts', 'timestamptz'),
      column('end', 'timestamptz'),
      column('open', 'double precision'),
      column('high', 'double precision'),
      column('low', 'double precision'),
      column('close', 'double precision'),
      column('volume', 'double precision'),
      column('vwap', 'double precision'),
      column('trades', 'bigint'),
      column('revision', 'integer'),
    ],
    key: ['symbol', 'timeframe', 'ts'],
    revision: 'revision',
    onConflict: 'update',
    timePartitioned: true,
    compressSegmentBy: ['symbol', 'timeframe'],
  },
  features: {
    name: 'features',
    columns: [
      column('symbol', 'text'),
      column('timeframe', 'text'),
      column('ts', 'timestamptz'),
      column('revision', 'integer'),
      column('close', 'double precision'),
      ...FEATURE_COLUMNS.map((name) => column(name, 'double precision', true)),
    ],
    key: ['symbol', 'timeframe', 'ts'],
    revision: 'revision',
    onConflict: 'update',
    timePartitioned: true,
    compressSegmentBy: ['symbol', 'timeframe'],
  },
  predictions: {
    name: 'predictions',
    columns: [
      column('symbol', 'text'),
      column('timeframe', 'text'),
      column('ts', 'timestamptz'),
      column('model', 'text'),
      column('version', 'text'),
      column('kind', 'text'),
      column('output', 'jsonb'),
      column('latency_ms', 'double precision'),
    ],
    key: ['symbol', 'timeframe', 'ts', 'model', 'version'],
    onConflict: 'update',
    timePartitioned: true,
    compressSegmentBy: ['symbol', 'timeframe'],
  },
  alerts: {
    name: 'alerts',
    columns: [...ALERT_COLUMNS, ...ALERT_LIFECYCLE_COLUMNS],
    key: ['type', 'subject', 'ts', 'state'],
    onConflict: 'update',
    timePartitioned: true,
  },
  dead_letters: {
    name: 'dead_letters',
    columns: [
      column('letter_key', 'text'),
      column('reason', 'text'),
      column('field', 'text', true),
      column('value', 'text', true),
      column('message', 'text'),
      column('topic', 'text', true),
      column('partition', 'integer', true),
      column('offset', 'bigint', true),
      column('file', 'text', true),
      column('line', 'integer', true),
      column('original', 'bytea', true),
      column('original_bytes', 'integer', true),
      column('truncated', 'boolean'),
    ],
    key: ['letter_key'],
    onConflict: 'nothing',
    timePartitioned: false,
  },
  labels: {
    name: 'labels',
    columns: [
      column('symbol', 'text'),
      column('timeframe', 'text'),
      column('ts', 'timestamptz'),
      column('model', 'text'),
      column('version', 'text'),
      column('kind', 'text'),
      column('horizon_bars', 'integer'),
      column('label_ts', 'timestamptz'),
      column('state', 'text'),
      column('reason', 'text', true),
      column('revision', 'integer'),
      column('realised_return', 'double precision', true),
      column('actual_class', 'text', true),
      column('actual_value', 'double precision', true),
      column('predicted_class', 'text', true),
      column('predicted_value', 'double precision', true),
    ],
    key: ['symbol', 'timeframe', 'ts', 'model', 'version'],
    revision: 'revision',
    onConflict: 'update',
    timePartitioned: true,
    compressSegmentBy: ['symbol', 'timeframe'],
  },
  model_performance: {
    name: 'model_performance',
    columns: [
      column('model', 'text'),
      column('version', 'text'),
      column('kind', 'text'),
      column('timeframe', 'text'),
      column('ts', 'timestamptz'),
      column('count', 'integer'),
      column('metrics', 'jsonb'),
      column('error_drift_statistic', 'double precision', true),
      column('error_drift_threshold', 'double precision', true),
      column('error_drift_alarm', 'boolean'),
    ],
    key: ['model', 'version', 'ts'],
    onConflict: 'update',
    timePartitioned: true,
    compressSegmentBy: ['model', 'version'],
  },
};

/** alerts as migration 1 created it, before the lifecycle columns: migration 1 is never changed. */
export const ALERTS_V1: TableSpec = { ...TABLES.alerts, columns: ALERT_COLUMNS };

/** Double-quotes an identifier (names here are validated, quoting keeps reserved words like "end" legal). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export function qualified(schema: string, name: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;
}

const columnList = (spec: TableSpec, prefix = ''): string =>
  spec.columns.map((c) => prefix + quoteIdentifier(c.name)).join(', ');

const columnDefinitions = (spec: TableSpec): string =>
  spec.columns
    .map((c) => `${quoteIdentifier(c.name)} ${c.type}${c.nullable ? '' : ' NOT NULL'}`)
    .join(',\n  ');

/** CREATE TABLE for one engine table; native mode partitions time tables by range of ts with a DEFAULT partition. */
export function createTableSql(schema: string, spec: TableSpec, mode: PartitioningMode): string[] {
  const table = qualified(schema, spec.name);
  const extra = spec.name === 'dead_letters' ? ',\n  "received_at" timestamptz NOT NULL DEFAULT now()' : '';
  const partitioned = mode === 'native' && spec.timePartitioned;
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${table} (\n  ${columnDefinitions(spec)}${extra},\n  PRIMARY KEY (${spec.key
      .map(quoteIdentifier)
      .join(', ')})\n)${partitioned ? ' PARTITION BY RANGE ("ts")' : ''}`,
  ];
  if (partitioned)
    statements.push(
      `CREATE TABLE IF NOT EXISTS ${qualified(schema, `${spec.name}_default`)} PARTITION OF ${table} DEFAULT`,
    );
  if (spec.name === 'dead_letters')
    statements.push(
      `CREATE INDEX IF NOT EXISTS "dead_letters_received_at" ON ${table} ("received_at")`,
      `CREATE INDEX IF NOT EXISTS "dead_letters_source" ON ${table} ("topic", "partition", "offset")`,
    );
  if (spec.name === 'alerts')
    statements.push(`CREATE INDEX IF NOT EXISTS "alerts_subject_ts" ON ${table} ("subject", "ts" DESC)`);
  if (spec.name === 'labels')
    statements.push(
      `CREATE INDEX IF NOT EXISTS "labels_model_label_ts" ON ${table} ("model", "version", "label_ts")`,
    );
  return statements;
}

/** Adds columns a later migration introduced to a table an earlier one created (no-ops where present). */
export function addColumnsSql(schema: string, table: TableName, columns: readonly ColumnSpec[]): string {
  return `ALTER TABLE ${qualified(schema, table)}\n  ${columns
    .map(
      (c) => `ADD COLUMN IF NOT EXISTS ${quoteIdentifier(c.name)} ${c.type}${c.nullable ? '' : ' NOT NULL'}`,
    )
    .join(',\n  ')}`;
}

export interface TimescaleOptions {
  chunkInterval: string;
  compressAfter: string | null;
  retention?: string | undefined;
}

/** Turns a time table into a hypertable with compression and retention policies (TimescaleDB ≥ 2.13 API). */
export function hypertableSql(schema: string, spec: TableSpec, options: TimescaleOptions): string[] {
  const regclass = quoteLiteral(qualified(schema, spec.name));
  const statements = [
    `SELECT create_hypertable(${regclass}, by_range('ts', INTERVAL ${quoteLiteral(options.chunkInterval)}), if_not_exists => TRUE)`,
  ];
  if (spec.compressSegmentBy !== undefined && options.compressAfter !== null) {
    statements.push(
      `ALTER TABLE ${qualified(schema, spec.name)} SET (timescaledb.compress, ` +
        `timescaledb.compress_segmentby = ${quoteLiteral(spec.compressSegmentBy.join(', '))}, ` +
        `timescaledb.compress_orderby = 'ts DESC')`,
      `SELECT add_compression_policy(${regclass}, compress_after => INTERVAL ${quoteLiteral(options.compressAfter)}, if_not_exists => TRUE)`,
    );
  }
  if (options.retention !== undefined)
    statements.push(
      `SELECT add_retention_policy(${regclass}, drop_after => INTERVAL ${quoteLiteral(options.retention)}, if_not_exists => TRUE)`,
    );
  return statements;
}

const DAILY_COLUMNS = `"symbol", %BUCKET% AS "day", %OPEN% AS "open", max("high") AS "high", min("low") AS "low",
  %CLOSE% AS "close", sum("volume") AS "volume",
  sum("vwap" * "volume") / NULLIF(sum("volume"), 0) AS "vwap", sum("trades") AS "trades"`;

/**
 * Daily OHLCV per symbol rolled up from the 5m bars (UTC days). TimescaleDB: a continuous aggregate created
 * WITH NO DATA (legal inside the migration's transaction) and refreshed by a policy; native: a plain view.
 */
export function dailyAggregateSql(schema: string, mode: PartitioningMode): string[] {
  const view = qualified(schema, 'bars_daily');
  const bars = qualified(schema, 'bars');
  if (mode === 'timescaledb') {
    const bucket = `time_bucket(INTERVAL '1 day', "ts")`;
    const select = DAILY_COLUMNS.replace('%BUCKET%', bucket)
      .replace('%OPEN%', 'first("open", "ts")')
      .replace('%CLOSE%', 'last("close", "ts")');
    return [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${view} WITH (timescaledb.continuous) AS\nSELECT ${select}\nFROM ${bars}\nWHERE "timeframe" = '5m'\nGROUP BY "symbol", ${bucket}\nWITH NO DATA`,
      `SELECT add_continuous_aggregate_policy(${quoteLiteral(view)}, start_offset => INTERVAL '3 days', ` +
        `end_offset => INTERVAL '5 minutes', schedule_interval => INTERVAL '15 minutes', if_not_exists => TRUE)`,
    ];
  }
  const bucket = `date_trunc('day', "ts", 'UTC')`;
  const select = DAILY_COLUMNS.replace('%BUCKET%', bucket)
    .replace('%OPEN%', '(array_agg("open" ORDER BY "ts"))[1]')
    .replace('%CLOSE%', '(array_agg("close" ORDER BY "ts" DESC))[1]');
  return [
    `CREATE OR REPLACE VIEW ${view} AS\nSELECT ${select}\nFROM ${bars}\nWHERE "timeframe" = '5m'\nGROUP BY "symbol", ${bucket}`,
  ];
}

export function snapshotsTableSql(schema: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(schema, 'snapshots')} (
  "group_id" text NOT NULL,
  "topic" text NOT NULL,
  "partition" integer NOT NULL,
  "offset" bigint NOT NULL,
  "state" json NOT NULL,
  "taken_at" timestamptz NOT NULL,
  "saved_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("group_id", "topic", "partition")
)`,
  ];
}

/** The session's staging table for one engine table: rows live until the transaction ends. */
export function stageTableName(spec: TableSpec): string {
  return `mlfp_stage_${spec.name}`;
}

export function createStageTableSql(spec: TableSpec): string {
  return `CREATE TEMP TABLE IF NOT EXISTS ${quoteIdentifier(stageTableName(spec))} (\n  ${columnDefinitions(
    spec,
  )}\n) ON COMMIT DELETE ROWS`;
}

export function copyIntoStageSql(spec: TableSpec, format: 'binary' | 'text' = 'binary'): string {
  return `COPY pg_temp.${quoteIdentifier(stageTableName(spec))} (${columnList(spec)}) FROM STDIN${
    format === 'binary' ? ' (FORMAT binary)' : ''
  }`;
}

/** ON CONFLICT clause: non-key columns take the new values unless the stored revision is newer. */
export function conflictSql(spec: TableSpec): string {
  const target = `ON CONFLICT (${spec.key.map(quoteIdentifier).join(', ')})`;
  if (spec.onConflict === 'nothing') return `${target} DO NOTHING`;
  const keys = new Set(spec.key);
  const updates = spec.columns
    .filter((c) => !keys.has(c.name))
    .map((c) => `${quoteIdentifier(c.name)} = excluded.${quoteIdentifier(c.name)}`)
    .join(', ');
  const guard =
    spec.revision === undefined
      ? ''
      : ` WHERE excluded.${quoteIdentifier(spec.revision)} >= t.${quoteIdentifier(spec.revision)}`;
  return `${target} DO UPDATE SET ${updates}${guard}`;
}

export function mergeFromStageSql(schema: string, spec: TableSpec): string {
  return (
    `INSERT INTO ${qualified(schema, spec.name)} AS t (${columnList(spec)})\n` +
    `SELECT ${columnList(spec)} FROM pg_temp.${quoteIdentifier(stageTableName(spec))}\n${conflictSql(spec)}`
  );
}

/** One array parameter per column, zipped by UNNEST. */
export function mergeFromArraysSql(schema: string, spec: TableSpec): string {
  const arrays = spec.columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ');
  return (
    `INSERT INTO ${qualified(schema, spec.name)} AS t (${columnList(spec)})\n` +
    `SELECT * FROM unnest(${arrays})\n${conflictSql(spec)}`
  );
}

// Versioned, idempotent schema migrations for the engine's PostgreSQL schema, recorded in schema_migrations and
// run in one transaction under an advisory lock, so two engine instances starting together do not race. The
// partitioning mode (TimescaleDB or native) is chosen once, at the first migration, and recorded.

import type pg from 'pg';
import { MlfpError } from '../../errors.js';
import {
  ALERT_LIFECYCLE_COLUMNS,
  ALERTS_V1,
  TABLES,
  addColumnsSql,
  createTableSql,
  dailyAggregateSql,
  hypertableSql,
  qualified,
  quoteIdentifier,
  snapshotsTableSql,
  type PartitioningMode,
  type TimescaleOptions,
} from './postgres-tables.js';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export interface MigrationOptions {
  schema: string;
  /** auto: TimescaleDB when the extension is installed or preloadable, else native */
  partitioning: 'auto' | PartitioningMode;
  timescale: TimescaleOptions & { dailyAggregate: boolean };
}

export interface MigrationResult {
  mode: PartitioningMode;
  /** versions applied by this call */
  applied: number[];
}

/** First key of pg_advisory_xact_lock(int, int); the second is hashtext(schema). "mlfp" in ASCII. */
export const MIGRATION_LOCK_CLASS = 0x6d6c6670;

/** Every migration, in order, for a mode. Versions are never renumbered; new ones are appended. */
export function migrations(
  schema: string,
  mode: PartitioningMode,
  options: MigrationOptions['timescale'],
): Migration[] {
  const time = [TABLES.bars, TABLES.features, TABLES.predictions, ALERTS_V1];
  const first: string[] = [];
  if (mode === 'timescaledb') first.push('CREATE EXTENSION IF NOT EXISTS timescaledb');
  for (const spec of [...time, TABLES.dead_letters]) first.push(...createTableSql(schema, spec, mode));
  if (mode === 'timescaledb') for (const spec of time) first.push(...hypertableSql(schema, spec, options));
  const monitoring = [TABLES.labels, TABLES.model_performance];
  const fourth: string[] = [];
  for (const spec of monitoring) fourth.push(...createTableSql(schema, spec, mode));
  if (mode === 'timescaledb')
    for (const spec of monitoring) fourth.push(...hypertableSql(schema, spec, options));
  // on a partitioned table (or a hypertable) the new columns reach every partition (chunk)
  fourth.push(addColumnsSql(schema, 'alerts', ALERT_LIFECYCLE_COLUMNS));
  return [
    { version: 1, name: `tables (${mode})`, statements: first },
    { version: 2, name: 'snapshots', statements: snapshotsTableSql(schema) },
    {
      version: 3,
      name: 'bars_daily',
      statements: mode === 'native' || options.dailyAggregate ? dailyAggregateSql(schema, mode) : [],
    },
    { version: 4, name: 'monitoring', statements: fourth },
  ];
}

interface TimescaleAvailability {
  installed: boolean;
  available: boolean;
  preloaded: boolean;
}

async function timescaleAvailability(client: pg.ClientBase): Promise<TimescaleAvailability> {
  const result = await client.query<TimescaleAvailability>(
    `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS installed,
            EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
            coalesce(current_setting('shared_preload_libraries', true), '') ~ '(^|[ ,])timescaledb($|[ ,])' AS preloaded`,
  );
  return result.rows[0] as TimescaleAvailability;
}

/** Chooses the partitioning mode for a fresh schema. */
export function chooseMode(
  wanted: MigrationOptions['partitioning'],
  timescale: TimescaleAvailability,
): PartitioningMode {
  const usable = timescale.installed || (timescale.available && timescale.preloaded);
  if (wanted === 'native') return 'native';
  if (wanted === 'timescaledb' && !usable)
    throw new MlfpError(
      'config_invalid',
      `postgres.partitioning is 'timescaledb' but the timescaledb extension is ${
        timescale.available ? 'not in shared_preload_libraries' : 'not available on this server'
      }`,
      { field: 'postgres.partitioning', value: wanted, retriable: false },
    );
  return usable ? 'timescaledb' : 'native';
}

/** Brings the schema up to the latest version; returns the mode in use and what it applied. */
export async function migrate(client: pg.ClientBase, options: MigrationOptions): Promise<MigrationResult> {
  const { schema } = options;
  const history = qualified(schema, 'schema_migrations');
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${history} (
  "version" integer PRIMARY KEY,
  "name" text NOT NULL,
  "mode" text NOT NULL,
  "applied_at" timestamptz NOT NULL DEFAULT now()
)`,
    );
    const done = await client.query<{ version: number; mode: string }>(
      `SELECT "version", "mode" FROM ${history} ORDER BY "version"`,
    );
    const recorded = done.rows[0]?.mode as PartitioningMode | undefined;
    let mode: PartitioningMode;
    if (recorded === undefined) mode = chooseMode(options.partitioning, await timescaleAvailability(client));
    else {
      mode = recorded;
      if (options.partitioning !== 'auto' && options.partitioning !== recorded)
        throw new MlfpError(
          'config_invalid',
          `postgres.partitioning is '${options.partitioning}' but schema ${schema} was created with '${recorded}' partitioning`,
          { field: 'postgres.partitioning', value: options.partitioning, retriable: false },
        );
    }
    const applied = new Set(done.rows.map((row) => row.version));
    const appliedNow: number[] = [];
    for (const migration of migrations(schema, mode, options.timescale)) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements) await client.query(statement);
      await client.query(`INSERT INTO ${history} ("version", "name", "mode") VALUES ($1, $2, $3)`, [
        migration.version,
        migration.name,
        mode,
      ]);
      appliedNow.push(migration.version);
    }
    await client.query('COMMIT');
    return { mode, applied: appliedNow };
  } catch (error) {
    // the migration's own error is the one to report; a failed ROLLBACK means the connection is gone anyway
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

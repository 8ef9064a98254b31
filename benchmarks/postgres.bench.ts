// PostgreSQL write paths for the features table, side by side in one run on the same rows and connection:
// COPY → TEMP staging → INSERT … SELECT … ON CONFLICT (the sink's default), INSERT … SELECT FROM unnest(arrays)
// ON CONFLICT, multi-row INSERT … VALUES … ON CONFLICT, and single-row INSERTs (prepared; one transaction per
// batch, and autocommit). Every path uses the same encoders and the same revision-guarded upsert.
// Two scenarios: new rows into an empty table, and the same rows again (every row a key conflict → update).
// COPY is measured in both formats: binary (the sink's default) and text.
// Run: npm run build && npm run bench:postgres   (BENCH_ROWS, BENCH_BATCH, BENCH_RUNS, BENCH_SINGLE_ROWS,
// MLFP_POSTGRES_URL); writes benchmarks/results/postgres.json.

import pg from 'pg';
import { FEATURE_COUNT, type FeatureVector } from '../src/domain/types.js';
import { createStageTables, mergeWithCopy, mergeWithUnnest } from '../src/sinks/postgres/postgres-merge.js';
import { migrate } from '../src/sinks/postgres/postgres-migrations.js';
import { MonthCollector, PartitionManager } from '../src/sinks/postgres/postgres-partitions.js';
import { featuresCodec } from '../src/sinks/postgres/postgres-rows.js';
import { conflictSql, qualified, quoteIdentifier, TABLES } from '../src/sinks/postgres/postgres-tables.js';
import { machineInfo } from './lib/machine.js';
import { median, positiveIntegerEnv } from './lib/measure.js';
import { formatTable, writeResults } from './lib/results.js';

type Method =
  | 'copy (binary)'
  | 'copy (text)'
  | 'unnest'
  | 'multi-row insert'
  | 'single-row insert'
  | 'single-row autocommit';
type Scenario = 'insert' | 'upsert';

const ROWS = positiveIntegerEnv('BENCH_ROWS', 100_000);
const BATCH = positiveIntegerEnv('BENCH_BATCH', 5_000);
const RUNS = Math.max(5, positiveIntegerEnv('BENCH_RUNS', 5));
const SINGLE_ROWS = positiveIntegerEnv('BENCH_SINGLE_ROWS', 5_000);
const URL = process.env['MLFP_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
/** PostgreSQL's bind-parameter limit (16-bit count): a multi-row INSERT must split its batch below it. */
const MAX_PARAMETERS = 65_535;

const SPEC = TABLES.features;
const COLUMNS = SPEC.columns.length;

/** Feature rows of 100 symbols × consecutive 5m bars from 2024-01-01, the first 30 bars of each warming up. */
function makeRows(count: number): FeatureVector[] {
  const symbols = 100;
  const rows: FeatureVector[] = [];
  for (let i = 0; i < count; i++) {
    const symbolIndex = i % symbols;
    const bar = Math.floor(i / symbols);
    const close = 50 + symbolIndex + Math.sin(bar / 10) * 5;
    const values = new Float64Array(FEATURE_COUNT);
    for (let c = 0; c < FEATURE_COUNT; c++)
      values[c] = bar < 30 && c > 1 ? Number.NaN : close * (c + 1) * 1e-3;
    rows.push({
      symbol: `SYM${symbolIndex}`,
      timeframe: '5m',
      ts: Date.UTC(2024, 0, 1) + bar * 300_000,
      revision: 0,
      close,
      values,
    });
  }
  return rows;
}

/** One batch in one transaction through `method` (autocommit: every row its own transaction). */
async function writeBatch(client: pg.Client, schema: string, method: Method, rows: readonly FeatureVector[]) {
  if (method === 'single-row autocommit') return singleRowInserts(client, schema, rows);
  await client.query('BEGIN');
  try {
    if (method === 'copy (binary)') await mergeWithCopy(client, schema, featuresCodec, rows, 'binary');
    else if (method === 'copy (text)') await mergeWithCopy(client, schema, featuresCodec, rows, 'text');
    else if (method === 'unnest') await mergeWithUnnest(client, schema, featuresCodec, rows, rows.length);
    else if (method === 'multi-row insert') await multiRowInsert(client, schema, rows);
    else await singleRowInserts(client, schema, rows);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

const columnNames = SPEC.columns.map((c) => quoteIdentifier(c.name)).join(', ');

/** Row values in column order, through the sink's own encoder (NaN → null, ISO times). */
function flatValues(rows: readonly FeatureVector[]): unknown[] {
  const columns: unknown[][] = SPEC.columns.map(() => []);
  for (const row of rows) featuresCodec.pushColumns(row, columns);
  const flat: unknown[] = [];
  for (let r = 0; r < rows.length; r++)
    for (let c = 0; c < COLUMNS; c++) flat.push((columns[c] as unknown[])[r]);
  return flat;
}

async function multiRowInsert(
  client: pg.Client,
  schema: string,
  rows: readonly FeatureVector[],
): Promise<void> {
  const perStatement = Math.floor(MAX_PARAMETERS / COLUMNS);
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const tuples: string[] = [];
    for (let r = 0; r < chunk.length; r++) {
      const placeholders: string[] = [];
      for (let c = 0; c < COLUMNS; c++)
        placeholders.push(`$${r * COLUMNS + c + 1}::${SPEC.columns[c]?.type as string}`);
      tuples.push(`(${placeholders.join(', ')})`);
    }
    await client.query(
      `INSERT INTO ${qualified(schema, SPEC.name)} AS t (${columnNames}) VALUES ${tuples.join(', ')} ${conflictSql(SPEC)}`,
      flatValues(chunk),
    );
  }
}

async function singleRowInserts(
  client: pg.Client,
  schema: string,
  rows: readonly FeatureVector[],
): Promise<void> {
  const placeholders = SPEC.columns.map((c, i) => `$${i + 1}::${c.type}`).join(', ');
  const text = `INSERT INTO ${qualified(schema, SPEC.name)} AS t (${columnNames}) VALUES (${placeholders}) ${conflictSql(SPEC)}`;
  for (const row of rows)
    await client.query({ name: `bench-single-${schema}`, text, values: flatValues([row]) });
}

interface Measured {
  method: Method;
  scenario: Scenario;
  rows: number;
  rowsPerSec: number;
  runs: number[];
  min: number;
  max: number;
}

async function main(): Promise<void> {
  const schema = `mlfp_bench_${process.pid}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: URL, application_name: 'mlfp-bench' });
  await client.connect();
  const rows = makeRows(ROWS);
  const singleRows = rows.slice(0, Math.min(SINGLE_ROWS, ROWS));
  const table = qualified(schema, SPEC.name);
  const results: Measured[] = [];
  let server: string | undefined;
  try {
    const { mode } = await migrate(client, {
      schema,
      partitioning: 'native',
      timescale: { chunkInterval: '7 days', compressAfter: null, dailyAggregate: false },
    });
    const partitions = new PartitionManager(schema, ['features']);
    const months = new MonthCollector();
    for (const row of rows) months.add(row.ts);
    await partitions.ensure(client, 'features', months.months);
    await createStageTables(client);
    server = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version;
    console.log(
      `postgres ${server} (${mode} partitioning), schema ${schema}: ${ROWS} feature rows, batches of ${BATCH}, ` +
        `median of ${RUNS} runs (single-row: ${singleRows.length} rows)`,
    );

    const methods: Method[] = [
      'copy (binary)',
      'copy (text)',
      'unnest',
      'multi-row insert',
      'single-row insert',
      'single-row autocommit',
    ];
    for (const scenario of ['insert', 'upsert'] as const) {
      for (const method of methods) {
        const data = method.startsWith('single-row') ? singleRows : rows;
        const rates: number[] = [];
        // one untimed warm-up run (JIT, plan cache, buffers), then the timed runs
        for (let run = -1; run < RUNS; run++) {
          await client.query(`TRUNCATE ${table}`);
          if (scenario === 'upsert') await writeAll(client, schema, 'copy (binary)', data);
          const start = process.hrtime.bigint();
          await writeAll(client, schema, method, data);
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          const stored = Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
          if (stored !== data.length)
            throw new Error(`${method}: ${stored} rows stored, expected ${data.length}`);
          if (run >= 0) rates.push(data.length / seconds);
        }
        const measured = {
          method,
          scenario,
          rows: data.length,
          rowsPerSec: Math.round(median(rates)),
          runs: rates.map(Math.round),
          min: Math.round(Math.min(...rates)),
          max: Math.round(Math.max(...rates)),
        };
        results.push(measured);
        console.log(
          `${scenario.padEnd(6)} ${method.padEnd(18)} ${measured.rowsPerSec.toLocaleString('en')} rows/s`,
        );
      }
    }
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
    await client.end();
  }

  const rate = (method: Method, scenario: Scenario): number =>
    results.find((r) => r.method === method && r.scenario === scenario)?.rowsPerSec ?? Number.NaN;
  const ratios = Object.fromEntries(
    (['insert', 'upsert'] as const).map((scenario) => [
      scenario,
      {
        binaryCopyOverMultiRow: round2(rate('copy (binary)', scenario) / rate('multi-row insert', scenario)),
        textCopyOverMultiRow: round2(rate('copy (text)', scenario) / rate('multi-row insert', scenario)),
        unnestOverMultiRow: round2(rate('unnest', scenario) / rate('multi-row insert', scenario)),
        binaryCopyOverSingleRow: round2(
          rate('copy (binary)', scenario) / rate('single-row insert', scenario),
        ),
        binaryCopyOverSingleRowAutocommit: round2(
          rate('copy (binary)', scenario) / rate('single-row autocommit', scenario),
        ),
      },
    ]),
  );
  console.log(
    '\n' +
      formatTable(
        ['scenario', 'method', 'rows/s (median)', 'min–max'],
        results.map((r) => [
          r.scenario,
          r.method,
          r.rowsPerSec.toLocaleString('en'),
          `${r.min.toLocaleString('en')}–${r.max.toLocaleString('en')}`,
        ]),
      ),
  );
  console.log(JSON.stringify(ratios));
  const path = writeResults('postgres', {
    rows: ROWS,
    batchRows: BATCH,
    singleRows: singleRows.length,
    runs: RUNS,
    postgres: server,
    machine: machineInfo(['pg', 'pg-copy-streams']),
    date: new Date().toISOString(),
    method:
      'features table (21 columns, native monthly partitions, PK symbol/timeframe/ts), one pg connection; each ' +
      'batch is one transaction with the revision-guarded upsert; insert = empty table, upsert = the same rows ' +
      'again (every row conflicts and updates); 1 warm-up + BENCH_RUNS timed runs, median; multi-row INSERT ' +
      `splits a batch into statements of ≤ ${Math.floor(MAX_PARAMETERS / COLUMNS)} rows (65,535 bind parameters); ` +
      'single-row insert = one prepared INSERT per row, one transaction per batch; single-row autocommit = the ' +
      'same with every row its own transaction (the naive client); both on BENCH_SINGLE_ROWS rows',
    results,
    ratios,
  });
  console.log(`results: ${path}`);
}

async function writeAll(client: pg.Client, schema: string, method: Method, rows: readonly FeatureVector[]) {
  for (let start = 0; start < rows.length; start += BATCH)
    await writeBatch(client, schema, method, rows.slice(start, start + BATCH));
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

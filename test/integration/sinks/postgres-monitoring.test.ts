// Model-monitoring outputs in the real PostgreSQL (plain 15, native partitioning): labels, model_performance and
// the alert lifecycle columns read back identically through every write method (binary COPY, text COPY,
// UNNEST), the label revision guard, exact jsonb doubles, idempotent rewrites, and migration 4 applied to a
// schema an older engine left at version 3.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { PostgresConfig } from '../../../src/config/schema.js';
import type { Alert, LabelRecord, PerformanceRecord } from '../../../src/domain/types.js';
import { MlfpError } from '../../../src/errors.js';
import { migrations } from '../../../src/sinks/postgres/postgres-migrations.js';
import { createPartitionSql, monthIndex } from '../../../src/sinks/postgres/postgres-partitions.js';
import { PostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { batchOf, makeAlert, uniqueSuffix } from '../../sinks/records.js';

const services = inject('services');
const admin = new pg.Pool({ connectionString: services.postgresUrl, max: 2 });
const schemas: string[] = [];
const METHODS = ['copy', 'copy-text', 'unnest'] as const;
type Method = (typeof METHODS)[number];

function configFor(
  schema: string,
  writeMethod: Method,
  tables: Partial<PostgresConfig['tables']> = {},
): PostgresConfig {
  const config = parseConfig({
    postgres: {
      url: services.postgresUrl,
      schema,
      writeMethod,
      tables,
      retry: { initialDelayMs: 20, maxDelayMs: 200 },
    },
  }).postgres;
  if (config === undefined) throw new Error('postgres config missing');
  return config;
}

function freshSchema(): string {
  const schema = `mlfp_mon_${uniqueSuffix()}`;
  schemas.push(schema);
  return schema;
}

afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

const T = Date.UTC(2024, 0, 31, 23, 50); // labels span January and February: two partitions

function label(overrides: Partial<LabelRecord> = {}): LabelRecord {
  return {
    symbol: 'AAPL',
    timeframe: '5m',
    ts: T,
    model: 'lgbm-return',
    version: '1.0.0',
    kind: 'classifier',
    horizonBars: 3,
    labelTs: T + 900_000,
    state: 'labelled',
    revision: 0,
    realisedReturn: 0.012_345_678_901_234_5,
    actual: 'up',
    predicted: 'down',
    ...overrides,
  };
}

/** Doubles jsonb must keep bit for bit (JSON text → numeric → JSON text → the same double). */
const TRICKY_METRICS: Record<string, number> = {
  accuracy: 0.1 + 0.2,
  macro_f1: 1 / 3,
  sharpe: -1.234_567_890_123_456_6e-7,
  cumulative_return: Number.MAX_VALUE,
  max_drawdown: 5e-324,
  mae: 123_456_789.123_456_79,
  rmse: Math.PI * 1e-300,
  hit_rate: Number.NaN,
};

function performance(overrides: Partial<PerformanceRecord> = {}): PerformanceRecord {
  return {
    model: 'lgbm-return',
    version: '1.0.0',
    kind: 'classifier',
    timeframe: '5m',
    ts: T + 900_000,
    count: 250,
    metrics: TRICKY_METRICS,
    errorDrift: { statistic: 0.1 + 0.7, threshold: 50, alarm: false },
    ...overrides,
  };
}

const lifecycleAlert: Alert = {
  type: 'performance',
  state: 'firing',
  severity: 'critical',
  subject: 'lgbm-return@1.0.0',
  value: 0.41,
  threshold: 0.5,
  ts: T,
  message: 'accuracy of lgbm-return@1.0.0 below 0.5',
  rule: 'AccuracyLow',
  labels: { alertname: 'AccuracyLow', model: 'lgbm-return', version: '1.0.0', quote: `it's "x"\t\\` },
  fingerprint: '9f86d081884c7d65',
  startsAt: T - 300_000,
  annotations: { summary: 'accuracy 0.41 < 0.5', runbook: 'docs/runbooks.md#accuracy' },
};

function monitoringBatch(): ReturnType<typeof batchOf> {
  return batchOf({
    labels: [
      label(),
      label({ symbol: 'BTC-USD', ts: T + 600_000, labelTs: T + 1_500_000, revision: 2, actual: 'flat' }),
      label({ model: 'ridge', kind: 'regressor', actual: 0.003_1, predicted: -0.002, revision: 1 }),
      label({ model: 'ridge', kind: 'regressor', symbol: 'MSFT', actual: Number.NaN, predicted: Infinity }),
      label({
        symbol: 'TSLA',
        state: 'expired',
        reason: 'timeout',
        realisedReturn: Number.NaN,
        actual: null,
        predicted: 'up',
      }),
    ],
    performance: [
      performance(),
      performance({
        model: 'ridge',
        kind: 'regressor',
        ts: T + 600_000,
        count: 1,
        metrics: { mae: 0.25 },
        errorDrift: { statistic: Number.NaN, threshold: Number.POSITIVE_INFINITY, alarm: true },
      }),
    ],
    alerts: [lifecycleAlert, makeAlert('lgbm-return@1.0.0', T)],
  });
}

const MS = (column: string): string => `(extract(epoch FROM "${column}") * 1000)::float8 AS "${column}"`;

async function readLabels(schema: string): Promise<unknown[]> {
  const result = await admin.query(
    `SELECT symbol, timeframe, ${MS('ts')}, model, version, kind, horizon_bars, ${MS('label_ts')}, state, reason,
            revision, realised_return, actual_class, actual_value, predicted_class, predicted_value
       FROM "${schema}".labels ORDER BY symbol COLLATE "C", ts, model COLLATE "C", version COLLATE "C"`,
  );
  return result.rows;
}

async function readPerformance(schema: string): Promise<unknown[]> {
  const result = await admin.query(
    `SELECT model, version, kind, timeframe, ${MS('ts')}, count, metrics, error_drift_statistic,
            error_drift_threshold, error_drift_alarm
       FROM "${schema}".model_performance ORDER BY model COLLATE "C", version COLLATE "C", ts`,
  );
  return result.rows;
}

async function readAlerts(schema: string): Promise<unknown[]> {
  const result = await admin.query(
    `SELECT type, state, severity, subject, value, threshold, ${MS('ts')}, message, rule, fingerprint, labels,
            ${MS('starts_at')}, annotations
       FROM "${schema}".alerts ORDER BY type COLLATE "C", subject COLLATE "C", ts, state COLLATE "C"`,
  );
  return result.rows;
}

const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);
const classOf = (value: number | string | null): string | null => (typeof value === 'string' ? value : null);
const valueOf = (value: number | string | null): number | null =>
  typeof value === 'number' ? finiteOrNull(value) : null;

function labelRow(l: LabelRecord): Record<string, unknown> {
  return {
    symbol: l.symbol,
    timeframe: l.timeframe,
    ts: l.ts,
    model: l.model,
    version: l.version,
    kind: l.kind,
    horizon_bars: l.horizonBars,
    label_ts: l.labelTs,
    state: l.state,
    reason: l.reason ?? null,
    revision: l.revision,
    realised_return: finiteOrNull(l.realisedReturn),
    actual_class: classOf(l.actual),
    actual_value: valueOf(l.actual),
    predicted_class: classOf(l.predicted),
    predicted_value: valueOf(l.predicted),
  };
}

function performanceRow(p: PerformanceRecord): Record<string, unknown> {
  return {
    model: p.model,
    version: p.version,
    kind: p.kind,
    timeframe: p.timeframe,
    ts: p.ts,
    count: p.count,
    metrics: Object.fromEntries(
      Object.entries(p.metrics).map(([name, value]) => [name, finiteOrNull(value)]),
    ),
    error_drift_statistic: finiteOrNull(p.errorDrift.statistic),
    error_drift_threshold: finiteOrNull(p.errorDrift.threshold),
    error_drift_alarm: p.errorDrift.alarm,
  };
}

function alertRow(a: Alert): Record<string, unknown> {
  return {
    type: a.type,
    state: a.state,
    severity: a.severity,
    subject: a.subject,
    value: a.value,
    threshold: a.threshold,
    ts: a.ts,
    message: a.message ?? null,
    rule: a.rule ?? null,
    fingerprint: a.fingerprint ?? null,
    labels: a.labels ?? null,
    starts_at: a.startsAt ?? null,
    annotations: a.annotations ?? null,
  };
}

const sortedBy =
  <R>(...keys: ((row: R) => string | number)[]) =>
  (a: R, b: R): number => {
    for (const key of keys) {
      const x = key(a);
      const y = key(b);
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };

describe('postgres monitoring tables, every write method', () => {
  const sinks = new Map<Method, { schema: string; sink: PostgresSink }>();

  beforeAll(async () => {
    for (const method of METHODS) {
      const schema = freshSchema();
      const sink = new PostgresSink(configFor(schema, method));
      await sink.start();
      sinks.set(method, { schema, sink });
    }
  });
  afterAll(async () => {
    for (const { sink } of sinks.values()) await sink.close();
  });

  const each = [...METHODS];
  const entry = (method: Method): { schema: string; sink: PostgresSink } => {
    const found = sinks.get(method);
    if (found === undefined) throw new Error(`no sink for ${method}`);
    return found;
  };

  it('writes the same batch to the same rows through binary COPY, text COPY and UNNEST, exactly', async () => {
    const batch = monitoringBatch();
    const results = [];
    for (const method of each) {
      const { schema, sink } = entry(method);
      await sink.write(batch);
      results.push({
        labels: await readLabels(schema),
        performance: await readPerformance(schema),
        alerts: await readAlerts(schema),
      });
    }
    const expected = {
      labels: batch.labels.map(labelRow).sort(
        sortedBy(
          (r) => r['symbol'] as string,
          (r) => r['ts'] as number,
          (r) => r['model'] as string,
        ),
      ),
      performance: batch.performance.map(performanceRow).sort(sortedBy((r) => r['model'] as string)),
      alerts: batch.alerts.map(alertRow).sort(sortedBy((r) => r['type'] as string)),
    };
    expect(results[0]).toEqual(expected);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    // the tricky doubles, one by one (toEqual already compares with Object.is; this names the metric)
    const stored = (results[0]?.performance[0] as { metrics: Record<string, number | null> }).metrics;
    for (const [name, value] of Object.entries(TRICKY_METRICS))
      expect(stored[name], name).toBe(finiteOrNull(value));
  });

  it('stores no NaN and puts rows in month partitions, not DEFAULT', async () => {
    for (const method of each) {
      const { schema } = entry(method);
      const nan = await admin.query(
        `SELECT (SELECT count(*)::int FROM "${schema}".labels
                  WHERE 'NaN'::float8 IN (realised_return, actual_value, predicted_value)) +
                (SELECT count(*)::int FROM "${schema}".model_performance
                  WHERE 'NaN'::float8 IN (error_drift_statistic, error_drift_threshold)
                     OR metrics::text ~* 'nan|infinity') AS n`,
      );
      expect(nan.rows[0].n, method).toBe(0);
      const placed = await admin.query<{ partition: string }>(
        `SELECT DISTINCT tableoid::regclass::text AS partition FROM "${schema}".labels
         UNION SELECT DISTINCT tableoid::regclass::text FROM "${schema}".model_performance ORDER BY 1`,
      );
      expect(placed.rows.map((row) => row.partition)).toEqual([
        `${schema}.labels_p2024_01`,
        `${schema}.labels_p2024_02`,
        `${schema}.model_performance_p2024_02`,
      ]);
    }
  });

  it('rewrites idempotently: the same batch again changes nothing', async () => {
    for (const method of each) {
      const { schema, sink } = entry(method);
      const before = [await readLabels(schema), await readPerformance(schema), await readAlerts(schema)];
      await sink.write(monitoringBatch());
      await sink.write(monitoringBatch());
      const after = [await readLabels(schema), await readPerformance(schema), await readAlerts(schema)];
      expect(after, method).toEqual(before);
    }
  });

  it('a newer label revision replaces the row; an older one arriving later does not', async () => {
    const t = Date.UTC(2024, 2, 5, 15, 0);
    for (const method of each) {
      const { schema, sink } = entry(method);
      const read = async (): Promise<unknown[]> =>
        (
          await admin.query(
            `SELECT revision, actual_class, realised_return FROM "${schema}".labels WHERE symbol = 'NVDA'`,
          )
        ).rows;
      await sink.write(batchOf({ labels: [label({ symbol: 'NVDA', ts: t, revision: 0, actual: 'up' })] }));
      expect(await read(), method).toEqual([
        { revision: 0, actual_class: 'up', realised_return: 0.012_345_678_901_234_5 },
      ]);
      const revised = label({ symbol: 'NVDA', ts: t, revision: 1, actual: 'down', realisedReturn: -0.004 });
      await sink.write(batchOf({ labels: [revised] }));
      expect(await read(), method).toEqual([{ revision: 1, actual_class: 'down', realised_return: -0.004 }]);
      await sink.write(batchOf({ labels: [label({ symbol: 'NVDA', ts: t, revision: 0, actual: 'flat' })] }));
      expect(await read(), method).toEqual([{ revision: 1, actual_class: 'down', realised_return: -0.004 }]);
      // in one batch: revision 3 then a stale revision 2
      await sink.write(
        batchOf({
          labels: [
            label({ symbol: 'NVDA', ts: t, revision: 3, actual: 'up', realisedReturn: 0.5 }),
            label({ symbol: 'NVDA', ts: t, revision: 2, actual: 'flat', realisedReturn: 0 }),
          ],
        }),
      );
      expect(await read(), method).toEqual([{ revision: 3, actual_class: 'up', realised_return: 0.5 }]);
    }
  });

  it('a later performance record of the same (model, version, ts) replaces the stored one', async () => {
    const t = Date.UTC(2024, 2, 6);
    for (const method of each) {
      const { schema, sink } = entry(method);
      await sink.write(batchOf({ performance: [performance({ model: 'm2', ts: t, count: 10 })] }));
      await sink.write(
        batchOf({
          performance: [performance({ model: 'm2', ts: t, count: 11, metrics: { accuracy: 0.75 } })],
        }),
      );
      const rows = await admin.query(
        `SELECT count, metrics FROM "${schema}".model_performance WHERE model = 'm2'`,
      );
      expect(rows.rows, method).toEqual([{ count: 11, metrics: { accuracy: 0.75 } }]);
    }
  });

  it('refuses a label with a non-finite ts naming it, and writes nothing of that batch', async () => {
    const t = Date.UTC(2024, 3, 2, 10, 0);
    for (const method of each) {
      const { schema, sink } = entry(method);
      const count = async (): Promise<number> =>
        Number((await admin.query(`SELECT count(*) AS n FROM "${schema}".model_performance`)).rows[0].n);
      const before = await count();
      const error = await sink
        .write(
          batchOf({
            performance: [performance({ model: 'refused', ts: t })],
            labels: [label({ symbol: 'AMZN', ts: t }), label({ symbol: 'AMZN', ts: Number.NaN })],
          }),
        )
        .catch((e: unknown) => e);
      expect(error, method).toBeInstanceOf(MlfpError);
      expect(error).toMatchObject({ code: 'sink_rejected', retriable: false, field: 'labels' });
      expect((error as MlfpError).message).toMatch(
        /labels: lgbm-return@1\.0\.0 AMZN 5m NaN revision 0: time NaN/,
      );
      expect(await count()).toBe(before);
      const amzn = await admin.query(`SELECT 1 FROM "${schema}".labels WHERE symbol = 'AMZN'`);
      expect(amzn.rows).toEqual([]);
      expect(entry(method).sink.health().state).toBe('up');
    }
  });
});

describe('postgres monitoring tables, switched off', () => {
  it('writes neither labels nor performance when tables.labels / tables.performance are false', async () => {
    const schema = freshSchema();
    const sink = new PostgresSink(configFor(schema, 'copy', { labels: false, performance: false }));
    try {
      await sink.start();
      await sink.write(monitoringBatch());
      const counts = await admin.query(
        `SELECT (SELECT count(*)::int FROM "${schema}".labels) AS labels,
                (SELECT count(*)::int FROM "${schema}".model_performance) AS performance,
                (SELECT count(*)::int FROM "${schema}".alerts) AS alerts`,
      );
      expect(counts.rows).toEqual([{ labels: 0, performance: 0, alerts: 2 }]);
    } finally {
      await sink.close();
    }
  });
});

describe('postgres migration 4 on a schema an older engine created', () => {
  const timescale = { chunkInterval: '7 days', compressAfter: '30 days', dailyAggregate: true };

  /** Versions 1–3 exactly as the engine before migration 4 applied them, plus an alert it wrote. */
  async function versionThreeSchema(schema: string, oldAlert: Alert): Promise<void> {
    const client = await admin.connect();
    try {
      await client.query('BEGIN');
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(
        `CREATE TABLE "${schema}".schema_migrations ("version" integer PRIMARY KEY, "name" text NOT NULL,
           "mode" text NOT NULL, "applied_at" timestamptz NOT NULL DEFAULT now())`,
      );
      for (const migration of migrations(schema, 'native', timescale).filter((m) => m.version <= 3)) {
        for (const statement of migration.statements) await client.query(statement);
        await client.query(
          `INSERT INTO "${schema}".schema_migrations (version, name, mode) VALUES ($1, $2, 'native')`,
          [migration.version, migration.name],
        );
      }
      await client.query(createPartitionSql(schema, 'alerts', monthIndex(oldAlert.ts)));
      await client.query(
        `INSERT INTO "${schema}".alerts (type, state, severity, subject, value, threshold, ts, message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          oldAlert.type,
          oldAlert.state,
          oldAlert.severity,
          oldAlert.subject,
          oldAlert.value,
          oldAlert.threshold,
          new Date(oldAlert.ts).toISOString(),
          oldAlert.message,
        ],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  it('adds the monitoring tables and alert columns, keeps old alerts, and then writes everything', async () => {
    const schema = freshSchema();
    const oldAlert = makeAlert('sink:postgres', T - 3_600_000);
    await versionThreeSchema(schema, oldAlert);
    const alertColumns = async (): Promise<string[]> =>
      (
        await admin.query<{ name: string }>(
          `SELECT column_name AS name FROM information_schema.columns
            WHERE table_schema = $1 AND table_name = 'alerts' ORDER BY ordinal_position`,
          [schema],
        )
      ).rows.map((row) => row.name);
    expect(await alertColumns()).not.toContain('fingerprint');

    const sink = new PostgresSink(configFor(schema, 'copy'));
    try {
      await sink.start();
      const history = await admin.query(
        `SELECT version, name, mode FROM "${schema}".schema_migrations ORDER BY version`,
      );
      expect(history.rows.map((row: { version: number }) => row.version)).toEqual([1, 2, 3, 4]);
      expect(history.rows[3]).toEqual({ version: 4, name: 'monitoring', mode: 'native' });
      expect((await alertColumns()).slice(-5)).toEqual([
        'rule',
        'fingerprint',
        'labels',
        'starts_at',
        'annotations',
      ]);
      // the existing month partition got the columns too
      const partitionColumns = await admin.query(
        `SELECT count(*)::int AS n FROM information_schema.columns
          WHERE table_schema = $1 AND table_name = 'alerts_p2024_01' AND column_name = 'fingerprint'`,
        [schema],
      );
      expect(partitionColumns.rows).toEqual([{ n: 1 }]);
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
      const index = await admin.query(
        `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'labels_model_label_ts'`,
        [schema],
      );
      expect(index.rows).toEqual([
        {
          indexdef: `CREATE INDEX labels_model_label_ts ON ONLY ${schema}.labels USING btree (model, version, label_ts)`,
        },
      ]);

      await sink.write(monitoringBatch());
      expect(await readAlerts(schema)).toEqual(
        [...monitoringBatch().alerts, oldAlert].map(alertRow).sort(
          sortedBy(
            (r) => r['type'] as string,
            (r) => r['subject'] as string,
            (r) => r['ts'] as number,
          ),
        ),
      );
      expect(await readLabels(schema)).toHaveLength(monitoringBatch().labels.length);
      expect(await readPerformance(schema)).toHaveLength(monitoringBatch().performance.length);
    } finally {
      await sink.close();
    }

    // a second start finds nothing left to apply
    const again = new PostgresSink(configFor(schema, 'unnest'));
    try {
      await again.start();
      const versions = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations`);
      expect(versions.rows).toEqual([{ n: 4 }]);
      await again.write(monitoringBatch());
      expect(await readLabels(schema)).toHaveLength(monitoringBatch().labels.length);
    } finally {
      await again.close();
    }
  });
});

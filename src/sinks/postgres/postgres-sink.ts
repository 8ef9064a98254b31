// The PostgreSQL / TimescaleDB sink: migrations at start, then each batch merged idempotently (keyed upserts,
// an older revision never overwrites a newer one) in one transaction, retried whole while the server is away.
// Also serves BarHistory (recent bars to warm features up) from the bars table.

import type pg from 'pg';
import type { PostgresConfig } from '../../config/schema.js';
import type { Bar, Timeframe } from '../../domain/types.js';
import { classifyPostgresError } from './postgres-errors.js';
import { createStageTables, mergeWithCopy, mergeWithUnnest, type WriteMethod } from './postgres-merge.js';
import { migrate, type MigrationResult } from './postgres-migrations.js';
import { MonthCollector, PartitionManager } from './postgres-partitions.js';
import { createPool, redactUrl } from './postgres-pool.js';
import {
  alertCodec,
  barCodec,
  deadLetterCodec,
  deadLetterKey,
  featuresCodec,
  labelCodec,
  latestPerKey,
  performanceCodec,
  predictionCodec,
  type KeyedDeadLetter,
  type RowCodec,
} from './postgres-rows.js';
import { qualified, type PartitioningMode, type TableName } from './postgres-tables.js';
import { Retrier, type RetrierDependencies } from '../retrier.js';
import { SinkLifecycle } from '../sink-lifecycle.js';
import { batchSize, type BarHistory, type OutputBatch, type Sink, type SinkHealth } from '../sink.js';

interface TablePart {
  codec: RowCodec<unknown>;
  rows: readonly unknown[];
  /** months the rows fall in (native partitioning) */
  months: ReadonlySet<number>;
}

export interface PostgresSinkDependencies extends RetrierDependencies {
  /** a pool to use instead of one made from the config (the sink then does not end it on close) */
  pool?: pg.Pool;
}

const TIME_TABLES: readonly TableName[] = [
  'bars',
  'features',
  'predictions',
  'alerts',
  'labels',
  'model_performance',
];

export class PostgresSink implements Sink, BarHistory {
  readonly name = 'postgres';
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly retrier: Retrier;
  private readonly lifecycle: SinkLifecycle;
  private readonly staged = new WeakSet<pg.ClientBase>();
  private readonly deadLetters: RowCodec<KeyedDeadLetter>;
  private partitions: PartitionManager | undefined;
  private migration: MigrationResult | undefined;

  constructor(
    private readonly config: PostgresConfig,
    dependencies: PostgresSinkDependencies = {},
  ) {
    this.retrier = new Retrier(
      `postgres ${redactUrl(config.url)}`,
      config.retry,
      (error) => classifyPostgresError(error),
      dependencies,
    );
    this.lifecycle = new SinkLifecycle('postgres', this.retrier);
    this.ownsPool = dependencies.pool === undefined;
    // idle clients that lose their server report here; the next query on the pool fails and is retried
    this.pool =
      dependencies.pool ?? createPool(config, (error) => this.retrier.note(`connection: ${error.message}`));
    this.deadLetters = deadLetterCodec(config.maxOriginalBytes);
  }

  /** The partitioning in use (after start). */
  get mode(): PartitioningMode | undefined {
    return this.migration?.mode;
  }

  get writeMethod(): WriteMethod {
    return this.config.writeMethod;
  }

  /** Runs the migrations (retrying while the server is away) and learns the existing partitions. */
  start(): Promise<void> {
    return this.lifecycle.start(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        this.migration = await migrate(client, {
          schema: this.config.schema,
          partitioning: this.config.partitioning,
          timescale: this.config.timescale,
        });
        if (this.migration.mode === 'native') {
          const partitions = new PartitionManager(this.config.schema, TIME_TABLES);
          await partitions.load(client);
          this.partitions = partitions;
        }
      } catch (error) {
        if (error instanceof Error && isConnectionFailure(error)) broken = error;
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  health(): SinkHealth {
    return this.retrier.health();
  }

  write(batch: OutputBatch): Promise<void> {
    return this.lifecycle.write(batchSize(batch), async () => {
      const parts = this.prepare(batch);
      await this.retrier.run('write', () => this.writeOnce(parts));
    });
  }

  /** Up to `count` latest bars per symbol before `beforeMs`, oldest first per symbol, symbols in the given order. */
  async recentBars(
    symbols: readonly string[],
    timeframe: Timeframe,
    beforeMs: number,
    count: number,
  ): Promise<Bar[]> {
    await this.lifecycle.ready();
    const unique = [...new Set(symbols)];
    if (unique.length === 0 || count <= 0) return [];
    const bars = qualified(this.config.schema, 'bars');
    const result = await this.retrier.run('recentBars', () =>
      this.pool.query<{
        symbol: string;
        ts_ms: number;
        end_ms: number;
        open: number;
        high: number;
        low: number;
        close: number;
        volume: number;
        vwap: number;
        trades: number;
        revision: number;
      }>(
        `SELECT s.symbol, b.ts_ms, b.end_ms, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trades, b.revision
           FROM unnest($1::text[]) WITH ORDINALITY AS s(symbol, position)
           CROSS JOIN LATERAL (
             SELECT (extract(epoch FROM "ts") * 1000)::float8 AS ts_ms,
                    (extract(epoch FROM "end") * 1000)::float8 AS end_ms,
                    "open", "high", "low", "close", "volume", "vwap", "trades"::float8 AS trades, "revision"
               FROM ${bars}
              WHERE "symbol" = s.symbol AND "timeframe" = $2 AND "ts" < $3::timestamptz
              ORDER BY "ts" DESC
              LIMIT $4
           ) b
          ORDER BY s.position, b.ts_ms`,
        [unique, timeframe, new Date(beforeMs).toISOString(), count],
      ),
    );
    return result.rows.map((row) => ({
      symbol: row.symbol,
      timeframe,
      ts: row.ts_ms,
      end: row.end_ms,
      open: row.open,
      high: row.high,
      low: row.low,
      close: row.close,
      volume: row.volume,
      vwap: row.vwap,
      trades: row.trades,
      revision: row.revision,
    }));
  }

  /** Stops retrying, waits up to closeTimeoutMs for the write in progress, then ends the pool. */
  async close(): Promise<void> {
    if ((await this.lifecycle.close(this.config.closeTimeoutMs)) && this.ownsPool) await this.pool.end();
  }

  /** Per table: one row per key (latest revision), and the months it touches. Done once per write. */
  private prepare(batch: OutputBatch): TablePart[] {
    const tables = this.config.tables;
    const parts: TablePart[] = [];
    const add = <R>(
      enabled: boolean,
      codec: RowCodec<R>,
      records: readonly R[],
      tsOf?: (row: R) => number,
    ) => {
      if (!enabled || records.length === 0) return;
      const rows = latestPerKey(records, codec);
      const months = new MonthCollector();
      if (tsOf !== undefined && this.partitions !== undefined) for (const row of rows) months.add(tsOf(row));
      parts.push({ codec: codec as RowCodec<unknown>, rows, months: months.months });
    };
    add(tables.bars, barCodec, batch.bars, (bar) => bar.ts);
    add(tables.features, featuresCodec, batch.features, (vector) => vector.ts);
    add(tables.predictions, predictionCodec, batch.predictions, (prediction) => prediction.ts);
    add(tables.alerts, alertCodec, batch.alerts, (alert) => alert.ts);
    add(tables.labels, labelCodec, batch.labels, (label) => label.ts);
    add(tables.performance, performanceCodec, batch.performance, (record) => record.ts);
    add(
      tables.deadLetters,
      this.deadLetters,
      batch.deadLetters.map((letter) => ({ key: deadLetterKey(letter), letter })),
    );
    return parts;
  }

  /** One attempt: partitions, then every table merged in one transaction. */
  private async writeOnce(parts: readonly TablePart[]): Promise<void> {
    if (parts.length === 0) return;
    const client = await this.pool.connect();
    let broken: Error | undefined;
    let table: string | undefined;
    let codec: RowCodec<unknown> | undefined;
    let rows: readonly unknown[] = [];
    try {
      if (this.partitions !== undefined)
        for (const part of parts)
          if (part.months.size > 0) await this.partitions.ensure(client, part.codec.spec.name, part.months);
      if (this.config.writeMethod !== 'unnest' && !this.staged.has(client)) {
        await createStageTables(client);
        this.staged.add(client);
      }
      await client.query('BEGIN');
      try {
        for (const part of parts) {
          ({ codec, rows } = part);
          table = part.codec.spec.name;
          if (this.config.writeMethod === 'unnest')
            await mergeWithUnnest(client, this.config.schema, part.codec, part.rows);
          else
            await mergeWithCopy(
              client,
              this.config.schema,
              part.codec,
              part.rows,
              this.config.writeMethod === 'copy' ? 'binary' : 'text',
            );
        }
        table = undefined;
        await client.query('COMMIT');
      } catch (error) {
        // the statement's error is the one to report; a failed ROLLBACK means the connection is gone anyway
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } catch (error) {
      if (error instanceof Error && isConnectionFailure(error)) broken = error;
      const failedCodec = codec;
      const failedRows = rows;
      throw classifyPostgresError(error, {
        ...(table === undefined ? {} : { table }),
        describeLine: (line) => {
          const row = failedRows[line - 1];
          return failedCodec === undefined || row === undefined ? undefined : failedCodec.describe(row);
        },
      });
    } finally {
      client.release(broken);
    }
  }
}

/** A failure after which the pooled connection must not be reused. */
function isConnectionFailure(error: Error): boolean {
  return classifyPostgresError(error).retriable;
}

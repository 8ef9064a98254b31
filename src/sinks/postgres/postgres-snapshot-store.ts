// Per-partition state snapshots in PostgreSQL (table `snapshots`), for users without Redis: one row per
// (group, topic, partition), upserted only forward (a stale owner's lower offset is ignored), retried whole
// while the server is away.

import type pg from 'pg';
import type { PostgresConfig } from '../../config/schema.js';
import { MlfpError } from '../../errors.js';
import { compareOffsets, normaliseOffset } from '../offsets.js';
import { classifyPostgresError } from './postgres-errors.js';
import { migrate } from './postgres-migrations.js';
import { createPool, redactUrl } from './postgres-pool.js';
import { qualified } from './postgres-tables.js';
import { Retrier, type RetrierDependencies } from '../retrier.js';
import { SinkLifecycle } from '../sink-lifecycle.js';
import type { PartitionSnapshot, SinkHealth, SnapshotStore } from '../sink.js';

export interface PostgresSnapshotStoreDependencies extends RetrierDependencies {
  /** a pool to share (e.g. the PostgresSink's); the store then does not end it */
  pool?: pg.Pool;
}

export class PostgresSnapshotStore implements SnapshotStore {
  readonly name = 'postgres-snapshots';
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly retrier: Retrier;
  private readonly table: string;
  private readonly lifecycle: SinkLifecycle;

  constructor(
    private readonly config: PostgresConfig,
    dependencies: PostgresSnapshotStoreDependencies = {},
  ) {
    this.retrier = new Retrier(
      `postgres snapshots ${redactUrl(config.url)}`,
      config.retry,
      (error) => classifyPostgresError(error, { table: 'snapshots' }),
      dependencies,
    );
    this.lifecycle = new SinkLifecycle(this.name, this.retrier);
    this.ownsPool = dependencies.pool === undefined;
    this.pool =
      dependencies.pool ?? createPool(config, (error) => this.retrier.note(`connection: ${error.message}`));
    this.table = qualified(config.schema, 'snapshots');
  }

  start(): Promise<void> {
    return this.lifecycle.start(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await migrate(client, {
          schema: this.config.schema,
          partitioning: this.config.partitioning,
          timescale: this.config.timescale,
        });
      } catch (error) {
        if (error instanceof Error && classifyPostgresError(error).retriable) broken = error;
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  health(): SinkHealth {
    return this.retrier.health();
  }

  async load(group: string, topic: string, partition: number): Promise<PartitionSnapshot | undefined> {
    await this.lifecycle.ready();
    const result = await this.retrier.run('load', () =>
      this.pool.query<{ offset: string; state: unknown; taken_at_ms: number }>(
        `SELECT "offset"::text AS "offset", "state", (extract(epoch FROM "taken_at") * 1000)::float8 AS taken_at_ms
           FROM ${this.table} WHERE "group_id" = $1 AND "topic" = $2 AND "partition" = $3`,
        [group, topic, partition],
      ),
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    return { group, topic, partition, offset: row.offset, state: row.state, takenAtMs: row.taken_at_ms };
  }

  async save(snapshots: readonly PartitionSnapshot[]): Promise<void> {
    if (snapshots.length === 0) return;
    await this.lifecycle.ready();
    // one row per key (the highest offset) so the single statement never touches a row twice
    const latest = new Map<string, { snapshot: PartitionSnapshot; offset: string; state: string }>();
    for (const snapshot of snapshots) {
      const offset = normaliseOffset(
        snapshot.offset,
        `snapshot offset of ${snapshot.topic}/${snapshot.partition}`,
      );
      const key = `${snapshot.group}\u0001${snapshot.topic}\u0001${snapshot.partition}`;
      const held = latest.get(key);
      if (held !== undefined && compareOffsets(held.offset, offset) > 0) continue;
      const state = JSON.stringify(snapshot.state);
      if (state === undefined)
        throw new MlfpError(
          'snapshot_invalid',
          `snapshot of ${snapshot.topic}/${snapshot.partition} has no state`,
        );
      latest.set(key, { snapshot, offset, state });
    }
    const rows = [...latest.values()];
    await this.retrier.run('save', () =>
      this.pool.query(
        `INSERT INTO ${this.table} AS t ("group_id", "topic", "partition", "offset", "state", "taken_at")
         SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::json[], $6::timestamptz[])
         ON CONFLICT ("group_id", "topic", "partition") DO UPDATE
            SET "offset" = excluded."offset", "state" = excluded."state", "taken_at" = excluded."taken_at",
                "saved_at" = now()
          WHERE excluded."offset" >= t."offset"`,
        [
          rows.map((r) => r.snapshot.group),
          rows.map((r) => r.snapshot.topic),
          rows.map((r) => r.snapshot.partition),
          rows.map((r) => r.offset),
          rows.map((r) => r.state),
          rows.map((r) => new Date(r.snapshot.takenAtMs).toISOString()),
        ],
      ),
    );
  }

  async close(): Promise<void> {
    if ((await this.lifecycle.close(0)) && this.ownsPool) await this.pool.end();
  }
}

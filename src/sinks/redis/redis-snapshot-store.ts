// Per-partition state snapshots in Redis: a hash `<prefix>:snapshot:<group>:<topic>:<partition>` holding the
// offset, the state JSON and when it was taken; saved pipelined through a Lua script that ignores an offset lower
// than the stored one (compared as big decimal integers). Durable only as far as the Redis server persists.

import type { RedisConfig } from '../../config/schema.js';
import { MlfpError } from '../../errors.js';
import { compareOffsets, normaliseOffset } from '../offsets.js';
import { firstPipelineError, RedisConnection, type RedisConnectionDependencies } from './redis-client.js';
import { monotonePipeline } from './redis-scripts.js';
import type { PartitionSnapshot, SinkHealth, SnapshotStore } from '../sink.js';

/** Kafka topic names cannot contain ':', and the partition is a number, so the key parses from the right. */
export function snapshotKey(prefix: string, group: string, topic: string, partition: number): string {
  return `${prefix}:snapshot:${group}:${topic}:${partition}`;
}

export type RedisSnapshotStoreDependencies = RedisConnectionDependencies;

export class RedisSnapshotStore implements SnapshotStore {
  readonly name = 'redis-snapshots';
  private readonly connection: RedisConnection;

  constructor(
    private readonly config: RedisConfig,
    dependencies: RedisSnapshotStoreDependencies = {},
  ) {
    this.connection = new RedisConnection(this.name, 'redis snapshots', config, dependencies);
  }

  start(): Promise<void> {
    return this.connection.start();
  }

  health(): SinkHealth {
    return this.connection.health();
  }

  async load(group: string, topic: string, partition: number): Promise<PartitionSnapshot | undefined> {
    await this.connection.lifecycle.ready();
    const key = snapshotKey(this.config.keyPrefix, group, topic, partition);
    const fields = await this.connection.retrier.run('load', () => this.connection.client.hgetall(key));
    if (fields['offset'] === undefined) return undefined;
    const offset = normaliseOffset(fields['offset'], `${key} offset`);
    const takenAtMs = Number(fields['takenAtMs']);
    let state: unknown;
    try {
      state = JSON.parse(fields['state'] ?? '');
    } catch (error) {
      throw new MlfpError('snapshot_invalid', `${key}: state is not valid JSON`, {
        cause: error,
        field: key,
      });
    }
    if (!Number.isFinite(takenAtMs))
      throw new MlfpError('snapshot_invalid', `${key}: takenAtMs is not a number`, {
        field: key,
        value: fields['takenAtMs'],
      });
    return { group, topic, partition, offset, state, takenAtMs };
  }

  async save(snapshots: readonly PartitionSnapshot[]): Promise<void> {
    if (snapshots.length === 0) return;
    await this.connection.lifecycle.ready();
    const prepared = snapshots.map((snapshot) => {
      const offset = normaliseOffset(
        snapshot.offset,
        `snapshot offset of ${snapshot.topic}/${snapshot.partition}`,
      );
      if (snapshot.topic.includes(':'))
        throw new MlfpError('snapshot_invalid', `topic ${snapshot.topic} contains ':'`, { field: 'topic' });
      const state = JSON.stringify(snapshot.state);
      if (state === undefined)
        throw new MlfpError(
          'snapshot_invalid',
          `snapshot of ${snapshot.topic}/${snapshot.partition} has no state`,
        );
      return { snapshot, offset, state };
    });
    // the script keeps the highest offset whatever the order; sorting only saves writing lower ones first
    prepared.sort((a, b) => compareOffsets(a.offset, b.offset));
    await this.connection.retrier.run('save', async () => {
      const pipeline = monotonePipeline(this.connection.client);
      for (const { snapshot, offset, state } of prepared)
        pipeline.mlfpSaveSnapshot(
          snapshotKey(this.config.keyPrefix, snapshot.group, snapshot.topic, snapshot.partition),
          offset,
          state,
          snapshot.takenAtMs,
          snapshot.group,
          snapshot.topic,
          snapshot.partition,
        );
      const error = firstPipelineError(await pipeline.exec());
      if (error !== undefined) throw error;
    });
  }

  async close(): Promise<void> {
    await this.connection.close(0);
  }
}

// The in-process SnapshotStore (config snapshots.store 'memory'): survives rebalances inside one process,
// not a restart. Snapshots go through a JSON round trip, as they would to Redis or PostgreSQL, so state that
// is not plain JSON fails here first.

import type { PartitionSnapshot, SinkHealth, SnapshotStore } from '../sinks/sink.js';

export class MemorySnapshotStore implements SnapshotStore {
  readonly name: string;
  /** saves that replaced a stored snapshot, and those ignored as older than the stored one */
  saved = 0;
  ignored = 0;
  private readonly snapshots = new Map<string, string>();
  private readonly offsets = new Map<string, bigint>();
  private readonly startedAtMs = Date.now();

  constructor(name = 'memory') {
    this.name = name;
  }

  async start(): Promise<void> {}

  async load(group: string, topic: string, partition: number): Promise<PartitionSnapshot | undefined> {
    const text = this.snapshots.get(keyOf(group, topic, partition));
    return text === undefined ? undefined : (JSON.parse(text) as PartitionSnapshot);
  }

  async save(snapshots: readonly PartitionSnapshot[]): Promise<void> {
    for (const snapshot of snapshots) {
      const key = keyOf(snapshot.group, snapshot.topic, snapshot.partition);
      const offset = BigInt(snapshot.offset);
      const stored = this.offsets.get(key);
      if (stored !== undefined && offset < stored) {
        this.ignored++;
        continue;
      }
      this.snapshots.set(key, JSON.stringify(snapshot));
      this.offsets.set(key, offset);
      this.saved++;
    }
  }

  health(): SinkHealth {
    return { state: 'up', sinceMs: this.startedAtMs, pendingRecords: 0, retries: 0 };
  }

  async close(): Promise<void> {}
}

function keyOf(group: string, topic: string, partition: number): string {
  return `${group}\u0000${topic}\u0000${partition}`;
}

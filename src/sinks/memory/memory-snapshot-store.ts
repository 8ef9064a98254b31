// The embedded run's (and tests') SnapshotStore (config snapshots.store 'memory'): snapshots kept in process
// memory with the same rules as the durable stores (offsets compared as big integers, never moving backwards)
// and a JSON round trip, as to Redis or PostgreSQL, so state that is not plain JSON fails here first.
// Survives rebalances inside one process, not a restart.

import { compareOffsets, normaliseOffset } from '../offsets.js';
import type { PartitionSnapshot, SinkHealth, SnapshotStore } from '../sink.js';

export class MemorySnapshotStore implements SnapshotStore {
  readonly name = 'memory-snapshots';
  /** per key: the snapshot as JSON text, and its offset */
  private readonly snapshots = new Map<string, { offset: string; text: string }>();
  /** saves that replaced a stored snapshot, and those ignored as older than the stored one */
  saved = 0;
  ignored = 0;
  private state: SinkHealth['state'] = 'starting';
  private sinceMs: number;

  constructor(private readonly now: () => number = Date.now) {
    this.sinceMs = now();
  }

  async start(): Promise<void> {
    this.setState('up');
  }

  health(): SinkHealth {
    return { state: this.state, sinceMs: this.sinceMs, pendingRecords: 0, retries: 0 };
  }

  async load(group: string, topic: string, partition: number): Promise<PartitionSnapshot | undefined> {
    const stored = this.snapshots.get(key(group, topic, partition));
    return stored === undefined ? undefined : (JSON.parse(stored.text) as PartitionSnapshot);
  }

  async save(snapshots: readonly PartitionSnapshot[]): Promise<void> {
    for (const snapshot of snapshots) {
      const offset = normaliseOffset(
        snapshot.offset,
        `snapshot offset of ${snapshot.topic}/${snapshot.partition}`,
      );
      const id = key(snapshot.group, snapshot.topic, snapshot.partition);
      const stored = this.snapshots.get(id);
      if (stored !== undefined && compareOffsets(stored.offset, offset) > 0) {
        this.ignored++;
        continue;
      }
      this.snapshots.set(id, { offset, text: JSON.stringify({ ...snapshot, offset }) });
      this.saved++;
    }
  }

  /** Marks it closed in health; the snapshots stay (they belong to the process, and a store shared by two
   *  engine instances in one process — tests of hand-overs — outlives either). start() opens it again. */
  async close(): Promise<void> {
    this.setState('closed');
  }

  private setState(state: SinkHealth['state']): void {
    this.state = state;
    this.sinceMs = this.now();
  }
}

const key = (group: string, topic: string, partition: number): string =>
  `${group}\u0001${topic}\u0001${partition}`;

// The embedded run's (and tests') SnapshotStore: snapshots kept in process memory with the same rules as the
// durable stores (offsets compared as big integers, never moving backwards, state copied on save and load).

import { MlfpError } from '../errors.js';
import { compareOffsets, normaliseOffset } from './offsets.js';
import type { PartitionSnapshot, SinkHealth, SnapshotStore } from './sink.js';

export class MemorySnapshotStore implements SnapshotStore {
  readonly name = 'memory-snapshots';
  private readonly snapshots = new Map<string, PartitionSnapshot>();
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
    this.assertOpen();
    const stored = this.snapshots.get(key(group, topic, partition));
    return stored === undefined ? undefined : { ...stored, state: structuredClone(stored.state) };
  }

  async save(snapshots: readonly PartitionSnapshot[]): Promise<void> {
    this.assertOpen();
    for (const snapshot of snapshots) {
      const offset = normaliseOffset(
        snapshot.offset,
        `snapshot offset of ${snapshot.topic}/${snapshot.partition}`,
      );
      const id = key(snapshot.group, snapshot.topic, snapshot.partition);
      const stored = this.snapshots.get(id);
      if (stored !== undefined && compareOffsets(stored.offset, offset) > 0) continue;
      this.snapshots.set(id, { ...snapshot, offset, state: structuredClone(snapshot.state) });
    }
  }

  async close(): Promise<void> {
    this.setState('closed');
  }

  private assertOpen(): void {
    if (this.state === 'closed')
      throw new MlfpError('sink_unavailable', `${this.name}: closed`, { retriable: false });
  }

  private setState(state: SinkHealth['state']): void {
    this.state = state;
    this.sinceMs = this.now();
  }
}

const key = (group: string, topic: string, partition: number): string =>
  `${group}\u0001${topic}\u0001${partition}`;

import { describe, expect, it } from 'vitest';
import type { PartitionSnapshot } from '../sinks/sink.js';
import { MemorySnapshotStore } from './memory-snapshot-store.js';

const snapshot = (partition: number, offset: string, state: unknown): PartitionSnapshot => ({
  group: 'g',
  topic: 't',
  partition,
  offset,
  state,
  takenAtMs: 1,
});

describe('MemorySnapshotStore', () => {
  it('keeps the highest offset per partition: a stale owner cannot move state backwards', async () => {
    const store = new MemorySnapshotStore();
    await store.save([snapshot(0, '100', { n: 1 }), snapshot(1, '5', { n: 2 })]);
    await store.save([snapshot(0, '99', { n: 3 })]);
    await store.save([snapshot(1, '9007199254740993', { n: 4 })]);
    expect((await store.load('g', 't', 0))?.state).toEqual({ n: 1 });
    expect((await store.load('g', 't', 1))?.offset).toBe('9007199254740993');
    expect(await store.load('g', 't', 2)).toBeUndefined();
    expect(await store.load('other', 't', 0)).toBeUndefined();
    expect(store.ignored).toBe(1);
  });

  it('stores a JSON copy, like a real store would', async () => {
    const store = new MemorySnapshotStore();
    const state = { values: [1, 2], when: new Date(0) };
    await store.save([snapshot(0, '1', state)]);
    state.values.push(3);
    expect((await store.load('g', 't', 0))?.state).toEqual({
      values: [1, 2],
      when: '1970-01-01T00:00:00.000Z',
    });
  });
});

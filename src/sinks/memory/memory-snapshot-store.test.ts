import { describe, expect, it } from 'vitest';
import type { PartitionSnapshot } from '../sink.js';
import { MemorySnapshotStore } from './memory-snapshot-store.js';

const base = { group: 'g', topic: 'market.ticks', partition: 0, takenAtMs: 1 };

describe('MemorySnapshotStore', () => {
  it('keeps the highest offset per partition (as big integers) and copies state in and out', async () => {
    const store = new MemorySnapshotStore(() => 42);
    await store.start();
    const state = { bars: [1, 2] };
    await store.save([{ ...base, offset: '9007199254740993', state }]);
    state.bars.push(3); // the engine's object changes after save: the stored copy must not
    await store.save([{ ...base, offset: '9007199254740992', state: { bars: [] } }]);
    const loaded = await store.load('g', 'market.ticks', 0);
    expect(loaded).toEqual({ ...base, offset: '9007199254740993', state: { bars: [1, 2] } });
    (loaded?.state as { bars: number[] }).bars.push(9);
    expect((await store.load('g', 'market.ticks', 0))?.state).toEqual({ bars: [1, 2] });
    await store.save([{ ...base, offset: '0009007199254740994', state: { bars: [4] } }]);
    expect((await store.load('g', 'market.ticks', 0))?.offset).toBe('9007199254740994');
    expect(await store.load('g', 'market.ticks', 1)).toBeUndefined();
    expect(store.health()).toEqual({ state: 'up', sinceMs: 42, pendingRecords: 0, retries: 0 });
    await expect(store.save([{ ...base, offset: 'x', state: {} }])).rejects.toMatchObject({
      code: 'snapshot_invalid',
    });
    await store.close();
    expect(store.health().state).toBe('closed');
    expect((await store.load('g', 'market.ticks', 0))?.offset).toBe('9007199254740994');
  });
});

const snapshot = (partition: number, offset: string, state: unknown): PartitionSnapshot => ({
  group: 'g',
  topic: 't',
  partition,
  offset,
  state,
  takenAtMs: 1,
});

describe('MemorySnapshotStore (engine use)', () => {
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

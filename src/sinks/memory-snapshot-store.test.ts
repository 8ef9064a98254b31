import { describe, expect, it } from 'vitest';
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
    await expect(store.load('g', 'market.ticks', 0)).rejects.toMatchObject({ code: 'sink_unavailable' });
  });
});

import { describe, expect, it } from 'vitest';
import { Random } from '../../streams/random.js';
import { SlotIndex, hashOf } from './slot-index.js';

const TS = [0, -0, 1.5, -300_000, 1_704_153_600_000, 1_704_153_900_000, 2 ** 52, -(2 ** 40), Number.NaN];

describe('SlotIndex', () => {
  it.each([1, 7, 64])(
    'capacity %i: finds, inserts and removes as a Map of (symbol, ts) would',
    (capacity) => {
      const random = new Random(capacity);
      const symbols = new Array<string>(capacity).fill('');
      const keyTs = new Float64Array(capacity);
      const index = new SlotIndex(capacity, symbols, keyTs);
      const model = new Map<string, number>();
      const keyOf = (symbol: string, ts: number): string => `${symbol}|${Object.is(ts, -0) ? 0 : ts}`;
      const names = Array.from({ length: 2 * capacity + 3 }, (_, i) => `S${i}`);
      const used = new Set<number>();
      for (let step = 0; step < 20_000; step++) {
        const symbol = names[random.int(names.length)]!;
        const ts = TS[random.int(TS.length)]!;
        const key = keyOf(symbol, ts);
        const hash = hashOf(symbol, ts);
        const found = index.find(hash, symbol, ts);
        expect(found).toBe(model.get(key) ?? -1);
        if (found < 0 && used.size < capacity && random.uniform() < 0.6) {
          let slot = random.int(capacity);
          while (used.has(slot)) slot = (slot + 1) % capacity;
          symbols[slot] = symbol;
          keyTs[slot] = ts;
          index.insert(slot, hash);
          used.add(slot);
          model.set(key, slot);
        } else if (used.size > 0 && random.uniform() < 0.5) {
          const slot = [...used][random.int(used.size)]!;
          index.remove(slot);
          used.delete(slot);
          model.delete(keyOf(symbols[slot]!, keyTs[slot]!));
        }
      }
      for (const [key, slot] of model)
        expect(index.find(hashOf(symbols[slot]!, keyTs[slot]!), symbols[slot]!, keyTs[slot]!), key).toBe(
          slot,
        );
    },
  );

  it('tells apart keys that differ only in ts, and takes -0 as 0 and NaN as NaN (as a Map does)', () => {
    const symbols = ['AAA', 'AAA', 'AAA'];
    const keyTs = new Float64Array([0, Number.NaN, 300_000]);
    const index = new SlotIndex(3, symbols, keyTs);
    for (let slot = 0; slot < 3; slot++) index.insert(slot, hashOf('AAA', keyTs[slot]!));
    expect(index.find(hashOf('AAA', -0), 'AAA', -0)).toBe(0);
    expect(index.find(hashOf('AAA', Number.NaN), 'AAA', Number.NaN)).toBe(1);
    expect(index.find(hashOf('AAA', 300_000), 'AAA', 300_000)).toBe(2);
    expect(index.find(hashOf('AAB', 300_000), 'AAB', 300_000)).toBe(-1);
  });
});

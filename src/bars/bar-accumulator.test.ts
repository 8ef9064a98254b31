import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BarAccumulator } from './bar-accumulator.js';

const START = Date.UTC(2024, 2, 4, 14, 30);
const END = START + 300_000;

describe('BarAccumulator', () => {
  it('takes open from the earliest ts and close from the latest, whatever the arrival order', () => {
    const bar = new BarAccumulator(START, END);
    bar.add(START + 2000, 11, 1);
    bar.add(START + 1000, 10, 2);
    bar.add(START + 3000, 9, 3);
    bar.add(START + 2500, 12, 4);
    expect(bar.toBar('X', '5m')).toStrictEqual({
      symbol: 'X',
      timeframe: '5m',
      ts: START,
      end: END,
      open: 10,
      high: 12,
      low: 9,
      close: 9,
      volume: 10,
      vwap: (11 + 20 + 27 + 48) / 10,
      trades: 4,
      revision: 0,
    });
  });

  it('breaks ts ties by arrival: the first keeps open, the last takes close', () => {
    const bar = new BarAccumulator(START, END);
    bar.add(START, 10, 1);
    bar.add(START, 11, 1);
    bar.add(START + 5, 12, 1);
    bar.add(START + 5, 13, 1);
    expect(bar.toBar('X', '5m')).toMatchObject({ open: 10, close: 13 });
  });

  it('gives VWAP = close when every tick has size 0', () => {
    const bar = new BarAccumulator(START, END);
    bar.add(START, 10, 0);
    bar.add(START + 1, 12, 0);
    expect(bar.toBar('X', '5m')).toMatchObject({ volume: 0, vwap: 12, trades: 2 });
  });

  it('keeps VWAP inside [low, high] despite rounding', () => {
    const bar = new BarAccumulator(START, END);
    for (let index = 0; index < 10; index++) bar.add(START + index, 0.1 + 0.2, 0.1);
    const result = bar.toBar('X', '5m');
    expect(result.vwap).toBe(result.low);
  });

  it('merging two accumulators equals adding all their ticks to one', () => {
    const tick = fc.record({
      offset: fc.integer({ min: 0, max: 299_999 }),
      price: fc.double({ min: 0.01, max: 1e6, noNaN: true }),
      size: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(fc.array(tick, { minLength: 1 }), fc.array(tick, { minLength: 1 }), (first, second) => {
        const left = new BarAccumulator(START, END);
        const right = new BarAccumulator(START, END);
        const all = new BarAccumulator(START, END);
        for (const t of first) {
          left.add(START + t.offset, t.price, t.size);
          all.add(START + t.offset, t.price, t.size);
        }
        for (const t of second) {
          right.add(START + t.offset, t.price, t.size);
          all.add(START + t.offset, t.price, t.size);
        }
        left.merge(right);
        const merged = left.toBar('X', '1h');
        const direct = all.toBar('X', '1h');
        expect({ ...merged, vwap: 0 }).toStrictEqual({ ...direct, vwap: 0 });
        expect(merged.vwap).toBeCloseTo(direct.vwap, 6);
      }),
    );
  });

  it('merging into an empty accumulator copies', () => {
    const empty = new BarAccumulator(START, START + 3_600_000);
    const five = new BarAccumulator(START, END);
    five.add(START + 7, 5, 2);
    empty.merge(five);
    expect(empty.toBar('X', '1h')).toMatchObject({ ts: START, end: START + 3_600_000, open: 5, trades: 1 });
  });
});

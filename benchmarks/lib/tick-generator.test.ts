// The benchmark data must be reproducible and sane: same seed, same ticks; time order; valid prices.
import { describe, expect, it } from 'vitest';
import { TickGenerator, tickJson, type GeneratedTick } from './tick-generator.js';

const OPTIONS = { symbols: 7, seed: 42, startMs: Date.UTC(2024, 2, 4), meanGapMs: 15_000 };

function take(generator: TickGenerator, count: number): GeneratedTick[] {
  return Array.from({ length: count }, () => generator.next());
}

describe('TickGenerator', () => {
  it('repeats exactly for one seed and differs for another', () => {
    const first = take(new TickGenerator(OPTIONS), 500);
    expect(take(new TickGenerator(OPTIONS), 500)).toEqual(first);
    expect(take(new TickGenerator({ ...OPTIONS, seed: 43 }), 500)).not.toEqual(first);
  });

  it('emits ticks in event-time order, after the start, over every symbol', () => {
    const ticks = take(new TickGenerator(OPTIONS), 5_000);
    for (let index = 1; index < ticks.length; index++) {
      expect(ticks[index]!.ts).toBeGreaterThanOrEqual(ticks[index - 1]!.ts);
    }
    expect(ticks[0]!.ts).toBeGreaterThan(OPTIONS.startMs);
    expect(new Set(ticks.map((tick) => tick.symbol)).size).toBe(7);
  });

  it('keeps prices positive in cents, sizes positive integers, and the mean gap near the option', () => {
    const ticks = take(new TickGenerator({ ...OPTIONS, symbols: 1 }), 20_000);
    for (const tick of ticks) {
      expect(tick.price).toBeGreaterThan(0);
      expect(Math.round(tick.price * 100) / 100).toBe(tick.price);
      expect(Number.isInteger(tick.size) && tick.size >= 1).toBe(true);
    }
    const spanMs = ticks.at(-1)!.ts - ticks[0]!.ts;
    expect(spanMs / (ticks.length - 1)).toBeGreaterThan(OPTIONS.meanGapMs * 0.95);
    expect(spanMs / (ticks.length - 1)).toBeLessThan(OPTIONS.meanGapMs * 1.05);
  });

  it('writes the JSON shape the peers parse', () => {
    const tick = { symbol: 'SYM3', ts: 1709510400123, price: 171.32, size: 100 };
    expect(JSON.parse(tickJson(tick))).toEqual(tick);
  });
});

import { describe, expect, it } from 'vitest';
import { TIMEFRAMES, type Bar, type Timeframe } from '../domain/types.js';
import { FeatureEngine } from './compute-features.js';

/** A deterministic bar series for a few symbols and every timeframe. */
function bars(count: number): Bar[] {
  const out: Bar[] = [];
  for (let index = 0; index < count; index++) {
    for (const symbol of ['A', 'B']) {
      for (const timeframe of TIMEFRAMES) {
        const base = 100 + Math.sin(index / 7 + symbol.charCodeAt(0)) * 10 + index * 0.01;
        out.push({
          symbol,
          timeframe,
          ts: index * 86_400_000,
          end: (index + 1) * 86_400_000,
          open: base,
          high: base + 1.5,
          low: base - 1.25,
          close: base + 0.5,
          volume: 1_000 + (index % 13) * 10,
          vwap: base,
          trades: 10,
          revision: 0,
        });
      }
    }
  }
  return out;
}

const vectors = (engine: FeatureEngine, list: readonly Bar[]) =>
  list.map((bar) => Array.from(engine.apply(bar)?.values ?? []));

describe('FeatureEngine snapshot', () => {
  it('restores through JSON into an engine that continues exactly, revisions included', () => {
    const list = bars(120);
    const whole = new FeatureEngine();
    const expected = vectors(whole, list);
    const revised = { ...list[list.length - 1]!, close: 123.5, revision: 1 };
    const expectedRevision = Array.from(whole.apply(revised)!.values);
    for (const cut of [0, 1, 300, 719]) {
      const first = new FeatureEngine();
      const before = vectors(first, list.slice(0, cut));
      const second = new FeatureEngine();
      second.restore(JSON.parse(JSON.stringify(first.snapshot())));
      expect(second.symbolCount).toBe(first.symbolCount);
      const after = vectors(second, list.slice(cut));
      expect([...before, ...after]).toEqual(expected);
      expect(Array.from(second.apply(revised)!.values)).toEqual(expectedRevision);
    }
  });

  it('rejects a snapshot taken with other periods or malformed, and stays unchanged', () => {
    const engine = new FeatureEngine();
    vectors(engine, bars(30));
    const snapshot = engine.snapshot();
    const other = new FeatureEngine({ periodsPerYear: { '1d': 365 } });
    expect(() => other.restore(snapshot)).toThrow(/periodsPerYear\.1d/);
    expect(other.symbolCount).toBe(0);
    const broken = JSON.parse(JSON.stringify(snapshot)) as {
      symbols: Array<{ lastTs: unknown[]; sets: unknown[] }>;
    };
    broken.symbols[1]!.sets[2] = { kind: 'feature-set', version: 1 };
    const target = new FeatureEngine();
    vectors(target, bars(3));
    expect(() => target.restore(broken)).toThrow(/snapshot/);
    expect(target.symbolCount).toBe(2);
    expect(() => target.restore({ ...snapshot, kind: 'x' })).toThrow(/unsupported kind/);
    const badTs = JSON.parse(JSON.stringify(snapshot)) as { symbols: Array<{ lastTs: unknown[] }> };
    badTs.symbols[0]!.lastTs[0] = 'soon';
    expect(() => target.restore(badTs)).toThrow(/lastTs\.5m/);
    expect(() =>
      target.restore({ ...snapshot, symbols: [snapshot.symbols[0], snapshot.symbols[0]] }),
    ).toThrow(/unique/);
  });

  it('writes a never-fed timeframe as null lastTs', () => {
    const engine = new FeatureEngine();
    engine.apply(bars(1)[0]!);
    const entry = engine.snapshot().symbols[0]!;
    const tf: Timeframe = '5m';
    expect(entry.lastTs).toEqual([0, null, null]);
    expect(TIMEFRAMES[0]).toBe(tf);
  });
});

// Seeded synthetic OHLCV series for benchmarks: the golden set's generator (mulberry32, Box–Muller, a
// log-price random walk pulled weakly toward ln 100, ~3% unchanged closes), generated once into columns.
// With the default seed its first 5,000 bars are test/fixtures/golden/input.csv exactly (tested).

import { Random } from '../../src/streams/random.js';

export interface BarColumns {
  length: number;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

export function generateBars(count: number, seed = 20240601): BarColumns {
  const random = new Random(seed);
  const uniform = (): number => random.uniform();
  const normal = (): number => random.normal();
  const bars: BarColumns = {
    length: count,
    open: new Float64Array(count),
    high: new Float64Array(count),
    low: new Float64Array(count),
    close: new Float64Array(count),
    volume: new Float64Array(count),
  };
  const anchor = Math.log(100);
  let level = anchor;
  for (let t = 0; t < count; t++) {
    const flat = uniform();
    const z1 = normal();
    const z2 = normal();
    const z3 = normal();
    const z4 = normal();
    const z5 = normal();
    const next = t > 0 && flat < 0.03 ? level : level + 0.0001 - 0.001 * (level - anchor) + 0.015 * z1;
    const open = Math.exp(level + 0.002 * z2);
    const close = Math.exp(next);
    bars.open[t] = round4(open);
    bars.close[t] = round4(close);
    bars.high[t] = round4(Math.max(open, close) * Math.exp(0.006 * Math.abs(z3)));
    bars.low[t] = round4(Math.min(open, close) * Math.exp(-0.006 * Math.abs(z4)));
    bars.volume[t] = Math.round(1e6 * Math.exp(0.35 * z5) * (1 + 25 * Math.abs(next - level)));
    level = next;
  }
  return bars;
}

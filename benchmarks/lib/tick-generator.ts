// Seeded synthetic trades for benchmarks: M symbols, each a random walk in price with random gaps in event
// time; ticks come out in global event-time order (so in order per symbol), identical for the same seed.

import { Random } from '../../src/streams/random.js';

/** One generated trade; `ts` is epoch milliseconds. */
export interface GeneratedTick {
  symbol: string;
  ts: number;
  price: number;
  size: number;
}

export interface TickGeneratorOptions {
  symbols: number;
  seed: number;
  /** Event time of the first possible tick (epoch ms). */
  startMs: number;
  /** Mean gap between two ticks of one symbol (exponentially distributed, at least 1 ms). */
  meanGapMs: number;
  /** Annualised volatility of the price walk (0.3 = 30 %). */
  annualVolatility?: number;
}

const MS_PER_YEAR = 365 * 24 * 3600 * 1000;
const MIN_PRICE = 0.01;
const MEAN_SIZE = 200;

export class TickGenerator {
  readonly symbolNames: readonly string[];
  private readonly random: () => number;
  private readonly prices: Float64Array;
  private readonly nextTs: Float64Array;
  private readonly meanGapMs: number;
  private readonly volatilityPerSqrtMs: number;

  constructor(options: TickGeneratorOptions) {
    if (!Number.isInteger(options.symbols) || options.symbols < 1)
      throw new RangeError('symbols must be >= 1');
    if (!(options.meanGapMs >= 1)) throw new RangeError('meanGapMs must be >= 1');
    const random = new Random(options.seed);
    this.random = () => random.uniform();
    this.meanGapMs = options.meanGapMs;
    this.volatilityPerSqrtMs = (options.annualVolatility ?? 0.3) / Math.sqrt(MS_PER_YEAR);
    const width = String(options.symbols - 1).length;
    this.symbolNames = Array.from(
      { length: options.symbols },
      (_, index) => `SYM${String(index).padStart(width, '0')}`,
    );
    this.prices = new Float64Array(options.symbols);
    this.nextTs = new Float64Array(options.symbols);
    for (let index = 0; index < options.symbols; index++) {
      // Start prices spread log-uniformly over 10 .. 500, like a mixed equity universe.
      this.prices[index] = roundCents(10 ** (1 + 1.7 * this.random()));
      this.nextTs[index] = options.startMs + this.gapMs();
    }
  }

  /** The next tick in event-time order (ties go to the lower symbol index). */
  next(): GeneratedTick {
    let chosen = 0;
    let earliest = Infinity;
    for (let index = 0; index < this.nextTs.length; index++) {
      const ts = this.nextTs[index] ?? Infinity;
      if (ts < earliest) {
        earliest = ts;
        chosen = index;
      }
    }
    const gapMs = this.gapMs();
    const previous = this.prices[chosen] ?? MIN_PRICE;
    const price = Math.max(
      MIN_PRICE,
      roundCents(previous * Math.exp(this.gaussian() * this.volatilityPerSqrtMs * Math.sqrt(gapMs))),
    );
    this.prices[chosen] = price;
    this.nextTs[chosen] = earliest + gapMs;
    const size = 1 + Math.floor(-Math.log(1 - this.random()) * MEAN_SIZE);
    return { symbol: this.symbolNames[chosen] ?? 'SYM', ts: earliest, price, size };
  }

  private gapMs(): number {
    return Math.max(1, Math.round(-Math.log(1 - this.random()) * this.meanGapMs));
  }

  /** Box-Muller; one of the pair is dropped, which keeps the generator stateless beyond the PRNG. */
  private gaussian(): number {
    const u = 1 - this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

function roundCents(price: number): number {
  return Math.round(price * 100) / 100;
}

/** The JSON tick shape every peer parses: {"symbol","ts","price","size"}. */
export function tickJson(tick: GeneratedTick): string {
  return `{"symbol":"${tick.symbol}","ts":${tick.ts},"price":${tick.price},"size":${tick.size}}`;
}

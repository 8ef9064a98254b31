// Quiet synthetic history for the drift harness: the embedded synthetic market (src/streams/synthetic-market.ts,
// regime-switching random walks) through the engine's own tick validator, bar aggregator and FeatureEngine, as
// benchmarks/pipeline.bench.ts's plain loop runs them. "Quiet": one stationary process, no change injected;
// a seed draws both the symbols' price scales and their paths.

import { BarAggregator } from '../../src/bars/bar-aggregator.js';
import { syntheticSchema } from '../../src/config/schema.js';
import { TickValidator } from '../../src/domain/validate-tick.js';
import { isDeadLetter, type Bar, type FeatureVector, type Timeframe } from '../../src/domain/types.js';
import { FeatureEngine } from '../../src/operators/compute-features.js';
import { SyntheticMarket } from '../../src/streams/synthetic-market.js';

export interface QuietReplayOptions {
  seed: number;
  symbols: number;
  /** stop once this many bars of `timeframe` per symbol (on average) became feature vectors */
  barsPerSymbol: number;
  timeframe?: Timeframe;
  /** mean simulated ms between two ticks of one symbol (default 30,000: about 10 ticks per 5m bar) */
  meanTickIntervalMs?: number;
}

/** Symbol names without "-" (a "-" makes the market treat a symbol as crypto, with fractional lots). */
export function replaySymbols(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `S${i}`);
}

/**
 * Runs one replay and passes each feature vector of `timeframe` (in close order, symbols interleaved) to
 * `onVector`; returning false stops the replay. Returns the vectors passed.
 */
export function quietReplay(
  options: QuietReplayOptions,
  onVector: (vector: FeatureVector) => boolean | void,
): number {
  const timeframe = options.timeframe ?? '5m';
  const market = new SyntheticMarket(
    syntheticSchema.parse({
      symbols: replaySymbols(options.symbols),
      seed: options.seed,
      meanTickIntervalMs: options.meanTickIntervalMs ?? 30_000,
      badTickRate: 0,
    }),
  );
  const validator = new TickValidator();
  const aggregator = new BarAggregator();
  const features = new FeatureEngine();
  const bars: Bar[] = [];
  const limit = options.symbols * options.barsPerSymbol;
  let vectors = 0;
  while (vectors < limit) {
    const tick = validator.validate(market.next());
    if (isDeadLetter(tick)) continue;
    aggregator.add(tick, bars);
    for (let i = 0; i < bars.length && vectors < limit; i++) {
      const bar = bars[i] as Bar;
      if (bar.timeframe !== timeframe) continue;
      const vector = features.apply(bar);
      if (vector === undefined) continue;
      vectors++;
      if (onVector(vector) === false) return vectors;
    }
    bars.length = 0;
  }
  return vectors;
}

// Latest values for REST reads and the hub's snapshot tier, from the in-memory store the delivery writes
// (the embedded run's local store; a serving instance's store fed from the output topics).

import { TIMEFRAMES, type Timeframe } from '../domain/types.js';
import type { MemoryStore } from '../sinks/memory/memory-store.js';
import type { Channel, ChannelRecord } from './channels.js';
import type { LatestValues } from './hub.js';

export class StoreLatest implements LatestValues {
  constructor(private readonly store: MemoryStore) {}

  latest(
    channel: Channel,
    symbols: ReadonlySet<string> | undefined,
    model: string | undefined,
  ): ChannelRecord[] {
    const store = this.store;
    const wanted = (symbol: string): boolean => symbols === undefined || symbols.has(symbol);
    if (channel === 'alerts') return [...store.alerts];
    if (channel === 'predictions')
      return [...store.predictions.values()].filter(
        (p) => wanted(p.symbol) && (model === undefined || p.model === model),
      );
    const [kind, tf] = channel.split('.') as ['bars' | 'features', Timeframe];
    const source = kind === 'bars' ? store.bars : store.featureVectors;
    const out: ChannelRecord[] = [];
    for (const record of source.values())
      if (record.timeframe === tf && wanted(record.symbol)) out.push(record);
    return out;
  }

  bar(symbol: string, timeframe: Timeframe) {
    return this.store.latestBar(symbol, timeframe);
  }

  features(symbol: string, timeframe: Timeframe) {
    return this.store.latestFeatures(symbol, timeframe);
  }

  predictions(symbol: string, timeframe: Timeframe, model: string | undefined) {
    return [...this.store.predictions.values()].filter(
      (p) => p.symbol === symbol && p.timeframe === timeframe && (model === undefined || p.model === model),
    );
  }

  symbols(): string[] {
    const all = new Set<string>();
    for (const bar of this.store.bars.values()) all.add(bar.symbol);
    return [...all].sort();
  }
}

export const isTimeframe = (value: unknown): value is Timeframe =>
  typeof value === 'string' && (TIMEFRAMES as readonly string[]).includes(value);

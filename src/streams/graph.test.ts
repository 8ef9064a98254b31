import { from, map, toArray, lastValueFrom, VirtualTimeScheduler } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TickGenerator } from '../../benchmarks/lib/tick-generator.js';
import { BarAggregator } from '../bars/bar-aggregator.js';
import type { Output } from '../domain/output.js';
import type { Bar } from '../domain/types.js';
import { TickValidator } from '../domain/validate-tick.js';
import { EngineStats } from '../monitoring/stats.js';
import { FeatureEngine } from '../operators/compute-features.js';
import { CorporateActionAdjuster } from '../operators/corporate-action-adjuster.js';
import { CorporateActionBook } from './corporate-actions.js';
import { envelopeOf, historyGraph, StreamState, streamGraph } from './graph.js';

const START_MS = Date.UTC(2024, 2, 4);

function ticks(count: number): unknown[] {
  const generator = new TickGenerator({ symbols: 3, seed: 11, startMs: START_MS, meanGapMs: 60_000 });
  return Array.from({ length: count }, () => ({ ...generator.next() }));
}

function run(
  values: readonly unknown[],
  state = new StreamState({}),
  stats?: EngineStats,
): Promise<Output[]> {
  return lastValueFrom(
    streamGraph(from(values).pipe(map(envelopeOf())), state, {
      stats,
      scheduler: new VirtualTimeScheduler(),
    }).pipe(toArray()),
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('streamGraph: one Output stream', () => {
  it('emits dead letters, bars and feature vectors in the order produced, and counts them', async () => {
    const stats = new EngineStats(0);
    const values = ticks(3_000);
    values.splice(10, 0, { symbol: 'SYM0', ts: 'yesterday', price: 1, size: 1 });
    const outputs = await run(values, new StreamState({}), stats);
    const kinds = new Set(outputs.map((o) => o.kind));
    expect(kinds).toEqual(new Set(['dead_letter', 'bar', 'features']));
    const letter = outputs.find((o) => o.kind === 'dead_letter');
    expect(letter?.value).toMatchObject({ reason: 'bad_time', field: 'ts', value: '"yesterday"' });
    // every feature vector comes right after the bar it was computed from
    for (let index = 0; index < outputs.length; index++) {
      const output = outputs[index]!;
      if (output.kind !== 'features') continue;
      const previous = outputs[index - 1]!;
      expect(previous.kind).toBe('bar');
      const bar = previous.value as Bar;
      expect([output.value.symbol, output.value.timeframe, output.value.ts]).toEqual([
        bar.symbol,
        bar.timeframe,
        bar.ts,
      ]);
    }
    expect(stats.ticks).toBe(values.length);
    expect(stats.features).toBe(outputs.filter((o) => o.kind === 'features').length);
    const bars = outputs.filter((o) => o.kind === 'bar').length;
    expect(stats.bars['5m'] + stats.bars['1h'] + stats.bars['1d']).toBe(bars);
    expect(stats.rejectsByReason.get('bad_time')).toBe(1);
  });

  // a bug in any operator's state machine errors the one stream (the engine's failure path), never escapes
  // as an uncaught exception, and no output follows it
  const throwers: Array<[string, () => void]> = [
    ['validateTicks', () => vi.spyOn(TickValidator.prototype, 'validate')],
    ['aggregateBars', () => vi.spyOn(BarAggregator.prototype, 'add')],
    ['adjustCorporateActions', () => vi.spyOn(CorporateActionAdjuster.prototype, 'beforeFeatures')],
    ['computeFeatures', () => vi.spyOn(FeatureEngine.prototype, 'apply')],
  ];
  it.each(throwers)('a throw inside %s becomes the stream error', async (_name, spy) => {
    const bug = new Error('operator bug');
    (spy() as unknown as { mockImplementation(f: () => never): void }).mockImplementation(() => {
      throw bug;
    });
    const seen: Output[] = [];
    const error = await new Promise<unknown>((resolve) => {
      // a book of actions, so the adjust operator is in the graph (without one it is left out)
      const book = new CorporateActionBook();
      book.add({ symbol: 'SYM1', type: 'split', exDate: START_MS + 86_400_000, ratio: 2 });
      streamGraph(from(ticks(3_000)).pipe(map(envelopeOf())), new StreamState({ corporateActions: book }), {
        scheduler: new VirtualTimeScheduler(),
      }).subscribe({ next: (o) => seen.push(o), error: resolve, complete: () => resolve('completed') });
    });
    expect(error).toBe(bug);
  });
});

describe('historyGraph: warm-up through the same operators', () => {
  it('leaves the feature state exactly as the live graph left it for the same bars, and applies actions', async () => {
    const book = new CorporateActionBook();
    book.add({ symbol: 'SYM1', type: 'split', exDate: START_MS + 86_400_000, ratio: 2 });
    const live = new StreamState({ corporateActions: book });
    const outputs = await run(ticks(6_000), live);
    const bars = outputs.filter((o) => o.kind === 'bar').map((o) => o.value as Bar);
    // the stored history holds the latest revision per bar, in end-time order
    const latest = new Map<string, Bar>();
    for (const bar of bars) latest.set(`${bar.symbol}|${bar.timeframe}|${bar.ts}`, bar);
    const rank = { '5m': 0, '1h': 1, '1d': 2 } as const;
    const history = [...latest.values()].sort(
      (a, b) => a.end - b.end || rank[a.timeframe] - rank[b.timeframe],
    );
    const warmed = new StreamState({ corporateActions: book });
    const letters = await lastValueFrom(historyGraph(history, warmed).pipe(toArray()));
    expect(letters).toEqual([]);
    expect(warmed.adjuster.applied).toBe(1);
    expect(live.adjuster.applied).toBe(1);
    for (const symbol of ['SYM0', 'SYM1', 'SYM2'])
      for (const timeframe of ['5m', '1h', '1d'] as const) {
        const a = live.features.stateOf(symbol).sets[timeframe];
        const b = warmed.features.stateOf(symbol).sets[timeframe];
        expect(b.snapshot(), `${symbol} ${timeframe}`).toEqual(a.snapshot());
      }
  });
});

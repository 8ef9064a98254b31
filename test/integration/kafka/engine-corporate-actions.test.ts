// Corporate actions from their topic: every instance reads the whole topic before consuming ticks; a split
// mid-stream makes the features after the ex-date those of the back-adjusted history; malformed actions
// are dead letters with their coordinates.

import { describe, expect, inject, it } from 'vitest';
import { DAY_MS } from '../../../src/domain/time.js';
import { FEATURE_COUNT, type Bar, type FeatureVector } from '../../../src/domain/types.js';
import { FeatureEngine } from '../../../src/operators/compute-features.js';
import { KafkaEngine } from '../../../src/streams/engine.js';
import { MemorySink } from '../../support/memory-sink.js';
import {
  batchReference,
  engineConfig,
  jsonMessages,
  makeTicks,
  produce,
  testKafka,
  uniqueName,
  useTopics,
  waitUntil,
} from './harness.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const ticksTopic = uniqueName('mlfp-it-actions-ticks');
const actionsTopic = uniqueName('mlfp-it-actions');
const base = makeTicks(12_000, 4, 23, 120_000);
const exDate = Math.floor((base.ticks[0]!.ts + 2 * DAY_MS) / DAY_MS) * DAY_MS;
const exDateText = new Date(exDate).toISOString().slice(0, 10);
// SYM1 splits 4-for-1: from the ex-date on it trades at a quarter of the price, four times the size
const ticks = base.ticks.map((tick) =>
  tick.symbol === 'SYM1' && tick.ts >= exDate && tick.ts < base.sentinelMs
    ? { ...tick, price: tick.price / 4, size: tick.size * 4 }
    : tick,
);

useTopics(
  kafka,
  [
    { topic: ticksTopic, numPartitions: 6 },
    { topic: actionsTopic, numPartitions: 2 },
  ],
  async () => {
    await produce(kafka, actionsTopic, [
      { key: 'SYM1', value: JSON.stringify({ symbol: 'SYM1', type: 'split', exDate: exDateText, ratio: 4 }) },
      { key: 'SYM2', value: JSON.stringify({ symbol: 'SYM2', type: 'merger', exDate: exDateText }) },
      { key: 'SYM3', value: '{"symbol":"SYM3","type":"split"' },
    ]);
    await produce(kafka, ticksTopic, jsonMessages(ticks));
  },
);

const RANK = { '5m': 0, '1h': 1, '1d': 2 } as const;

function backAdjusted(bars: Iterable<Bar>, symbol: string): Map<string, FeatureVector> {
  const own = [...bars]
    .filter((bar) => bar.symbol === symbol)
    .sort((a, b) => a.end - b.end || RANK[a.timeframe] - RANK[b.timeframe]);
  const engine = new FeatureEngine();
  const out = new Map<string, FeatureVector>();
  for (const bar of own) {
    const input =
      bar.ts < exDate
        ? {
            ...bar,
            open: bar.open / 4,
            high: bar.high / 4,
            low: bar.low / 4,
            close: bar.close / 4,
            volume: bar.volume * 4,
          }
        : bar;
    const vector = engine.apply(input);
    if (vector !== undefined && bar.ts >= exDate) out.set(`${bar.symbol}|${bar.timeframe}|${bar.ts}`, vector);
  }
  return out;
}

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('Kafka engine corporate actions', { timeout: 90_000 }, () => {
  it('applies a split from the actions topic; malformed actions are dead letters', async () => {
    const sink = new MemorySink();
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-actions'),
        ticks: ticksTopic,
        corporateActions: actionsTopic,
      }),
      { sinks: [sink] },
    );
    const reference = batchReference(ticks);
    await engine.start();
    expect(engine.book.size).toBe(1);
    try {
      await waitUntil(
        () => sink.bars.size >= reference.bars.size && sink.deadLetters.length >= 2,
        30_000,
        'all bars',
      );
    } finally {
      await engine.stop();
    }
    expect(sink.deadLetters.map((letter) => letter.reason).sort()).toEqual(['bad_json', 'unknown_action']);
    expect(sink.deadLetters.every((letter) => letter.source?.topic === actionsTopic)).toBe(true);
    const expected = backAdjusted(reference.bars.values(), 'SYM1');
    expect(expected.size).toBeGreaterThan(300);
    let compared = 0;
    for (const [key, vector] of expected) {
      const actual = sink.features.get(key);
      expect(actual, key).toBeDefined();
      for (let k = 0; k < FEATURE_COUNT; k++) {
        const want = vector.values[k]!;
        const got = actual!.values[k]!;
        if (Number.isNaN(want)) expect(got).toBeNaN();
        else {
          expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(3_000);
    // the other symbols are untouched
    for (const [key, vector] of reference.features)
      if (!key.startsWith('SYM1|'))
        expect(Array.from(sink.features.get(key)!.values)).toEqual(Array.from(vector.values));
  });
});

// A partition without a snapshot warms its features up from stored bars: started on the ticks after a
// midnight, with the bars before it in the "database", the engine computes the features the batch path
// computes over the whole history. While the bar history does not answer (its database is down), consumption
// stands still and health() says what it waits for.

import { describe, expect, inject, it } from 'vitest';
import { DAY_MS } from '../../../src/domain/time.js';
import type { BarHistory } from '../../../src/sinks/sink.js';
import { KafkaEngine } from '../../../src/streams/engine.js';
import { MemoryBarHistory, MemorySink } from '../../support/memory-sink.js';
import {
  batchReference,
  engineConfig,
  firstDifference,
  jsonMessages,
  makeTicks,
  produce,
  sameFeatures,
  testKafka,
  uniqueName,
  useTopics,
  waitUntil,
} from './harness.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const ticksTopic = uniqueName('mlfp-it-warm-ticks');
const actionsTopic = uniqueName('mlfp-it-warm-actions');
const data = makeTicks(12_000, 8, 29, 120_000);
const restartMs = Math.ceil(data.ticks[0]!.ts / DAY_MS) * DAY_MS;
const reference = batchReference(data.ticks);
const later = data.ticks.filter((tick) => tick.ts >= restartMs);

useTopics(
  kafka,
  [
    { topic: ticksTopic, numPartitions: 6 },
    { topic: actionsTopic, numPartitions: 1 },
  ],
  () => produce(kafka, ticksTopic, jsonMessages(later)),
);

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('Kafka engine warm-up', { timeout: 90_000 }, () => {
  it('warms new symbols from stored bars in a few batched queries and matches the full-history features', async () => {
    const history = new MemoryBarHistory([...reference.bars.values()].filter((bar) => bar.ts < restartMs));
    const sink = new MemorySink();
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-warm'),
        ticks: ticksTopic,
        corporateActions: actionsTopic,
        extra: { delivery: { warmUpBars: 10_000 } },
      }),
      { sinks: [sink], barHistory: history },
    );
    const expected = new Map([...reference.features].filter(([, vector]) => vector.ts >= restartMs));
    await engine.start();
    try {
      await waitUntil(() => sink.features.size >= expected.size, 30_000, 'all features');
    } finally {
      await engine.stop();
    }
    expect(expected.size).toBeGreaterThan(1_000);
    expect(firstDifference(sink.features, expected, sameFeatures)).toBeUndefined();
    // one query per timeframe for all new symbols of a batch, each symbol asked for once
    const asked = history.queries.flatMap((query) =>
      query.symbols.map((symbol) => `${symbol}|${query.timeframe}`),
    );
    expect(new Set(asked).size).toBe(asked.length);
    expect(asked.length).toBe(data.symbols.length * 3);
    expect(history.queries.every((query) => query.beforeMs <= restartMs + 300_000)).toBe(true);
  });

  it('stands still while the bar history does not answer, says so in health(), and goes on once it does', async () => {
    let answer!: () => void;
    const databaseBack = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const stored = new MemoryBarHistory([...reference.bars.values()].filter((bar) => bar.ts < restartMs));
    // like PostgresSink.recentBars through an outage: its retry loop holds the call until the server is back
    const history: BarHistory = {
      recentBars: async (symbols, timeframe, beforeMs, count) => {
        await databaseBack;
        return stored.recentBars(symbols, timeframe, beforeMs, count);
      },
    };
    const sink = new MemorySink();
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-warm-wait'),
        ticks: ticksTopic,
        corporateActions: actionsTopic,
      }),
      { sinks: [sink], barHistory: history },
    );
    await engine.start();
    try {
      await waitUntil(() => engine.health().waitingFor !== undefined, 30_000, 'the wait to show in health()');
      expect(engine.health()).toMatchObject({
        state: 'running',
        ready: false,
        paused: false,
        waitingFor: 'the bar history (warm-up)',
      });
      expect(engine.progressExtra()).toContain('(waiting for the bar history (warm-up))');
      expect(engine.stats.ticks).toBe(0); // the warm-up comes before a batch's first tick
      answer();
      await waitUntil(() => engine.stats.ticks === later.length, 30_000, 'every tick after the wait');
      expect(engine.health().waitingFor).toBeUndefined();
      expect(engine.health().ready).toBe(true);
    } finally {
      await engine.stop();
    }
  });
});

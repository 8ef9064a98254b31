// Restarts and rebalances: a graceful stop mid-stream hands over exactly (every tick counted once), a crash
// replays from the last durable snapshot without changing any result, and two instances in one group
// split the partitions and hand them over when one stops. Results are compared with the batch path.

import { describe, expect, inject, it } from 'vitest';
import { KafkaEngine } from '../../../src/streams/engine.js';
import type { EngineEvent } from '../../../src/streams/engine-events.js';
import { MemorySink, MemorySnapshotStore, MemoryTables } from '../../support/memory-sink.js';
import {
  batchReference,
  engineConfig,
  firstDifference,
  jsonMessages,
  makeTicks,
  produce,
  sameBar,
  sameFeatures,
  testKafka,
  uniqueName,
  useTopics,
  waitUntil,
} from './harness.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const ticksTopic = uniqueName('mlfp-it-recovery-ticks');
const splitTopic = uniqueName('mlfp-it-handover-ticks');
const crashTopic = uniqueName('mlfp-it-crash-ticks');
const actionsTopic = uniqueName('mlfp-it-recovery-actions');
const data = makeTicks(30_000, 24, 11);
const reference = batchReference(data.ticks);

useTopics(
  kafka,
  [
    { topic: ticksTopic, numPartitions: 6 },
    { topic: splitTopic, numPartitions: 6 },
    { topic: crashTopic, numPartitions: 6 },
    { topic: actionsTopic, numPartitions: 1 },
  ],
  () => produce(kafka, ticksTopic, jsonMessages(data.ticks)),
);

function instance(
  groupId: string,
  topic: string,
  tables: MemoryTables,
  store: MemorySnapshotStore,
  events: EngineEvent[] = [],
): KafkaEngine {
  return new KafkaEngine(
    engineConfig({
      brokers: services.kafkaBrokers,
      groupId,
      ticks: topic,
      corporateActions: actionsTopic,
      // small fetches: many batches per partition, so a stop or crash lands mid-stream in every partition
      extra: { kafka: { fetchMaxBytesPerPartition: 16_384 } },
    }),
    {
      sinks: [new MemorySink('memory', { tables })],
      snapshotStore: store,
      onEvent: (event) => events.push(event),
    },
  );
}

function expectReference(tables: MemoryTables): void {
  expect(firstDifference(tables.bars, reference.bars, sameBar)).toBeUndefined();
  expect(firstDifference(tables.features, reference.features, sameFeatures)).toBeUndefined();
}

/** Sum over the bars of one timeframe of `volume`: double counting a tick would show here. */
function totalVolume(bars: Map<string, { timeframe: string; volume: number }>, timeframe: string): number {
  let total = 0;
  for (const bar of bars.values()) if (bar.timeframe === timeframe) total += bar.volume;
  return total;
}

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('Kafka engine recovery', { timeout: 90_000 }, () => {
  it('resumes after a graceful stop mid-stream from the snapshots, counting every tick once', async () => {
    const group = uniqueName('mlfp-it-graceful');
    const tables = new MemoryTables();
    const store = new MemorySnapshotStore();
    const first = instance(group, ticksTopic, tables, store);
    await first.start();
    await waitUntil(() => first.stats.ticks >= 8_000, 30_000, 'the first third');
    await first.stop();
    const firstTicks = first.stats.ticks;
    expect(firstTicks).toBeLessThan(data.ticks.length);

    let snapshotted = 0;
    for (let partition = 0; partition < 6; partition++)
      if ((await store.load(group, ticksTopic, partition)) !== undefined) snapshotted++;
    expect(snapshotted).toBeGreaterThan(0);

    const events: EngineEvent[] = [];
    const second = instance(group, ticksTopic, tables, store, events);
    await second.start();
    try {
      await waitUntil(() => firstTicks + second.stats.ticks >= data.ticks.length, 30_000, 'the rest');
      await waitUntil(() => tables.bars.size >= reference.bars.size, 10_000, 'all bars durable');
    } finally {
      await second.stop();
    }
    // exact hand-over: the second instance started where the first one's final snapshot ended
    expect(firstTicks + second.stats.ticks).toBe(data.ticks.length);
    // every partition the first instance had started is restored; one it never reached starts afresh
    expect(
      events.filter((event) => event.type === 'partition.restored'),
      events.map((event) => `${event.type}: ${event.message}`).join('\n'),
    ).toHaveLength(snapshotted);
    expectReference(tables);
    expect(totalVolume(tables.bars, '1d')).toBe(totalVolume(reference.bars, '1d'));
  });

  it('replays from the last durable snapshot after a crash, and no result changes', async () => {
    const group = uniqueName('mlfp-it-crash');
    const tables = new MemoryTables();
    const store = new MemorySnapshotStore();
    // two thirds of the ticks are there when the first instance crashes, the rest come after: however fast
    // it runs, the crash is mid-stream and the second instance has work of its own
    const split = 20_000;
    await produce(kafka, crashTopic, jsonMessages(data.ticks.slice(0, split)));
    const first = instance(group, crashTopic, tables, store);
    await first.start();
    await waitUntil(
      () => first.stats.ticks >= 12_000 && store.saved >= 6,
      30_000,
      'a third and some snapshots',
    );
    await first.abort();
    const firstTicks = first.stats.ticks;
    const recordsBeforeRestart = tables.records;
    await produce(kafka, crashTopic, jsonMessages(data.ticks.slice(split)));

    const events: EngineEvent[] = [];
    const second = instance(group, crashTopic, tables, store, events);
    await second.start();
    try {
      await waitUntil(
        () =>
          tables.bars.size >= reference.bars.size &&
          second.health().partitions.every((p) => p.lag === 0) &&
          second.health().partitions.length === 6,
        30_000,
        'the rest',
      );
    } finally {
      await second.stop();
    }
    expect(events.filter((event) => event.type === 'partition.restored').length).toBeGreaterThan(0);
    // something was replayed (the crash lost what followed the last snapshot), yet nothing was counted twice
    expect(firstTicks + second.stats.ticks).toBeGreaterThanOrEqual(data.ticks.length);
    expect(tables.records).toBeGreaterThan(recordsBeforeRestart);
    expectReference(tables);
    expect(totalVolume(tables.bars, '5m')).toBe(totalVolume(reference.bars, '5m'));
  });

  it('splits the partitions between two instances and hands them over when one stops', async () => {
    const group = uniqueName('mlfp-it-two');
    const tables = new MemoryTables();
    const store = new MemorySnapshotStore();
    const half = Math.floor(data.ticks.length / 2);
    await produce(kafka, splitTopic, jsonMessages(data.ticks.slice(0, half)));
    const eventsA: EngineEvent[] = [];
    const eventsB: EngineEvent[] = [];
    const a = instance(group, splitTopic, tables, store, eventsA);
    const b = instance(group, splitTopic, tables, store, eventsB);
    await Promise.all([a.start(), b.start()]);
    try {
      const caughtUp = (): boolean => {
        const partitions = [...a.health().partitions, ...b.health().partitions];
        return partitions.length === 6 && partitions.every((p) => p.nextOffset !== undefined && p.lag === 0);
      };
      await waitUntil(caughtUp, 30_000, 'both instances to own and finish their partitions');
      const ownedByB = b.health().partitions.map((p) => p.partition);
      expect(ownedByB.length).toBeGreaterThan(0);
      expect(a.health().partitions.length).toBeGreaterThan(0);
      await b.stop();
      await produce(kafka, splitTopic, jsonMessages(data.ticks.slice(half)));
      await waitUntil(
        () => a.health().partitions.length === 6 && tables.bars.size >= reference.bars.size,
        30_000,
        'A to take over and finish',
      );
      const restoredByA = eventsA
        .filter((event) => event.type === 'partition.restored')
        .map((event) => event.fields?.partition);
      for (const partition of ownedByB) expect(restoredByA).toContain(partition);
    } finally {
      await a.stop();
      await b.stop();
    }
    expectReference(tables);
  });
});

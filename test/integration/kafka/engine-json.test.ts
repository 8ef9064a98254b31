// Kafka → engine (memory sinks) over JSON ticks on a 6-partition topic equals the batch path exactly.

import { describe, expect, inject, it } from 'vitest';
import { KafkaEngine } from '../../../src/streams/engine.js';
import type { EngineEvent } from '../../../src/streams/engine-events.js';
import { MemorySink } from '../../support/memory-sink.js';
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
const ticksTopic = uniqueName('mlfp-it-ticks');
const actionsTopic = uniqueName('mlfp-it-actions');
const data = makeTicks(30_000, 24);

useTopics(
  kafka,
  [
    { topic: ticksTopic, numPartitions: 6 },
    { topic: actionsTopic, numPartitions: 1 },
  ],
  () => produce(kafka, ticksTopic, jsonMessages(data.ticks)),
);

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('Kafka engine, JSON ticks', { timeout: 90_000 }, () => {
  it('builds the same bars and features as the batch path, every tick counted once', async () => {
    const sink = new MemorySink();
    const events: EngineEvent[] = [];
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-group'),
        ticks: ticksTopic,
        corporateActions: actionsTopic,
      }),
      { sinks: [sink], onEvent: (event) => events.push(event) },
    );
    await engine.start();
    const reference = batchReference(data.ticks);
    try {
      await waitUntil(
        () => engine.stats.ticks >= data.ticks.length && sink.bars.size >= reference.bars.size,
        60_000,
        'all ticks',
      );
    } finally {
      await engine.stop();
    }
    expect(engine.stats.ticks).toBe(data.ticks.length);
    expect(engine.stats.rejects).toBe(0);
    expect(reference.bars.size).toBeGreaterThan(1_000);
    expect(firstDifference(sink.bars, reference.bars, sameBar)).toBeUndefined();
    expect(firstDifference(sink.features, reference.features, sameFeatures)).toBeUndefined();
    expect(engine.delivery.stats.commits).toBeGreaterThan(0);
    expect(events.filter((event) => event.type === 'partition.fresh')).toHaveLength(6);
  });
});

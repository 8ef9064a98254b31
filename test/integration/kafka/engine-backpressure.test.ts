// Sinks that fall behind pause consumption (pending records stay bounded, health says so) and nothing is
// lost when they catch up; a sink that refuses a write stops the engine without committing anything past
// what was durable.

import { describe, expect, inject, it } from 'vitest';
import { MlfpError } from '../../../src/errors.js';
import { KafkaEngine } from '../../../src/streams/engine.js';
import { MemorySink, WriteGate } from '../../support/memory-sink.js';
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
const ticksTopic = uniqueName('mlfp-it-pressure-ticks');
const actionsTopic = uniqueName('mlfp-it-pressure-actions');
const data = makeTicks(30_000, 24, 17, 30_000);
const MAX_PENDING = 3_000;

useTopics(
  kafka,
  [
    { topic: ticksTopic, numPartitions: 6 },
    { topic: actionsTopic, numPartitions: 1 },
  ],
  () => produce(kafka, ticksTopic, jsonMessages(data.ticks)),
);

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('Kafka engine backpressure', { timeout: 90_000 }, () => {
  it('pauses while a sink is stuck, keeps pending records bounded, and loses nothing when it recovers', async () => {
    const gate = new WriteGate();
    const slow = new MemorySink('slow', { gate: gate.gate });
    const fast = new MemorySink('fast', { tables: slow.tables });
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-pressure'),
        ticks: ticksTopic,
        corporateActions: actionsTopic,
        extra: { delivery: { maxPendingRecords: MAX_PENDING, maxBatchRecords: 500, flushIntervalMs: 20 } },
      }),
      { sinks: [slow, fast] },
    );
    const reference = batchReference(data.ticks);
    gate.close();
    await engine.start();
    slow.setState('retrying');
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, engine.delivery.pendingRecords);
    }, 5);
    try {
      await waitUntil(() => engine.health().paused, 30_000, 'consumption to pause');
      peak = Math.max(peak, engine.delivery.pendingRecords);
      const health = engine.health();
      expect(health.ready).toBe(false);
      expect(health.outputs.find((output) => output.name === 'slow')?.state).toBe('retrying');
      expect(engine.progressExtra()).toMatch(/\(paused\).*slow retrying/);
      const ticksWhilePaused = engine.stats.ticks;
      expect(ticksWhilePaused).toBeLessThan(data.ticks.length);
      // both write slots are stuck on the slow sink; nothing is durable there, so nothing is committed
      await waitUntil(() => gate.held >= 2, 10_000, 'writes to queue up');
      expect(engine.delivery.stats.commits).toBe(0);
      expect(engine.health().paused).toBe(true);

      slow.setState('up');
      gate.open();
      await waitUntil(() => slow.tables.bars.size >= reference.bars.size, 30_000, 'all bars after recovery');
    } finally {
      clearInterval(sampler);
      gate.open(); // a stop waits for durable writes (up to 30 s): let them through
      await engine.stop();
    }
    // the limit plus what one check interval and one fetched batch can add
    console.info(`backpressure: peak pending ${peak} records with maxPendingRecords ${MAX_PENDING}`);
    expect(peak).toBeGreaterThan(MAX_PENDING / 2);
    expect(peak).toBeLessThan(MAX_PENDING * 2);
    expect(engine.stats.ticks).toBe(data.ticks.length);
    expect(firstDifference(slow.tables.bars, reference.bars, sameBar)).toBeUndefined();
    expect(firstDifference(slow.tables.features, reference.features, sameFeatures)).toBeUndefined();
  });

  it('stops without committing when a sink refuses a write', async () => {
    const group = uniqueName('mlfp-it-refused');
    const sink = new MemorySink();
    sink.failNext = new MlfpError('sink_unavailable', 'value too large for column', { retriable: false });
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: group,
        ticks: ticksTopic,
        corporateActions: actionsTopic,
      }),
      { sinks: [sink] },
    );
    await engine.start();
    await expect(engine.done).rejects.toThrow('value too large for column');
    expect(engine.engineState).toBe('failed');
    expect(engine.health().error).toMatch(/value too large/);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [ticksTopic] });
      expect(offsets[0]!.partitions.every((partition) => partition.offset === '-1')).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });
});

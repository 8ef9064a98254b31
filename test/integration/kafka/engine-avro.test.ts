// Avro ticks through the real schema registry (Apicurio, Confluent-compatible API): results equal the batch
// path; a frame without the magic byte, an unknown schema id, a truncated body and a record of another schema
// are dead letters.

import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Message } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { KafkaEngine } from '../../../src/streams/engine.js';
import { registerTickSchemas } from '../../support/avro-schemas.js';
import { MemorySink } from '../../support/memory-sink.js';
import {
  batchReference,
  engineConfig,
  firstDifference,
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
const ticksTopic = uniqueName('mlfp-it-avro-ticks');
const actionsTopic = uniqueName('mlfp-it-avro-actions');
const data = makeTicks(12_000, 12, 9);
const registry = new SchemaRegistry({ host: services.registryUrl });
const expectedReasons: Record<string, number> = { bad_schema: 3, missing_field: 1 };

useTopics(
  kafka,
  [
    { topic: ticksTopic, numPartitions: 6 },
    { topic: actionsTopic, numPartitions: 1 },
  ],
  async () => {
    const { tick: id, other } = await registerTickSchemas(registry, ticksTopic, 'mlfp.test');
    const messages: Message[] = [];
    for (const tick of data.ticks) {
      const value = await registry.encode(id, { ...tick, bid: null, ask: null, exchange: null, seq: null });
      messages.push({ key: tick.symbol, value });
    }
    const valid = messages[10]!.value as Buffer;
    const badFrames = [
      Buffer.from('{"symbol":"SYM01","ts":1,"price":1,"size":1}'),
      Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0x00, 0x01]), valid.subarray(5)]),
      valid.subarray(0, 9),
      await registry.encode(other, { name: 'not a tick' }),
    ];
    const mixed: Message[] = [];
    messages.forEach((message, index) => {
      mixed.push(message);
      if (index % 3_000 === 1_500) mixed.push({ key: 'BAD', value: badFrames[index / 3_000 - 0.5]! });
    });
    await produce(kafka, ticksTopic, mixed);
  },
);

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('Kafka engine, Avro ticks', { timeout: 90_000 }, () => {
  it('decodes through the registry to the same results as the batch path; bad frames are dead letters', async () => {
    const sink = new MemorySink();
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-avro'),
        ticks: ticksTopic,
        corporateActions: actionsTopic,
        extra: { kafka: { format: 'avro', registry: { url: services.registryUrl } } },
      }),
      { sinks: [sink] },
    );
    const reference = batchReference(data.ticks);
    await engine.start();
    try {
      await waitUntil(
        () => sink.bars.size >= reference.bars.size && sink.deadLetters.length >= 4,
        60_000,
        'all ticks',
      );
    } finally {
      await engine.stop();
    }
    const reasons: Record<string, number> = {};
    for (const letter of sink.deadLetters) reasons[letter.reason] = (reasons[letter.reason] ?? 0) + 1;
    expect(reasons).toEqual(expectedReasons);
    expect(firstDifference(sink.bars, reference.bars, sameBar)).toBeUndefined();
    expect(firstDifference(sink.features, reference.features, sameFeatures)).toBeUndefined();
  });
});

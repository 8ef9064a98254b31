// Malformed messages mixed into the tick stream all land in the dead-letter output with a reason, their
// coordinates and original bytes; every valid tick still counts (results equal the batch path over the
// valid ticks); prototype-pollution payloads change nothing; the engine keeps running.

import type { Message } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import type { ErrorCode } from '../../../src/errors.js';
import { KafkaEngine } from '../../../src/streams/engine.js';
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
const ticksTopic = uniqueName('mlfp-it-malformed-ticks');
const actionsTopic = uniqueName('mlfp-it-malformed-actions');
const data = makeTicks(12_000, 12, 5);
const ts = data.ticks[100]!.ts;

/** One payload per kind of damage, each with the reason it must get. */
function malformed(index: number): { value: Buffer | null; reason: ErrorCode } {
  const symbol = data.symbols[index % data.symbols.length]!;
  const kinds: Array<{ value: Buffer | null; reason: ErrorCode }> = [
    { value: Buffer.from(`{"symbol":"${symbol}","ts":${ts},"price":1.5,`), reason: 'bad_json' },
    { value: Buffer.from(`{"symbol":${index},"ts":${ts},"price":1.5,"size":1}`), reason: 'wrong_type' },
    { value: Buffer.from(`[${index},1,2]`), reason: 'wrong_type' },
    { value: Buffer.from(`${index}`), reason: 'wrong_type' },
    {
      // a number given as a string is wrong_type in a JSON tick (validation.numbersAsStrings: false)
      value: Buffer.from(`{"symbol":"${symbol}","ts":${ts},"price":"NaN","size":${index}}`),
      reason: 'wrong_type',
    },
    {
      value: Buffer.from(`{"symbol":"${symbol}","ts":${ts},"price":1e999,"size":${index}}`),
      reason: 'not_finite',
    },
    {
      value: Buffer.from(`{"symbol":"${symbol}","ts":${ts},"price":-${index + 1},"size":1}`),
      reason: 'non_positive_price',
    },
    {
      value: Buffer.concat([
        Buffer.from(`{"symbol":"${symbol}","n":${index},"x":"`),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from('"}'),
      ]),
      reason: 'bad_encoding',
    },
    { value: null, reason: 'tombstone' },
    {
      value: Buffer.from(
        `{"__proto__":{"price":5,"size":1,"polluted":${index}},"constructor":{"prototype":{"polluted":1}},"symbol":"${symbol}","ts":${ts}}`,
      ),
      reason: 'missing_field',
    },
    {
      value: Buffer.from(
        `{"symbol":"${symbol}","ts":${ts},"price":${'['.repeat(20_000)}${']'.repeat(20_000)},"size":${index}}`,
      ),
      reason: 'wrong_type',
    },
  ];
  return kinds[index % kinds.length]!;
}

const BAD_COUNT = 440;
const bad = Array.from({ length: BAD_COUNT }, (_, index) => malformed(index));
// two that are too large: 5 MB of JSON and 100k nested brackets
bad.push({ value: Buffer.from(`{"symbol":"A","pad":"${'x'.repeat(5_000_000)}"}`), reason: 'too_large' });
bad.push({ value: Buffer.from('['.repeat(100_000)), reason: 'too_large' });

useTopics(
  kafka,
  [
    // 5 MB messages need a topic that accepts them
    { topic: ticksTopic, numPartitions: 6, configEntries: [{ name: 'max.message.bytes', value: '8000000' }] },
    { topic: actionsTopic, numPartitions: 1 },
  ],
  async () => {
    const good = jsonMessages(data.ticks);
    const messages: Message[] = [];
    const every = Math.floor(good.length / bad.length);
    for (let index = 0; index < good.length; index++) {
      messages.push(good[index]!);
      const which = index / every;
      if (index % every === 0 && which < bad.length)
        messages.push({ key: `BAD${which % 7}`, value: bad[which]!.value });
    }
    await produce(kafka, ticksTopic, messages, 500);
  },
);

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('Kafka engine, malformed input', { timeout: 90_000 }, () => {
  it('dead-letters every malformed message with its reason and bytes, and loses no valid tick', async () => {
    const sink = new MemorySink();
    const engine = new KafkaEngine(
      engineConfig({
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-malformed'),
        ticks: ticksTopic,
        corporateActions: actionsTopic,
      }),
      { sinks: [sink] },
    );
    const reference = batchReference(data.ticks);
    await engine.start();
    try {
      await waitUntil(
        () => sink.deadLetters.length >= bad.length && sink.bars.size >= reference.bars.size,
        60_000,
        'all messages',
      );
      expect(engine.engineState).toBe('running');
    } finally {
      await engine.stop();
    }
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(engine.stats.ticks).toBe(data.ticks.length + bad.length);

    const expectedReasons = new Map<string, number>();
    for (const item of bad) expectedReasons.set(item.reason, (expectedReasons.get(item.reason) ?? 0) + 1);
    const actualReasons = new Map<string, number>();
    for (const letter of sink.deadLetters)
      actualReasons.set(letter.reason, (actualReasons.get(letter.reason) ?? 0) + 1);
    expect(Object.fromEntries(actualReasons)).toEqual(Object.fromEntries(expectedReasons));

    const expectedOriginals = bad
      .filter((item) => item.value !== null)
      .map((item) => item.value!.toString('base64'))
      .sort();
    const originals = sink.deadLetters
      .filter((letter) => letter.original !== undefined)
      .map((letter) => Buffer.from(letter.original as Uint8Array).toString('base64'))
      .sort();
    expect(originals).toEqual(expectedOriginals);
    for (const letter of sink.deadLetters) {
      expect(letter.source?.topic).toBe(ticksTopic);
      expect(letter.source?.partition).toBeGreaterThanOrEqual(0);
      expect(Number(letter.source?.offset)).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(sink.deadLetters.map((l) => `${l.source?.partition}:${l.source?.offset}`)).size).toBe(
      bad.length,
    );

    expect(firstDifference(sink.bars, reference.bars, sameBar)).toBeUndefined();
    expect(firstDifference(sink.features, reference.features, sameFeatures)).toBeUndefined();
  });
});

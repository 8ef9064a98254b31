// The input-contract config keys are live in the Kafka engine: the same messages through a strict engine
// (defaults, plus bars.maxClockSkewMs and a small dataQuality window) and a relaxed one (every validation.*
// relaxed): the strict one dead-letters each rule's record with its code and raises data-quality alerts, the
// relaxed one accepts them and says so at start.

import type { Message } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import type { EngineEvent } from '../../../src/streams/engine-events.js';
import { KafkaEngine } from '../../../src/streams/engine.js';
import { MemorySink } from '../../support/memory-sink.js';
import { engineConfig, makeTicks, produce, testKafka, uniqueName, useTopics, waitUntil } from './harness.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const ticksTopic = uniqueName('mlfp-it-contract-ticks');
const actionsTopic = uniqueName('mlfp-it-contract-actions');
const data = makeTicks(300, 4, 11, 20_000);
const at = data.ticks[150]!;
const iso = (ms: number) => new Date(ms).toISOString();
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** One record per rule, each a valid tick but for the rule. */
const specials: Array<{ message: Message; strict: string }> = [
  {
    message: {
      key: at.symbol,
      value: `{"symbol":"${at.symbol}","ts":${at.ts},"price":"${at.price}","size":1}`,
    },
    strict: 'wrong_type',
  },
  {
    message: {
      key: 'other_key',
      value: `{"symbol":"${at.symbol}","ts":${at.ts},"price":${at.price},"size":1}`,
    },
    strict: 'key_mismatch',
  },
  {
    message: {
      key: at.symbol,
      value: `{"symbol":"${at.symbol}","ts":"${iso(at.ts)}","price":${at.price},"size":1,"ts":"${iso(at.ts + 1)}"}`,
    },
    strict: 'duplicate_member',
  },
  {
    message: {
      key: at.symbol,
      value: Buffer.concat([
        BOM,
        Buffer.from(`{"symbol":"${at.symbol}","ts":${at.ts},"price":${at.price},"size":1}`),
      ]),
    },
    strict: 'bad_encoding',
  },
  {
    // years ahead of the wall clock: bars.maxClockSkewMs rejects it at once (else the event-time guard would)
    message: {
      key: at.symbol,
      value: `{"symbol":"${at.symbol}","ts":"2190-01-01T00:00:00Z","price":1,"size":1}`,
    },
    strict: 'future_time',
  },
];

useTopics(
  kafka,
  [
    { topic: ticksTopic, numPartitions: 1 },
    { topic: actionsTopic, numPartitions: 1 },
  ],
  async () => {
    const messages: Message[] = data.ticks.map((tick) => ({
      key: tick.symbol,
      value: `{"symbol":"${tick.symbol}","ts":${tick.ts},"price":${tick.price},"size":${tick.size}}`,
    }));
    messages.splice(151, 0, ...specials.map((special) => special.message));
    await produce(kafka, ticksTopic, messages);
  },
);

async function run(
  extra: Record<string, unknown>,
): Promise<{ sink: MemorySink; engine: KafkaEngine; events: EngineEvent[] }> {
  const sink = new MemorySink();
  const events: EngineEvent[] = [];
  const engine = new KafkaEngine(
    engineConfig({
      brokers: services.kafkaBrokers,
      groupId: uniqueName('mlfp-it-contract'),
      ticks: ticksTopic,
      corporateActions: actionsTopic,
      extra,
    }),
    { sinks: [sink], onEvent: (event) => events.push(event) },
  );
  await engine.start();
  try {
    await waitUntil(
      () => engine.stats.ticks >= data.ticks.length + specials.length && engine.delivery.pendingRecords === 0,
      60_000,
      'every message consumed and delivered',
    );
  } finally {
    await engine.stop();
  }
  return { sink, engine, events };
}

describe('Kafka engine, input-contract config', { timeout: 90_000 }, () => {
  it('strict: each rule dead-letters its record with its code; the data-quality alerts fire and resolve', async () => {
    const { sink, engine } = await run({
      bars: { maxClockSkewMs: 60_000 },
      dataQuality: { windowRecords: 20, maxShare: 0.05 },
    });
    expect(sink.deadLetters.map((letter) => letter.reason).sort()).toStrictEqual(
      specials.map((special) => special.strict).sort(),
    );
    const clock = sink.deadLetters.find((letter) => letter.reason === 'future_time')!;
    expect(clock.message).toContain('ahead of the wall clock (bars.maxClockSkewMs 60000)');
    const system = sink.tables.alerts.filter((alert) => alert.type === 'system');
    const firing = system.filter((alert) => alert.state === 'firing').map((alert) => alert.subject);
    const resolved = system.filter((alert) => alert.state === 'resolved').map((alert) => alert.subject);
    expect(firing.length).toBeGreaterThan(0);
    expect(resolved.sort()).toStrictEqual(firing.sort());
    for (const subject of firing)
      expect(subject).toMatch(new RegExp(`^source:${ticksTopic}\\[0\\]:[a-z_]+$`));
    expect(engine.health().degraded).toStrictEqual([]);
  });

  it('relaxed: every validation.* switch accepts its record and is logged as a warning at start', async () => {
    const { sink, events } = await run({
      validation: {
        keyMustEqualSymbol: false,
        numbersAsStrings: true,
        rejectDuplicateMembers: false,
        rejectByteOrderMark: false,
      },
    });
    // only the far-future tick is refused, by the event-time guard this time (no wall-clock bound)
    expect(sink.deadLetters.map((letter) => letter.reason)).toStrictEqual(['future_time']);
    expect(sink.deadLetters[0]!.message).toContain('ahead of its stream');
    const warnings = events.filter((event) => event.level === 'warn').map((event) => event.message);
    for (const key of [
      'keyMustEqualSymbol',
      'numbersAsStrings',
      'rejectDuplicateMembers',
      'rejectByteOrderMark',
    ])
      expect(warnings.filter((warning) => warning.startsWith(`validation.${key} `))).toHaveLength(1);
  });
});

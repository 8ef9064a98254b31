// Shared pieces of the Kafka engine integration tests: unique names, seeded ticks produced one send at a
// time (per-partition order), the batch reference (the same operators over all ticks in one stream), engine
// configs for the test broker, and polling helpers.

import { randomUUID } from 'node:crypto';
import { Subject } from 'rxjs';
import { afterAll, beforeAll } from 'vitest';
import { Kafka, logLevel, Partitioners, type Admin, type Message } from 'kafkajs';
import { ensureTopics } from '../../../src/sinks/kafka/kafka-topics.js';
import { TickGenerator, tickJson, type GeneratedTick } from '../../../benchmarks/lib/tick-generator.js';
import { parseConfig } from '../../../src/config/load.js';
import type { EngineConfig } from '../../../src/config/schema.js';
import type { Bar, FeatureVector } from '../../../src/domain/types.js';
import { EngineStats } from '../../../src/monitoring/stats.js';
import type { TickEnvelope } from '../../../src/operators/validate-ticks.js';
import { StreamState, streamGraph } from '../../../src/streams/graph.js';
import { dispatchTo } from '../../support/dispatch-outputs.js';
import { barKey } from '../../support/memory-sink.js';

export const DAY_MS = 86_400_000;

export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(brokers: string[], clientId = 'mlfp-it-kafka-engine'): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING });
}

export async function createTopics(
  kafka: Kafka,
  topics: Array<{
    topic: string;
    numPartitions: number;
    configEntries?: Array<{ name: string; value: string }>;
  }>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics });
  } catch {
    // best effort: a leftover test topic is harmless
  } finally {
    await admin.disconnect();
  }
}

/**
 * A test file's topics: created before its tests, then `fill` (producing their input) runs; deleted after
 * the tests. Call at the top level of the file.
 */
export function useTopics(
  kafka: Kafka,
  topics: Parameters<typeof createTopics>[1],
  fill?: () => Promise<void>,
): void {
  beforeAll(async () => {
    await createTopics(kafka, topics);
    await fill?.();
  });
  afterAll(async () => {
    await deleteTopics(
      kafka,
      topics.map((t) => t.topic),
    );
  });
}

export interface TickSet {
  ticks: GeneratedTick[];
  symbols: readonly string[];
  /** ts of the first sentinel ticks: three per symbol, far enough ahead to close every earlier bar */
  sentinelMs: number;
}

/** `count` seeded ticks in event-time order, then three sentinel ticks per symbol 3 days after the last one. */
export function makeTicks(count: number, symbols: number, seed = 7, meanGapMs = 200_000): TickSet {
  const generator = new TickGenerator({ symbols, seed, startMs: Date.UTC(2024, 2, 4), meanGapMs });
  const ticks: GeneratedTick[] = [];
  for (let index = 0; index < count; index++) ticks.push(generator.next());
  const sentinelMs = Math.ceil((ticks[ticks.length - 1]!.ts + 3 * DAY_MS) / DAY_MS) * DAY_MS + 1_000;
  // three per symbol: the engine's event-time guard holds a lone tick far ahead of its stream until later ticks
  // confirm its time (bars.futureTime.confirmTicks = 3), so one sentinel alone would close nothing
  for (let copy = 0; copy < 3; copy++)
    for (const symbol of generator.symbolNames)
      ticks.push({ symbol, ts: sentinelMs + copy, price: 100, size: 1 });
  return { ticks, symbols: generator.symbolNames, sentinelMs };
}

/** Produces keyed messages in order, one send in flight (kafkajs can reorder concurrent sends). */
export async function produce(
  kafka: Kafka,
  topic: string,
  messages: Message[],
  chunk = 2_000,
): Promise<void> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    for (let start = 0; start < messages.length; start += chunk)
      await producer.send({ topic, acks: -1, messages: messages.slice(start, start + chunk) });
  } finally {
    await producer.disconnect();
  }
}

export function jsonMessages(ticks: readonly GeneratedTick[]): Message[] {
  return ticks.map((tick) => ({ key: tick.symbol, value: tickJson(tick) }));
}

export interface Reference {
  bars: Map<string, Bar>;
  features: Map<string, FeatureVector>;
}

/**
 * The batch path: the same validate → bars → features operators over all ticks in one stream, no idle
 * close and no final flush (the sentinels close every bar the engine can close), latest revision per key.
 */
export function batchReference(values: readonly unknown[], allowedLatenessMs = 2_000): Reference {
  const bars = new Map<string, Bar>();
  const features = new Map<string, FeatureVector>();
  const state = new StreamState({ bars: { allowedLatenessMs, idleTimeoutMs: Infinity } });
  const input = new Subject<TickEnvelope>();
  const subscription = streamGraph(input, state, { stats: new EngineStats(0) }).subscribe(
    dispatchTo({
      bar: (bar) => void bars.set(barKey(bar), { ...bar }),
      features: (vector) => void features.set(barKey(vector), { ...vector, values: vector.values.slice() }),
    }),
  );
  for (const value of values) input.next({ value });
  subscription.unsubscribe();
  return { bars, features };
}

export interface EngineConfigOptions {
  brokers: string[];
  groupId: string;
  ticks: string;
  corporateActions: string;
  dlq?: string;
  snapshotsIntervalMs?: number;
  store?: 'none' | 'memory';
  extra?: Record<string, unknown>;
}

export function engineConfig(options: EngineConfigOptions): EngineConfig {
  const raw: Record<string, unknown> = {
    source: 'kafka',
    bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 3_600_000 },
    kafka: {
      brokers: options.brokers,
      clientId: 'mlfp-it-engine',
      groupId: options.groupId,
      topics: {
        ticks: options.ticks,
        corporateActions: options.corporateActions,
      },
      maxWaitTimeInMs: 100,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
    },
    outputs: { kafka: { topics: { deadLetters: options.dlq ?? `${options.ticks}.dlq` } } },
    snapshots: { store: options.store ?? 'memory', intervalMs: options.snapshotsIntervalMs ?? 200 },
    delivery: { flushIntervalMs: 50 },
    progress: { intervalMs: 0 },
  };
  for (const [section, values] of Object.entries(options.extra ?? {}))
    raw[section] = {
      ...(raw[section] as Record<string, unknown> | undefined),
      ...(values as Record<string, unknown>),
    };
  return parseConfig(raw);
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Keys and values of two maps, for a readable first difference. */
export function firstDifference<T>(
  actual: Map<string, T>,
  expected: Map<string, T>,
  same: (a: T, b: T) => boolean,
): string | undefined {
  for (const [key, value] of expected) {
    const other = actual.get(key);
    if (other === undefined) return `missing ${key}`;
    if (!same(other, value)) return `differs at ${key}: ${JSON.stringify(other)} vs ${JSON.stringify(value)}`;
  }
  for (const key of actual.keys()) if (!expected.has(key)) return `unexpected ${key}`;
  return undefined;
}

export function sameBar(a: Bar, b: Bar): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function sameFeatures(a: FeatureVector, b: FeatureVector): boolean {
  if (
    a.symbol !== b.symbol ||
    a.timeframe !== b.timeframe ||
    a.ts !== b.ts ||
    a.revision !== b.revision ||
    a.close !== b.close
  )
    return false;
  for (let index = 0; index < a.values.length; index++)
    if (!Object.is(a.values[index], b.values[index])) return false;
  return a.values.length === b.values.length;
}

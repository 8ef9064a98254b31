// One graph, one composition root: the embedded run (`mlfp run`, synthetic market) and the Kafka run of the
// same ticks (produced to a one-partition topic) go through runApp and give the same outputs: the same bars,
// feature vectors and predictions (every value), the same number of dead letters. The one difference is by
// design: an embedded input that completes flushes its open bars; a Kafka run never ends its input, so those
// last bars (one per symbol and timeframe at most) and what follows from them exist only in the embedded run.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCommand } from '../../../src/cli/run-command.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Prediction } from '../../../src/domain/types.js';
import { syntheticTicks } from '../../../src/streams/synthetic-market.js';
import { barKey, MemorySink } from '../../support/memory-sink.js';
import { createTopics, deleteTopics, produce, testKafka, uniqueName, waitUntil } from '../kafka/harness.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const ticksTopic = uniqueName('mlfp-it-same-ticks');
const actionsTopic = uniqueName('mlfp-it-same-actions');
const SYNTHETIC = {
  symbols: ['AAPL', 'MSFT', 'XOM'],
  seed: 23,
  meanTickIntervalMs: 4_000,
  badTickRate: 0.002,
  maxTicks: 30_000,
};
const BARS = { idleTimeoutMs: 3_600_000 };
let dir: string;

const io = { stdout: () => undefined, stderr: () => undefined };
const predictionKey = (p: Prediction): string => `${p.model}|${barKey(p)}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-same-'));
  await createTopics(kafka, [
    { topic: ticksTopic, numPartitions: 1 },
    { topic: actionsTopic, numPartitions: 1 },
  ]);
  // the very records the embedded run reads, as JSON messages keyed by symbol (none when it has none)
  const config = await loadConfig(undefined);
  const values = await lastValueFrom(syntheticTicks({ ...config.synthetic, ...SYNTHETIC }).pipe(toArray()));
  const messages: Message[] = values.map((value) => ({
    key: typeof value.symbol === 'string' ? value.symbol : null,
    value: JSON.stringify(value),
  }));
  await produce(kafka, ticksTopic, messages);
});

afterAll(async () => {
  await deleteTopics(kafka, [ticksTopic, actionsTopic]);
});

describe('embedded and Kafka runs of the same ticks', { timeout: 120_000 }, () => {
  it('give the same bars, features and predictions through the one composition root', async () => {
    const embeddedPath = join(dir, 'embedded.json');
    await writeFile(
      embeddedPath,
      JSON.stringify({
        synthetic: SYNTHETIC,
        bars: BARS,
        http: { enabled: false },
        progress: { intervalMs: 0 },
      }),
    );
    const embedded = new MemorySink('embedded');
    expect(await runCommand({ config: embeddedPath }, io, { sinks: [embedded] })).toBe(0);

    const kafkaPath = join(dir, 'kafka.json');
    await writeFile(
      kafkaPath,
      JSON.stringify({
        source: 'kafka',
        bars: BARS,
        kafka: {
          brokers: services.kafkaBrokers,
          groupId: uniqueName('mlfp-it-same'),
          topics: { ticks: ticksTopic, corporateActions: actionsTopic },
          maxWaitTimeInMs: 100,
          sasl: undefined,
        },
        http: { enabled: false },
        progress: { intervalMs: 0 },
      }),
    );
    const viaKafka = new MemorySink('kafka');
    const stop = new AbortController();
    const running = runCommand({ config: kafkaPath }, io, { sinks: [viaKafka], stopSignal: stop.signal });

    // the embedded run's last bar per symbol and timeframe came from the final flush (open when input ended)
    const lastTs = new Map<string, number>();
    for (const bar of embedded.bars.values()) {
      const series = `${bar.symbol}|${bar.timeframe}`;
      lastTs.set(series, Math.max(lastTs.get(series) ?? -Infinity, bar.ts));
    }
    const flushed = (record: { symbol: string; timeframe: string; ts: number }): boolean =>
      lastTs.get(`${record.symbol}|${record.timeframe}`) === record.ts;
    const expectedBars = [...embedded.bars.keys()].filter((key) => !flushed(embedded.bars.get(key)!));
    const expectedPredictions = embedded.tables.predictions.filter((p) => !flushed(p));
    await waitUntil(
      () =>
        expectedBars.every((key) => viaKafka.bars.has(key)) &&
        viaKafka.tables.predictions.length >= expectedPredictions.length &&
        viaKafka.deadLetters.length >= embedded.deadLetters.length,
      90_000,
      'the Kafka run to produce what the embedded run did',
    );
    stop.abort();
    expect(await running).toBe(0);

    expect(expectedBars.length).toBeGreaterThan(300);
    expect(expectedPredictions.length).toBeGreaterThan(300);
    for (const [key, bar] of viaKafka.bars) expect(bar, key).toEqual(embedded.bars.get(key));
    for (const [key, vector] of viaKafka.features) expect(vector, key).toEqual(embedded.features.get(key));
    for (const key of embedded.bars.keys())
      if (!viaKafka.bars.has(key)) expect(flushed(embedded.bars.get(key)!), key).toBe(true);

    const byKey = new Map(embedded.tables.predictions.map((p) => [predictionKey(p), p]));
    expect(viaKafka.tables.predictions).toHaveLength(expectedPredictions.length);
    for (const p of viaKafka.tables.predictions) {
      const twin = byKey.get(predictionKey(p));
      expect(twin, predictionKey(p)).toBeDefined();
      expect({ ...p, latencyMs: 0 }).toEqual({ ...twin!, latencyMs: 0 });
    }
    expect(viaKafka.deadLetters).toHaveLength(embedded.deadLetters.length);
    expect(viaKafka.tables.alerts).toEqual(embedded.tables.alerts);
  });
});

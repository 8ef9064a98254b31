// Latency from tick produce to sink write at a steady rate: a paced producer (another process) sends
// `--rate` ticks/s for `--seconds` to a fresh 6-partition topic; the Kafka engine (as `mlfp run` builds it:
// bars and features to Kafka topics and PostgreSQL, snapshots in memory) consumes it. A tick's latency runs
// from just before its produce call to the moment every output derived from it (and from everything before it
// in its partition) is durable in every sink: the delivery coordinator's onDurable report of a position past
// the tick's offset. Writes benchmarks/results/latency.json (p50/p90/p99/max over every tick after a 5 s warm-up),
// once per delivery.flushIntervalMs given (the engine default 200 ms, and 20 ms). Event time runs 600× wall
// time (--time-scale), so each symbol closes a 5-minute bar every 0.5 s and its features follow: the outputs
// written during the run are real bars and feature rows, not only committed offsets.
// Usage: npm run build && node dist/benchmarks/latency.bench.js [--rate 20000 --seconds 30 --time-scale 600 --flush-interval-ms 200,20]

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { sinksFromConfig } from '../src/streams/app-sources.js';
import { parseConfig } from '../src/config/load.js';
import { ensureTopics } from '../src/sinks/kafka/kafka-topics.js';
import type { DurablePosition } from '../src/streams/delivery.js';
import { KafkaEngine } from '../src/streams/engine.js';
import { createKafkaClient } from '../src/streams/kafka-client.js';
import { machineInfo } from './lib/machine.js';
import { projectRoot, writeResults } from './lib/results.js';

const PARTITIONS = 6;
const WARM_UP_MS = 5_000;

interface ProducerResult {
  subject: 'paced-producer';
  ticks: number;
  seconds: number;
  ticksPerSec: number;
  batches: Array<[number, number, string, number]>;
}

function runProducer(args: string[]): Promise<ProducerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(projectRoot(), 'dist/benchmarks/lib/paced-producer.js'), ...args],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`paced producer exited ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() as string) as ProducerResult);
    });
  });
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Options {
  brokers: string;
  rate: string;
  seconds: string;
  symbols: string;
  'time-scale': string;
  'postgres-url': string;
  series?: string;
}

async function measure(values: Options, flushIntervalMs: number) {
  const stamp = `${process.pid}-${Date.now()}`;
  const topic = `bench.latency.${stamp}`;
  const schema = `bench_latency_${process.pid}_${Date.now()}`;
  const config = parseConfig({
    source: 'kafka',
    bars: { idleTimeoutMs: 5_000 },
    kafka: {
      brokers: values.brokers.split(','),
      groupId: `mlfp-bench-latency-${stamp}`,
      topics: { ticks: topic, corporateActions: `${topic}.actions` },
      maxWaitTimeInMs: 20,
    },
    outputs: {
      kafka: {
        bars: true,
        features: true,
        topics: {
          bars: `${topic}.bars.{timeframe}`,
          features: `${topic}.features.{timeframe}`,
          predictions: `${topic}.predictions`,
          alerts: `${topic}.alerts`,
          deadLetters: `${topic}.dlq`,
        },
      },
    },
    postgres: { url: values['postgres-url'], schema },
    delivery: { flushIntervalMs },
    snapshots: { store: 'memory' },
    models: { enabled: false },
    http: { enabled: false },
    progress: { intervalMs: 0 },
    log: { level: 'warn' },
  });
  const kafka = await createKafkaClient(config.kafka);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: PARTITIONS }], { recreate: true });
  await admin.disconnect();

  // per partition: (nextOffset, durable at) in report order
  const durable = Array.from({ length: PARTITIONS }, () => ({
    offsets: [] as number[],
    times: [] as number[],
  }));
  const onDurable = (positions: readonly DurablePosition[], atMs: number): void => {
    for (const p of positions) {
      const list = durable[p.partition];
      if (list === undefined) continue;
      list.offsets.push(p.nextOffset);
      list.times.push(atMs);
    }
  };
  const { sinks } = sinksFromConfig(config, kafka);
  const engine = new KafkaEngine(config, { sinks, kafka, onDurable });
  await engine.start();
  const produced = await runProducer([
    ...['--brokers', values.brokers, '--topic', topic, '--rate', values.rate, '--seconds', values.seconds],
    ...[
      '--symbols',
      values.symbols,
      '--partitions',
      String(PARTITIONS),
      '--time-scale',
      values['time-scale'],
    ],
  ]);
  // the engine must catch up within a minute of the producer's end; say where it stands if it does not
  const deadline = Date.now() + 60_000;
  while (engine.stats.ticks < produced.ticks) {
    if (Date.now() > deadline) {
      const health = JSON.stringify(engine.health());
      await engine.stop();
      throw new Error(
        `engine consumed ${engine.stats.ticks} of ${produced.ticks} ticks a minute after the producer ended: ${engine.progressExtra()} ${health}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await engine.delivery.settle();
  await engine.stop();

  const latencies: number[] = [];
  // --series: one line per produced batch (ms since the first send, partition, latency of its first tick)
  const series = values.series === undefined ? undefined : ['sinceStartMs,partition,latencyMs'];
  const firstAt = produced.batches[0]?.[0] ?? 0;
  let unmatched = 0;
  for (const [producedAt, partition, baseOffset, count] of produced.batches) {
    const list = durable[partition]!;
    const base = Number(baseOffset);
    // durable positions only grow per partition: binary search for the first one past each tick
    for (let k = 0; k < count; k++) {
      const offset = base + k;
      let lo = 0;
      let hi = list.offsets.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list.offsets[mid]! > offset) hi = mid;
        else lo = mid + 1;
      }
      if (lo === list.offsets.length) {
        unmatched++;
        continue;
      }
      if (producedAt - firstAt >= WARM_UP_MS) latencies.push(list.times[lo]! - producedAt);
      if (k === 0 && series !== undefined)
        series.push(`${producedAt - firstAt},${partition},${list.times[lo]! - producedAt}`);
    }
  }
  if (series !== undefined && values.series !== undefined)
    writeFileSync(`${values.series}.${flushIntervalMs}ms.csv`, `${series.join('\n')}\n`);
  const sorted = Float64Array.from(latencies).sort();
  const result = {
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    timeScale: Number(values['time-scale']),
    produced: { ticks: produced.ticks, ticksPerSec: produced.ticksPerSec },
    measuredTicks: sorted.length,
    unmatched,
    warmUpMs: WARM_UP_MS,
    flushIntervalMs: config.delivery.flushIntervalMs,
    latencyMs: {
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    },
    engine: { ticks: engine.stats.ticks, bars: engine.stats.barCount, features: engine.stats.features },
    sinks: sinks.map((sink) => sink.name),
  };
  const client = new pg.Client({ connectionString: values['postgres-url'] });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
  const cleanup = kafka.admin();
  await cleanup.connect();
  const topics = (await cleanup.listTopics()).filter((name) => name.startsWith(topic));
  await cleanup.deleteTopics({ topics }).catch(() => undefined);
  await cleanup.disconnect();
  console.log(
    `flush every ${flushIntervalMs} ms: ${produced.ticksPerSec} ticks/s for ${values.seconds} s (${sorted.length} ticks after warm-up): ` +
      `p50 ${result.latencyMs.p50} ms, p90 ${result.latencyMs.p90} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms` +
      `${unmatched > 0 ? ` (${unmatched} ticks never reported durable)` : ''}`,
  );
  if (unmatched > 0) process.exitCode = 1;
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '127.0.0.1:19092' },
      rate: { type: 'string', default: '20000' },
      seconds: { type: 'string', default: '30' },
      symbols: { type: 'string', default: '50' },
      /** event time runs this many times faster than wall time, so bars close during the run */
      'time-scale': { type: 'string', default: '600' },
      'postgres-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
      /** write a latency time series to <path>.<flush>ms.csv (to find stalls) */
      series: { type: 'string' },
      /** delivery.flushIntervalMs values to measure, comma separated (200 is the engine default) */
      'flush-interval-ms': { type: 'string', default: '200,20' },
    },
  });
  const runs = [];
  for (const flush of values['flush-interval-ms'].split(',').map(Number))
    runs.push(await measure(values, flush));
  const path = writeResults('latency', {
    benchmark: 'latency',
    definition:
      'tick produce (just before the send) → every output derived from it durable in every sink (Kafka topics + PostgreSQL)',
    runs,
    machine: machineInfo(['kafkajs', 'pg']),
    date: new Date().toISOString(),
  });
  console.log(`results: ${path}`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `latency bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});

// The engine's slot in benchmarks/engine-vs-flink.sh: the Kafka engine as `mlfp run` builds it (real sinks:
// bars to Kafka topics as the Flink peer writes them, bars and features to PostgreSQL — `--kafka-features`
// also publishes the feature vectors to Kafka; snapshots in memory, no models) consumes the
// benchmark topic with a fresh group from the start until it has read every tick and every output is
// durable, then prints one JSON line {"subject":"engine","ticks","seconds","ticksPerSec",…}. The clock runs
// from the engine's start (connect, join, fetch) to the last durable flush, like the Flink job's.
// Usage: node dist/benchmarks/engine-run.js --brokers 127.0.0.1:19092 --topic bench.ticks --group G --ticks N
//        [--postgres-url postgres://postgres@127.0.0.1:5432/test] [--no-postgres] [--no-kafka-outputs]

import { parseArgs } from 'node:util';
import pg from 'pg';
import { sinksFromConfig } from '../src/streams/app-sources.js';
import { parseConfig } from '../src/config/load.js';
import { KafkaEngine } from '../src/streams/engine.js';
import { createKafkaClient } from '../src/streams/kafka-client.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '127.0.0.1:19092' },
      topic: { type: 'string', default: 'bench.ticks' },
      group: { type: 'string' },
      ticks: { type: 'string' },
      'postgres-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
      'no-postgres': { type: 'boolean', default: false },
      'no-kafka-outputs': { type: 'boolean', default: false },
      /** also publish feature vectors to Kafka (default: bars to Kafka like the Flink peer; bars and features to PostgreSQL) */
      'kafka-features': { type: 'boolean', default: false },
      'output-prefix': { type: 'string', default: 'bench.engine' },
      /** kafka.fetchMaxBytesPerPartition; default: the engine's */
      'fetch-bytes': { type: 'string' },
      /** outputs.kafka.maxBytesPerRequest; default: the engine's */
      'request-bytes': { type: 'string' },
    },
  });
  const ticks = Number(values.ticks);
  if (!Number.isSafeInteger(ticks) || ticks <= 0) throw new Error('--ticks must be a positive integer');
  const group = values.group ?? `mlfp-bench-engine-${process.pid}-${Date.now()}`;
  const schema = `bench_engine_${process.pid}_${Date.now()}`;
  const prefix = values['output-prefix'];
  const config = parseConfig({
    source: 'kafka',
    bars: { idleTimeoutMs: 3_600_000 },
    kafka: {
      brokers: values.brokers.split(','),
      groupId: group,
      clientId: 'mlfp-bench-engine',
      topics: { ticks: values.topic, corporateActions: `${values.topic}.actions` },
      maxWaitTimeInMs: 100,
      ...(values['fetch-bytes'] === undefined
        ? {}
        : { fetchMaxBytesPerPartition: Number(values['fetch-bytes']) }),
    },
    outputs: {
      kafka: {
        enabled: !values['no-kafka-outputs'],
        bars: true,
        features: values['kafka-features'],
        ...(values['request-bytes'] === undefined
          ? {}
          : { maxBytesPerRequest: Number(values['request-bytes']) }),
        topics: {
          bars: `${prefix}.bars.{timeframe}`,
          features: `${prefix}.features.{timeframe}`,
          predictions: `${prefix}.predictions`,
          alerts: `${prefix}.alerts`,
          deadLetters: `${prefix}.dlq`,
        },
      },
    },
    ...(values['no-postgres'] ? {} : { postgres: { url: values['postgres-url'], schema } }),
    snapshots: { store: 'memory' },
    models: { enabled: false },
    http: { enabled: false },
    progress: { intervalMs: 0 },
    log: { level: 'warn' },
  });
  const kafka = await createKafkaClient(config.kafka);
  const { sinks } = sinksFromConfig(config, kafka);
  const engine = new KafkaEngine(config, { sinks, kafka });
  const startedAt = process.hrtime.bigint();
  await engine.start();
  const startedMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
  let firstTickMs: number | undefined;
  while (engine.stats.ticks < ticks) {
    if (firstTickMs === undefined && engine.stats.ticks > 0)
      firstTickMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
    if (engine.health().state === 'failed') throw new Error(`engine failed: ${engine.health().error}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await engine.delivery.settle();
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const { stats } = engine;
  await engine.stop();
  if (!values['no-postgres']) {
    const client = new pg.Client({ connectionString: values['postgres-url'] });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
  process.stdout.write(
    `${JSON.stringify({
      subject: 'engine',
      ticks: stats.ticks,
      seconds: Math.round(seconds * 1000) / 1000,
      ticksPerSec: Math.round(stats.ticks / seconds),
      /** engine.start() resolved (connected, actions topic read, subscribed) and first tick processed, ms after the start */
      startMs: Math.round(startedMs),
      firstTickMs: Math.round(firstTickMs ?? Number.NaN),
      rejects: stats.rejects,
      bars: stats.barCount,
      features: stats.features,
      sinks: sinks.map((sink) => sink.name),
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `engine-run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});

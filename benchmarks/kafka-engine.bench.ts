// Kafka → engine throughput with in-memory sinks: N seeded ticks are produced once to a fresh topic, then the
// Kafka engine (consumer group, workers, delivery, snapshots to the memory store) consumes them; the clock
// runs from engine start to the moment every tick is processed and every output durable. Quick look only:
// the issue-10 benchmark (engine vs Flink, real sinks) belongs to benchmarks/engine-vs-flink.sh.
// Usage: npm run build && node dist/benchmarks/kafka-engine.bench.js [--ticks 200000 --symbols 50 --runs 3]

import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { parseConfig } from '../src/config/load.js';
import type { OutputBatch, Sink, SinkHealth } from '../src/sinks/sink.js';
import { KafkaEngine } from '../src/streams/engine.js';
import { median } from './lib/measure.js';
import { produceTicks } from './lib/tick-producer.js';

/** Durable at once; counts records so nothing can be skipped. */
class CountingSink implements Sink {
  readonly name = 'counting';
  records = 0;
  async start(): Promise<void> {}
  async write(batch: OutputBatch): Promise<void> {
    this.records += batch.bars.length + batch.features.length + batch.deadLetters.length;
  }
  health(): SinkHealth {
    return { state: 'up', sinceMs: 0, pendingRecords: 0, retries: 0 };
  }
  async close(): Promise<void> {}
}

async function runOnce(brokers: string[], topic: string, ticks: number, run: number): Promise<number> {
  const sink = new CountingSink();
  const config = parseConfig({
    source: 'kafka',
    bars: { idleTimeoutMs: 3_600_000 },
    kafka: {
      brokers,
      groupId: `mlfp-bench-engine-${process.pid}-${Date.now()}-${run}`,
      topics: { ticks: topic, corporateActions: `${topic}.actions-none` },
      maxWaitTimeInMs: 50,
    },
    progress: { intervalMs: 0 },
  });
  const engine = new KafkaEngine(config, { sinks: [sink] });
  const startedAt = process.hrtime.bigint();
  await engine.start();
  while (engine.stats.ticks < ticks) await new Promise((resolve) => setTimeout(resolve, 5));
  await engine.delivery.settle();
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  await engine.stop();
  if (sink.records === 0) throw new Error('no records written');
  return ticks / seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '127.0.0.1:19092' },
      ticks: { type: 'string', default: '200000' },
      symbols: { type: 'string', default: '50' },
      runs: { type: 'string', default: '3' },
    },
  });
  const brokers = values.brokers.split(',');
  const ticks = Number(values.ticks);
  const topic = `mlfp-bench-engine-${process.pid}`;
  const produced = await produceTicks({
    brokers,
    topic,
    ticks,
    symbols: Number(values.symbols),
    partitions: 6,
    seed: 42,
    startMs: Date.UTC(2024, 2, 4),
    meanGapMs: 15_000,
    batchSize: 10_000,
  });
  const rates: number[] = [];
  try {
    for (let run = 0; run < Number(values.runs); run++) rates.push(await runOnce(brokers, topic, ticks, run));
  } finally {
    const admin = new Kafka({ clientId: 'mlfp-bench-cleanup', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  process.stdout.write(
    `${JSON.stringify({
      subject: 'mlfp-kafka-engine (memory sinks)',
      ticks,
      symbols: Number(values.symbols),
      partitions: 6,
      produceTicksPerSec: produced.ticksPerSec,
      ticksPerSec: Math.round(median(rates)),
      runs: rates.map(Math.round),
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `kafka-engine bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});

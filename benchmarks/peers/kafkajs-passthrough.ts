// The floor for streaming benchmarks: a bare kafkajs consume -> produce loop (eachBatch, the same key and
// value bytes to another topic, acks=all) with no parsing or state. No Node engine on kafkajs can beat it.
// Usage: node dist/benchmarks/peers/kafkajs-passthrough.js --brokers B --topic T [--output-topic O --group G]
import { parseArgs } from 'node:util';
import { CompressionTypes, Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { ensureTopics } from '../../src/sinks/kafka/kafka-topics.js';

export interface PassthroughOptions {
  brokers: string[];
  topic: string;
  outputTopic: string;
  outputPartitions: number;
  groupId: string;
  /** Partitions whose batches are handled at once (kafkajs `partitionsConsumedConcurrently`). */
  concurrency: number;
  /**
   * Fetch size per partition; each fetched batch becomes one produce call. kafkajs gets superlinearly
   * slower with the size of one send (measured here, 560k ticks of ~75 bytes, one produce call per fetched
   * batch: 1 MB -> 5.9k ticks/s with 38 s of system CPU, 512 KB -> 30k, 256 KB -> 47k, 128 KB -> 52k).
   */
  maxBytesPerPartition: number;
}

export interface PassthroughResult {
  subject: 'kafkajs-passthrough';
  ticks: number;
  seconds: number;
  ticksPerSec: number;
  concurrency: number;
  maxBytesPerPartition: number;
}

export async function runPassthrough(options: PassthroughOptions): Promise<PassthroughResult> {
  const kafka = new Kafka({
    clientId: 'mlfp-bench-floor',
    brokers: options.brokers,
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  await admin.connect();
  let expected = 0;
  try {
    await ensureTopics(admin, [{ topic: options.outputTopic, numPartitions: options.outputPartitions }], {
      recreate: true,
    });
    // Bounded like the Flink peer: consume what the topic holds now, from the start.
    for (const partition of await admin.fetchTopicOffsets(options.topic)) {
      expected += Number(partition.high) - Number(partition.low);
    }
  } finally {
    await admin.disconnect();
  }

  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  const consumer = kafka.consumer({
    groupId: options.groupId,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: options.maxBytesPerPartition,
    maxBytes: options.maxBytesPerPartition * 6,
  });
  await Promise.all([producer.connect(), consumer.connect()]);
  let consumed = 0;
  const startedAt = process.hrtime.bigint();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      if (expected === 0) resolve();
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) reject(event.payload.error);
      });
      consumer
        .run({
          partitionsConsumedConcurrently: options.concurrency,
          eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
            const messages: Message[] = batch.messages.map((message) => ({
              key: message.key,
              value: message.value,
            }));
            await producer.send({
              topic: options.outputTopic,
              acks: -1,
              compression: CompressionTypes.None,
              messages,
            });
            resolveOffset(batch.lastOffset());
            await heartbeat();
            consumed += messages.length;
            if (consumed >= expected) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await Promise.all([consumer.disconnect(), producer.disconnect()]);
  }
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return {
    subject: 'kafkajs-passthrough',
    ticks: consumed,
    seconds: Number(seconds.toFixed(3)),
    ticksPerSec: Math.round(consumed / seconds),
    concurrency: options.concurrency,
    maxBytesPerPartition: options.maxBytesPerPartition,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '127.0.0.1:19092' },
      topic: { type: 'string', default: 'bench.ticks' },
      'output-topic': { type: 'string', default: 'bench.floor.ticks' },
      'output-partitions': { type: 'string', default: '6' },
      group: { type: 'string', default: `mlfp-bench-floor-${Date.now()}` },
      concurrency: { type: 'string', default: '1' },
      'max-bytes-per-partition': { type: 'string', default: String(128 * 1024) },
    },
  });
  const concurrency = Number(values.concurrency);
  const outputPartitions = Number(values['output-partitions']);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('--concurrency must be >= 1');
  if (!Number.isInteger(outputPartitions) || outputPartitions < 1) {
    throw new RangeError('--output-partitions must be >= 1');
  }
  const maxBytesPerPartition = Number(values['max-bytes-per-partition']);
  if (!Number.isInteger(maxBytesPerPartition) || maxBytesPerPartition < 1024) {
    throw new RangeError('--max-bytes-per-partition must be an integer >= 1024');
  }
  const result = await runPassthrough({
    brokers: values.brokers.split(','),
    topic: values.topic,
    outputTopic: values['output-topic'],
    outputPartitions,
    groupId: values.group,
    concurrency,
    maxBytesPerPartition,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `kafkajs-passthrough: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}

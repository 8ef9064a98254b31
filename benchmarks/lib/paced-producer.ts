// A steady tick feed for the latency benchmark: `--rate` ticks/s for `--seconds`, sent every 10 ms in one
// batch (one send in flight, acks=all). Event time runs `--time-scale` times faster than wall time (default
// 600: a 5-minute bar per symbol closes every 0.5 s, so bars and features flow to the sinks during the
// run) and ends at the wall time of the last send (never in the future). For every batch it records the produce time
// (just before the send) and the offsets the brokers gave its ticks (each symbol has a fixed partition), and prints them as the last stdout line:
// {"subject":"paced-producer","ticks","seconds","ticksPerSec","batches":[[producedAtMs, partition, baseOffset, count], …]}
// Usage: node dist/benchmarks/lib/paced-producer.js --brokers … --topic … --rate 20000 --seconds 30 --symbols 50

import { parseArgs } from 'node:util';
import { CompressionTypes, Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { Random } from '../../src/streams/random.js';

const INTERVAL_MS = 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '127.0.0.1:19092' },
      topic: { type: 'string' },
      rate: { type: 'string', default: '20000' },
      seconds: { type: 'string', default: '30' },
      symbols: { type: 'string', default: '50' },
      partitions: { type: 'string', default: '6' },
      seed: { type: 'string', default: '7' },
      'time-scale': { type: 'string', default: '600' },
    },
  });
  if (values.topic === undefined) throw new Error('--topic is required');
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const timeScale = Number(values['time-scale']);
  if (!(timeScale >= 1)) throw new Error(`--time-scale must be a number >= 1, got ${values['time-scale']}`);
  const symbols = Array.from({ length: Number(values.symbols) }, (_, i) => `SYM${i}`);
  const random = new Random(Number(values.seed));
  const prices = symbols.map(() => 20 + random.uniform() * 200);
  // each symbol has a fixed partition (index mod partitions), so the producer knows every tick's offset
  const partitions = Number(values.partitions);
  const perPartition = new Int32Array(partitions);
  const kafka = new Kafka({
    clientId: 'mlfp-bench-paced',
    brokers: values.brokers.split(','),
    logLevel: logLevel.WARN,
  });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const batches: Array<[number, number, string, number]> = [];
  const total = Math.round(rate * seconds);
  const startedAt = Date.now();
  // event time at wall time t: eventStart + (t - startedAt) * timeScale, reaching wall time at the end
  const eventStart = startedAt - seconds * 1000 * (timeScale - 1);
  let sent = 0;
  let owed = 0;
  let nextAt = startedAt;
  while (sent < total) {
    nextAt += INTERVAL_MS;
    owed += (rate * INTERVAL_MS) / 1000;
    const count = Math.min(Math.floor(owed), total - sent);
    owed -= count;
    if (count > 0) {
      const ts = Math.min(Date.now(), eventStart + (Date.now() - startedAt) * timeScale);
      const messages: Message[] = new Array<Message>(count);
      perPartition.fill(0);
      for (let i = 0; i < count; i++) {
        const s = random.int(symbols.length);
        perPartition[s % partitions]!++;
        prices[s] = Math.max(1, prices[s]! * (1 + 0.0005 * random.normal()));
        const price = Math.round(prices[s]! * 100) / 100;
        messages[i] = {
          key: symbols[s]!,
          partition: s % partitions,
          value: `{"symbol":"${symbols[s]}","ts":${ts},"price":${price},"size":${1 + random.int(500)}}`,
        };
      }
      const producedAt = Date.now();
      const metadata = await producer.send({
        topic: values.topic,
        acks: -1,
        compression: CompressionTypes.None,
        messages,
      });
      for (const m of metadata)
        batches.push([producedAt, m.partition, m.baseOffset ?? '0', perPartition[m.partition]!]);
      sent += count;
    }
    const wait = nextAt - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const elapsed = (Date.now() - startedAt) / 1000;
  await producer.disconnect();
  process.stdout.write(
    `${JSON.stringify({ subject: 'paced-producer', ticks: sent, seconds: elapsed, ticksPerSec: Math.round(sent / elapsed), batches })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `paced-producer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});

// What the alerts end-to-end test needs around a running engine: a live tick feed into Kafka, an
// Alertmanager webhook receiver (node:http), the alerts as the Kafka topic and the PostgreSQL table hold them,
// and a models directory with a poisoned LightGBM version (finite leaves whose sum overflows to Infinity).
import { cp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Partitioners, type Consumer, type Kafka, type Producer } from 'kafkajs';
import pg from 'pg';
import type { AlertmanagerAlert, WebhookPayload } from '../../../src/monitoring/alerts/alertmanager.js';
import { writeRegistryState } from '../../../src/models/registry-directory.js';
import { Random } from '../../../src/streams/random.js';

/** One lifecycle alert as a sink or the receiver saw it (epoch ms times). */
export interface SeenAlert {
  rule: string;
  subject: string;
  state: 'firing' | 'resolved';
  fingerprint: string;
  startsAt: number;
  ts: number;
}

const epochMs = (value: unknown): number =>
  typeof value === 'number' ? value : value instanceof Date ? value.getTime() : Date.parse(String(value));

/** Lifecycle alerts of one rule and subject, in the order seen. */
export const alertsOf = (alerts: readonly SeenAlert[], rule: string, subject: string): SeenAlert[] =>
  alerts.filter((alert) => alert.rule === rule && alert.subject === subject);

/** "rule subject state" per alert: a readable list for failure messages. */
export const describeAlerts = (alerts: readonly SeenAlert[]): string =>
  alerts.map((a) => `${a.rule} ${a.subject} ${a.state}`).join('; ') || 'none';

/** A webhook receiver that records every POST (Alertmanager v4 JSON) and answers 200. */
export class WebhookReceiver {
  readonly payloads: WebhookPayload[] = [];
  private readonly server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      this.payloads.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/alerts`;
  }

  /** Every alert of every payload, in arrival order, with the payload it came in. */
  get alerts(): Array<SeenAlert & { payload: WebhookPayload; alert: AlertmanagerAlert }> {
    return this.payloads.flatMap((payload) =>
      payload.alerts.map((alert) => ({
        rule: alert.labels['alertname'] ?? '',
        subject: alert.labels['subject'] ?? '',
        state: alert.status,
        fingerprint: alert.fingerprint,
        startsAt: Date.parse(alert.startsAt),
        ts: alert.status === 'firing' ? Date.parse(alert.startsAt) : Date.parse(alert.endsAt),
        payload,
        alert,
      })),
    );
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Reads the alerts topic and the predictions topic from their start, as the engine writes them. */
export class OutputWatcher {
  readonly alerts: SeenAlert[] = [];
  /** alerts raised outside the lifecycle (no rule): "type subject state" */
  readonly rawAlerts: string[] = [];
  /** live predictions per "model@version" */
  readonly predictions = new Map<string, number>();
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    groupId: string,
    private readonly topics: { alerts: string; predictions: string },
  ) {
    this.consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      sessionTimeout: 6_000,
      heartbeatInterval: 500,
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [this.topics.alerts, this.topics.predictions],
      fromBeginning: true,
    });
    await this.consumer.run({
      eachMessage: async ({ topic, message }) => {
        const value = JSON.parse(message.value?.toString('utf8') ?? 'null') as Record<string, unknown>;
        if (topic === this.topics.predictions) {
          const key = `${String(value['model'])}@${String(value['version'])}`;
          this.predictions.set(key, (this.predictions.get(key) ?? 0) + 1);
        } else if (typeof value['rule'] === 'string')
          this.alerts.push({
            rule: value['rule'],
            subject: String(value['subject']),
            state: value['state'] as SeenAlert['state'],
            fingerprint: String(value['fingerprint']),
            startsAt: epochMs(value['startsAt']),
            ts: epochMs(value['ts']),
          });
        else
          this.rawAlerts.push(
            `${String(value['type'])} ${String(value['subject'])} ${String(value['state'])}`,
          );
      },
    });
  }

  /** Predictions of a model version seen so far. */
  predictionsOf(model: string, version: string): number {
    return this.predictions.get(`${model}@${version}`) ?? 0;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** The lifecycle alerts in a PostgreSQL schema's alerts table, oldest first. */
export async function postgresAlerts(url: string, schema: string): Promise<SeenAlert[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{
      rule: string;
      subject: string;
      state: SeenAlert['state'];
      fingerprint: string;
      starts_at: Date;
      ts: Date;
    }>(
      `SELECT rule, subject, state, fingerprint, starts_at, ts FROM "${schema}".alerts
        WHERE rule IS NOT NULL ORDER BY ts, state`,
    );
    return rows.map((row) => ({ ...row, startsAt: epochMs(row.starts_at), ts: epochMs(row.ts) }));
  } finally {
    await client.end();
  }
}

/**
 * Keeps producing ticks for `symbols` until stopped: every `everyMs`, `stepsPerSend` ticks, one symbol after
 * the other, `stepMs` of event time apart, so event time runs far ahead of the wall clock and 5m bars close
 * (and the models score) in every send.
 */
export class TickFeed {
  private producer: Producer | undefined;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private eventMs: number;
  private readonly prices: number[];
  private readonly random = new Random(19);
  sent = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly options: {
      symbols: readonly string[];
      startMs: number;
      stepMs: number;
      stepsPerSend: number;
      everyMs: number;
    },
  ) {
    this.eventMs = options.startMs;
    this.prices = options.symbols.map((_, index) => 50 + 25 * index);
  }

  async start(): Promise<void> {
    this.producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    this.running = true;
    this.loop = this.run(this.producer);
  }

  /** Stops producing (idempotent). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect();
  }

  private async run(producer: Producer): Promise<void> {
    const { symbols, stepMs, stepsPerSend, everyMs } = this.options;
    let step = 0;
    while (this.running) {
      const started = Date.now();
      const messages = [];
      for (let index = 0; index < stepsPerSend; index++, step++) {
        const symbolIndex = step % symbols.length;
        const price = Math.max(1, this.prices[symbolIndex]! * (1 + 0.002 * (this.random.uniform() - 0.5)));
        this.prices[symbolIndex] = price;
        this.eventMs += stepMs;
        const tick = {
          symbol: symbols[symbolIndex]!,
          ts: this.eventMs,
          price: Math.round(price * 100) / 100,
          size: 100,
        };
        messages.push({ key: tick.symbol, value: JSON.stringify(tick) });
      }
      await producer.send({ topic: this.topic, acks: 1, messages });
      this.sent += messages.length;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (Date.now() - started))));
    }
  }
}

/** The version the poisoned copy of a LightGBM model gets. */
export const POISONED_VERSION = '1.0.1-poisoned';

/**
 * A models directory holding `model` (copied from `source`) and a poisoned version of it whose first two
 * trees have every leaf at 1e308: each leaf is finite (the loader takes it), their sum overflows to Infinity,
 * so every output is infinite (a model_error). registry.json makes the good version live.
 */
export async function modelsWithPoisonedVersion(source: string, dir: string, model: string): Promise<void> {
  await cp(join(source, model), join(dir, model), { recursive: true });
  const poisoned = join(dir, `${model}-${POISONED_VERSION}`);
  await cp(join(source, model), poisoned, { recursive: true });
  const manifest = JSON.parse(await readFile(join(poisoned, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeFile(
    join(poisoned, 'manifest.json'),
    JSON.stringify({ ...manifest, version: POISONED_VERSION }),
  );
  const text = await readFile(join(poisoned, 'model.txt'), 'utf8');
  let tree = -1;
  const lines = text.split('\n').map((line) => {
    if (line.startsWith('Tree=')) tree = Number(line.slice('Tree='.length));
    if (tree > 1 || !line.startsWith('leaf_value=')) return line;
    const leaves = line.slice('leaf_value='.length).split(' ');
    return `leaf_value=${leaves.map(() => '1e308').join(' ')}`;
  });
  await writeFile(join(poisoned, 'model.txt'), lines.join('\n'));
  await makeLive(dir, model, String(manifest['version']));
}

/** Rewrites registry.json so that `version` of `model` is live (the running engine's watcher picks it up). */
export async function makeLive(dir: string, model: string, version: string): Promise<void> {
  await writeRegistryState(dir, {
    version: 1,
    models: { [model]: { live: version, shadow: null, history: [] } },
  });
}

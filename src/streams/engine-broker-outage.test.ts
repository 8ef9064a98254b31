// How the Kafka engine reads kafkajs consumer crashes (issue 16, broker bounce), against a fake kafkajs client:
// a crash kafkajs restarts is an outage (not ready, waiting for the brokers, no commit sent into the void),
// one it does not restart stops the engine, and rejoining the group makes it ready and re-checkpoints.
import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../config/load.js';
import { isMlfpError } from '../errors.js';
import { KafkaEngine } from './engine.js';

const TOPIC = 'ticks';
const EVENTS = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' } as const;

type Listener = (event: { payload: Record<string, unknown> }) => void;

/** Just enough of kafkajs for start(): an admin listing the ticks topic, and one consumer whose events we fire. */
function fakeKafka() {
  const listeners = new Map<string, Listener[]>();
  const consumer = {
    events: EVENTS,
    on: (event: string, listener: Listener) => {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
    connect: vi.fn(async () => undefined),
    subscribe: vi.fn(async () => undefined),
    run: vi.fn(async () => undefined),
    pause: vi.fn(),
    resume: vi.fn(),
    seek: vi.fn(),
    commitOffsets: vi.fn(async () => undefined),
    disconnect: vi.fn(async () => undefined),
  };
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    // no corporate-actions topic: the reader warns and starts no consumer of its own
    listTopics: async () => [TOPIC],
  };
  const kafka = { admin: () => admin, consumer: () => consumer } as unknown as Kafka;
  const fire = (event: string, payload: Record<string, unknown>): void => {
    for (const listener of listeners.get(event) ?? []) listener({ payload });
  };
  return { kafka, consumer, fire };
}

function engineWith(kafka: Kafka): KafkaEngine {
  const config = parseConfig({
    source: 'kafka',
    kafka: { brokers: ['127.0.0.1:1'], groupId: 'g', topics: { ticks: TOPIC, corporateActions: 'actions' } },
    snapshots: { store: 'none' },
    progress: { intervalMs: 0 },
  });
  return new KafkaEngine(config, { sinks: [], kafka });
}

/** The engine's commit port, as the delivery coordinator calls it. */
function commit(engine: KafkaEngine, offset: string): Promise<void> {
  const port = (engine as unknown as { commit(offsets: unknown[]): Promise<void> }).commit;
  return port.call(engine, [{ topic: TOPIC, partition: 0, offset }]);
}

const engines: KafkaEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.abort();
});

async function started() {
  const fake = fakeKafka();
  const engine = engineWith(fake.kafka);
  engines.push(engine);
  await engine.start();
  fake.fire(EVENTS.GROUP_JOIN, { memberAssignment: { [TOPIC]: [0] } });
  return { engine, ...fake };
}

describe('KafkaEngine and kafkajs consumer crashes (brokers away)', () => {
  it('is ready once it has joined the group', async () => {
    const { engine } = await started();
    expect(engine.health()).toMatchObject({ state: 'running', ready: true, waitingFor: undefined });
  });

  it('a crash kafkajs restarts leaves it running but not ready, waiting for the brokers', async () => {
    const { engine, fire } = await started();
    fire(EVENTS.CRASH, { error: new Error('Connection error: connect ECONNREFUSED'), restart: true });
    const health = engine.health();
    expect(health).toMatchObject({ state: 'running', ready: false });
    expect(health.waitingFor).toMatch(/^the Kafka brokers \(consumer restarting after: .*ECONNREFUSED/);
    fire(EVENTS.GROUP_JOIN, { memberAssignment: { [TOPIC]: [0] } });
    expect(engine.health()).toMatchObject({ state: 'running', ready: true, waitingFor: undefined });
  });

  it('refuses to commit while the consumer restarts (kafkajs would drop the commit silently)', async () => {
    const { engine, consumer, fire } = await started();
    fire(EVENTS.CRASH, { error: new Error('Connection error'), restart: true });
    const refused = await commit(engine, '42').catch((error: unknown) => error);
    expect(isMlfpError(refused) && refused.retriable).toBe(true);
    expect(refused).toMatchObject({ code: 'source_unavailable' });
    expect(consumer.commitOffsets).not.toHaveBeenCalled();
    fire(EVENTS.GROUP_JOIN, { memberAssignment: { [TOPIC]: [0] } });
    await commit(engine, '42');
    expect(consumer.commitOffsets).toHaveBeenCalledWith([{ topic: TOPIC, partition: 0, offset: '42' }]);
  });

  it('a crash kafkajs does not restart stops the engine', async () => {
    const { engine, fire } = await started();
    fire(EVENTS.CRASH, { error: new Error('not authorised'), restart: false });
    await expect(engine.done).rejects.toMatchObject({ code: 'source_unavailable' });
    expect(engine.health().state).toBe('failed');
  });
});

// Issue 16, broker bounce: `mlfp run` as a child process while its Kafka broker (a throwaway one on spare ports,
// started by scripts/services.sh with its own state folder) is stopped for 30 s mid-run and restarted on the
// same data. The ticks, the consumer group and the Kafka outputs all live on that broker, so both the source
// and the Kafka sink lose it. The engine must stay up (the same process throughout, /healthz 200), say so on
// /readyz (503, source:kafka or sink:kafka not up), resume on its own when the broker is back, and end with
// every bar and feature vector equal to the CLI's batch output, each once in PostgreSQL. The shared broker on
// 19092 is never stopped (other test runs use it).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TIMEFRAMES } from '../../../src/domain/types.js';
import { EngineProcess } from '../../support/engine-process.js';
import { freePort } from '../sinks/throwaway-services.js';
import { jsonRunMessages, malformedJson, sentinels, sessionTicks } from './dataset.js';
import { e2eConfig, outputTopics, uniqueName, writeConfig } from './engine-config.js';
import { createInputTopics, produceInOrder, testKafka } from './kafka-cluster.js';
import { deleteRedisKeys, dropSchema, groupProgress } from './outputs.js';
import { startReference, type Reference } from './reference.js';
import { ThrowawayKafka } from './throwaway-kafka.js';
import { verifyGroupRun, waitForGroupDone } from './verify.js';

const services = inject('services');
const redis = new Redis(services.redisUrl, { lazyConnect: true });
const PARTITIONS = 6;
const OUTAGE_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;
const MAX_ORIGINAL_BYTES = 65_536;

const ticksTopic = uniqueName('mlfp_e2e_bounce_ticks');
const actionsTopic = uniqueName('mlfp_e2e_bounce_actions');
const data = sessionTicks({ count: 100_000, symbols: 30, seed: 1_616, days: 60 });
const sentinel = sentinels(data.ticks, PARTITIONS);
const malformed = malformedJson(1_000, data.symbols, data.ticks[500]!.ts, MAX_ORIGINAL_BYTES);

let dir: string | undefined;
let broker: ThrowawayKafka | undefined;
let kafka: Kafka;
let reference: Reference;
const engines: EngineProcess[] = [];
const schemas: string[] = [];

/** Two distinct spare ports: the broker's listener and its KRaft controller's. */
async function twoPorts(): Promise<[number, number]> {
  const port = await freePort();
  for (;;) {
    const controllerPort = await freePort();
    if (controllerPort !== port) return [port, controllerPort];
  }
}

beforeAll(async () => {
  const started = await startReference('broker-bounce', data.ticks);
  dir = started.dir;
  broker = new ThrowawayKafka(join(dir, 'services'), ...(await twoPorts()));
  await broker.up();
  kafka = testKafka(broker.brokers);
  await createInputTopics(kafka, ticksTopic, actionsTopic, PARTITIONS);
  await produceInOrder(kafka, ticksTopic, jsonRunMessages(data.ticks, malformed, sentinel));
  reference = await started.reference;
  await redis.connect();
}, 300_000);

afterAll(async () => {
  for (const engine of engines) if (engine.isRunning) await engine.crash();
  // the broker goes with its folder: topics, group and outputs need no deleting
  await broker?.remove().catch((error: unknown) => console.warn(`cleanup: ${String(error)}`));
  for (const schema of schemas) await dropSchema(services.postgresUrl, schema);
  if (redis.status === 'ready') for (const schema of schemas) await deleteRedisKeys(redis, schema);
  redis.disconnect();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 120_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function ticksConsumed(engine: EngineProcess): Promise<number> {
  return (await engine.metric('mlfp_ticks_total')).reduce((sum, sample) => sum + sample.value, 0);
}

/** Starts the engine and waits until it has committed a fifth of the input (mid-run). */
async function startAndReachMidRun(config: string, group: string): Promise<EngineProcess> {
  const engine = EngineProcess.spawn('broker-bounce', config);
  engines.push(engine);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    for (;;) {
      if (!engine.isRunning) throw new Error(`${engine.name} exited\n${engine.tail()}`);
      const progress = await groupProgress(admin, group, ticksTopic);
      if (progress.done) throw new Error(`${engine.name} finished before the broker was stopped`);
      if (progress.committed >= progress.total / 5) return engine;
      if (Date.now() > deadline) throw new Error(`${engine.name} made no progress\n${engine.tail()}`);
      await sleep(50);
    }
  } finally {
    await admin.disconnect();
  }
}

interface OutageObservation {
  /** how long services.sh took to stop the broker (SIGTERM, controlled shutdown) */
  stopMs: number;
  /** first /readyz 503 naming a Kafka dependency, ms after the stop began */
  notReadyAfterMs: number;
  /** each distinct /readyz answer ("503 source:kafka=retrying sink:kafka=retrying"), with when it was first seen */
  states: Map<string, number>;
  /** first /readyz with source:kafka not up, ms after the stop began, and the source's details seen */
  sourceDownAfterMs: number;
  sourceDetails: Set<string>;
  ticksAtStop: number;
  ticksAtEnd: number;
  checks: number;
}

const kafkaReadiness = (readiness: Awaited<ReturnType<EngineProcess['readiness']>>): string =>
  `${readiness.status} source:kafka=${readiness.dependencies['source:kafka']?.state} ` +
  `sink:kafka=${readiness.dependencies['sink:kafka']?.state}`;

/**
 * Polls the engine until `OUTAGE_MS` after `stoppedAt`: the same process alive, /healthz 200 throughout, and
 * once /readyz first says 503 with source:kafka or sink:kafka not up (within half the outage), it keeps
 * saying so until the broker returns.
 */
async function watchOutage(
  engine: EngineProcess,
  stoppedAt: number,
  ticksAtStop: number,
  stopMs: number,
): Promise<OutageObservation> {
  const observation: OutageObservation = {
    stopMs,
    notReadyAfterMs: -1,
    states: new Map(),
    sourceDownAfterMs: -1,
    sourceDetails: new Set(),
    ticksAtStop,
    ticksAtEnd: 0,
    checks: 0,
  };
  while (Date.now() - stoppedAt < OUTAGE_MS) {
    expect(engine.isRunning, `${engine.name} alive during the outage\n${engine.tail()}`).toBe(true);
    expect((await engine.get('/healthz')).status, '/healthz during the outage').toBe(200);
    const readiness = await engine.readiness();
    const sinceStopMs = Date.now() - stoppedAt;
    const state = kafkaReadiness(readiness);
    if (!observation.states.has(state)) observation.states.set(state, sinceStopMs);
    const source = readiness.dependencies['source:kafka'];
    if (source?.state !== 'up') {
      if (observation.sourceDownAfterMs < 0) observation.sourceDownAfterMs = sinceStopMs;
      // the kafkajs error in the detail varies (refused, retries exceeded): keep the first words
      observation.sourceDetails.add((source?.detail ?? '').replace(/ \(consumer restarting after.*/, ''));
    }
    const kafkaDown =
      readiness.status === 503 &&
      (readiness.dependencies['source:kafka']?.state !== 'up' ||
        readiness.dependencies['sink:kafka']?.state !== 'up');
    if (observation.notReadyAfterMs < 0) {
      if (kafkaDown) observation.notReadyAfterMs = sinceStopMs;
      else if (sinceStopMs > OUTAGE_MS / 2)
        throw new Error(
          `/readyz still ready ${sinceStopMs} ms into the outage: ${JSON.stringify(readiness)}`,
        );
    } else
      expect(kafkaDown, `/readyz ${sinceStopMs} ms into the outage: ${JSON.stringify(readiness)}`).toBe(true);
    observation.checks++;
    await sleep(500);
  }
  // the source itself says it is not consuming (not only the Kafka sink): kafkajs restarts its crashed consumer
  expect(
    observation.sourceDownAfterMs,
    'source:kafka not up at some point of the outage',
  ).toBeGreaterThanOrEqual(0);
  observation.ticksAtEnd = await ticksConsumed(engine);
  return observation;
}

/** Waits until the engine consumes again after the restart; returns ms since `restartedAt`. */
async function waitForResume(
  engine: EngineProcess,
  restartedAt: number,
  ticksBefore: number,
): Promise<number> {
  for (;;) {
    if (!engine.isRunning) throw new Error(`${engine.name} exited\n${engine.tail()}`);
    if ((await ticksConsumed(engine)) > ticksBefore) return Date.now() - restartedAt;
    if (Date.now() - restartedAt > RUN_TIMEOUT_MS)
      throw new Error(`${engine.name} consumed nothing after the restart\n${engine.tail()}`);
    await sleep(100);
  }
}

describe('end to end, Kafka broker bounce (throwaway broker, mlfp run as a child process)', () => {
  it(
    'broker stopped for 30 s mid-run and restarted on the same data: the engine stays up, /readyz says so, it resumes, every bar once',
    { timeout: RUN_TIMEOUT_MS * 2 + OUTAGE_MS },
    async () => {
      const group = uniqueName('mlfp_e2e_bounce');
      schemas.push(group);
      const topics = outputTopics(group);
      const config = await writeConfig(
        dir!,
        group,
        e2eConfig({
          brokers: broker!.brokers,
          groupId: group,
          ticksTopic,
          actionsTopic,
          kafkaOutputs: group,
          postgres: { url: services.postgresUrl, schema: group },
          redis: { url: services.redisUrl, keyPrefix: group },
          snapshots: 'redis',
          // paced by the sinks, and small fetches interleaving the partitions: the stop lands mid-stream in each
          delivery: { maxPendingRecords: 5_000, maxBatchRecords: 1_000 },
          fetchMaxBytesPerPartition: 65_536,
          retryMaxDelayMs: 1_000,
        }),
      );
      const engine = await startAndReachMidRun(config, group);
      const pid = engine.pid;
      const admin = kafka.admin();
      await admin.connect();
      const atStop = await groupProgress(admin, group, ticksTopic);
      await admin.disconnect();
      const ticksAtStop = await ticksConsumed(engine);

      const stoppedAt = Date.now();
      await broker!.down();
      const observation = await watchOutage(engine, stoppedAt, ticksAtStop, Date.now() - stoppedAt);
      const upStartedAt = Date.now();
      await broker!.up();
      const restartedAt = Date.now();
      const resumedAfterMs = await waitForResume(engine, restartedAt, observation.ticksAtEnd);
      await waitForGroupDone(kafka, group, ticksTopic, {
        timeoutMs: RUN_TIMEOUT_MS,
        running: () => [engine],
      });
      const doneAfterMs = Date.now() - restartedAt;

      // never restarted: the same process, which started its engine once and never failed
      expect(engine.isRunning).toBe(true);
      expect(engine.pid).toBe(pid);
      expect(engine.stderr.match(/"event":"engine\.started"/g) ?? [], engine.tail()).toHaveLength(1);
      expect(engine.stderr, engine.tail()).not.toMatch(/"event":"engine\.failed"/);
      const readiness = await engine.readiness();
      expect(readiness.status, JSON.stringify(readiness)).toBe(200);

      const summary = await verifyGroupRun({
        kafka,
        redis,
        postgresUrl: services.postgresUrl,
        group,
        topics,
        ticksTopic,
        reference,
        data,
        sentinel,
        malformed,
        maxOriginalBytes: MAX_ORIGINAL_BYTES,
      });
      const states = [...observation.states]
        .map(([state, atMs]) => `"${state}" from ${(atMs / 1000).toFixed(1)} s`)
        .join(', ');
      const bars = TIMEFRAMES.map((tf) => `${tf} ${reference.counts[tf]}`).join(', ');
      console.info(
        `e2e broker bounce: stopped at ${atStop.committed}/${atStop.total} committed, ${ticksAtStop} ticks ` +
          `consumed (SIGTERM via services.sh down took ${(observation.stopMs / 1000).toFixed(1)} s); ` +
          `/readyz 503 naming Kafka ${(observation.notReadyAfterMs / 1000).toFixed(1)} s into the outage, ` +
          `source:kafka not up from ${(observation.sourceDownAfterMs / 1000).toFixed(1)} s ` +
          `(${[...observation.sourceDetails].map((detail) => `"${detail}"`).join(', ')}); ` +
          `states seen: ${states}; ${observation.checks} checks (healthz 200 each); ` +
          `${observation.ticksAtEnd - ticksAtStop} ticks consumed after the stop began; ` +
          `broker back ${((restartedAt - upStartedAt) / 1000).toFixed(1)} s after up, ` +
          `${((restartedAt - stoppedAt) / 1000).toFixed(1)} s after the stop; consuming again ` +
          `${(resumedAfterMs / 1000).toFixed(1)} s later, all committed ${(doneAfterMs / 1000).toFixed(1)} s ` +
          `after the restart; bars checked ${bars}; ${summary.line}`,
      );
      const exit = await engine.stop();
      expect(exit, engine.tail()).toEqual({ code: 0, signal: null });
    },
  );
});

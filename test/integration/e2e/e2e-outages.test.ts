// Issue 10 acceptance, outages: `mlfp run` as a child process while its PostgreSQL (a throwaway cluster on a
// spare port) or its Redis (a throwaway redis-server) is stopped for 30 s mid-run. The engine must pause
// consumption (no tick consumed while paused, pending outputs and RSS bounded), say so on /readyz (503, the
// sink 'retrying') and in mlfp_dependency_up, keep /healthz 200, and resume when the service returns with
// nothing lost or duplicated: the results equal the CLI's batch output. The machine's shared PostgreSQL and
// Redis are never stopped (other test runs use them).
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EngineProcess } from '../../support/engine-process.js';
import {
  canRunPostgresCluster,
  canRunRedisServer,
  freePort,
  ThrowawayPostgres,
  ThrowawayRedis,
} from '../sinks/throwaway-services.js';
import { jsonRunMessages, malformedJson, sentinels, sessionTicks } from './dataset.js';
import { e2eConfig, uniqueName, writeConfig } from './engine-config.js';
import { createInputTopics, deleteTopics, produceInOrder, testKafka } from './kafka-cluster.js';
import { deleteRedisKeys, dropSchema, groupProgress } from './outputs.js';
import { startReference, type Reference } from './reference.js';
import { verifyOutputs, waitForGroupDone } from './verify.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const sharedRedis = new Redis(services.redisUrl, { lazyConnect: true });
const PARTITIONS = 6;
const OUTAGE_MS = 30_000;
const MAX_PENDING_RECORDS = 5_000;
const RUN_TIMEOUT_MS = 180_000;

const ticksTopic = uniqueName('mlfp_e2e_outage_ticks');
const actionsTopic = uniqueName('mlfp_e2e_outage_actions');
const data = sessionTicks({ count: 100_000, symbols: 30, seed: 77, days: 60 });
const sentinel = sentinels(data.ticks, PARTITIONS);
const malformed = malformedJson(1_000, data.symbols, data.ticks[500]!.ts, 65_536);

let dir: string;
let reference: Reference;
const engines: EngineProcess[] = [];
const cleanup = {
  postgres: [] as ThrowawayPostgres[],
  redis: [] as ThrowawayRedis[],
  schemas: [] as string[],
};

beforeAll(async () => {
  const started = await startReference('outage', data.ticks);
  dir = started.dir;
  const referenceReady = started.reference;
  await createInputTopics(kafka, ticksTopic, actionsTopic, PARTITIONS);
  await produceInOrder(kafka, ticksTopic, jsonRunMessages(data.ticks, malformed, sentinel));
  reference = await referenceReady;
  await sharedRedis.connect();
}, 300_000);

afterAll(async () => {
  for (const engine of engines) if (engine.isRunning) await engine.crash();
  for (const cluster of cleanup.postgres) await cluster.drop();
  for (const server of cleanup.redis) await server.stop();
  await deleteTopics(kafka, [ticksTopic, actionsTopic]).catch((error: unknown) =>
    console.warn(`cleanup: ${String(error)}`),
  );
  for (const schema of cleanup.schemas) await dropSchema(services.postgresUrl, schema);
  if (sharedRedis.status === 'ready')
    for (const schema of cleanup.schemas) await deleteRedisKeys(sharedRedis, schema);
  sharedRedis.disconnect();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 120_000);

interface OutageObservation {
  pausedAfterMs: number;
  /** why the source said it was paused: backpressure, or a wait (warm-up queries go to the same database) */
  pausedBecause: string;
  ticksAtPause: number;
  ticksAtEnd: number;
  committedAtPause: number;
  committedAtEnd: number;
  maxPending: number;
  rssAtPauseMb: number;
  maxRssMb: number;
  /** RSS samples (MB) every ~0.5 s while paused */
  rssMb: number[];
  healthChecks: number;
}

/**
 * Waits until the engine is paused because of `sink`, then watches it for the rest of the outage: /readyz
 * 503 with the sink 'retrying', mlfp_dependency_up 0, /healthz 200, no tick consumed, nothing committed,
 * pending outputs and RSS sampled. Returns what it saw once `outageMs` have passed since `stoppedAt`.
 */
async function watchOutage(
  engine: EngineProcess,
  group: string,
  sink: string,
  stoppedAt: number,
): Promise<OutageObservation> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ticks = async (): Promise<number> =>
      (await engine.metric('mlfp_ticks_total')).reduce((sum, sample) => sum + sample.value, 0);
    let pausedBecause = '';
    for (;;) {
      const readiness = await engine.readiness();
      const source = readiness.dependencies['source:kafka'];
      pausedBecause = source?.detail ?? '';
      if (source?.state === 'retrying' && readiness.dependencies[sink]?.state === 'retrying') break;
      if (!engine.isRunning) throw new Error(`${engine.name} exited\n${engine.tail()}`);
      if (Date.now() - stoppedAt > OUTAGE_MS / 2)
        throw new Error(`not paused ${OUTAGE_MS / 2} ms into the outage: ${JSON.stringify(readiness)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const pausedAfterMs = Date.now() - stoppedAt;
    const observation: OutageObservation = {
      pausedAfterMs,
      pausedBecause,
      ticksAtPause: await ticks(),
      ticksAtEnd: 0,
      committedAtPause: (await groupProgress(admin, group, ticksTopic)).committed,
      committedAtEnd: 0,
      maxPending: 0,
      rssAtPauseMb: (engine.rssBytes() ?? 0) / 2 ** 20,
      maxRssMb: 0,
      rssMb: [],
      healthChecks: 0,
    };
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      const readiness = await engine.readiness();
      expect(readiness.status, 'readyz during the outage').toBe(503);
      expect(readiness.dependencies[sink]?.state, `${sink} during the outage`).toBe('retrying');
      expect(readiness.dependencies['source:kafka']?.detail).toMatch(/paused/);
      const pending = readiness.dependencies['source:kafka']?.values?.pending_records ?? 0;
      observation.maxPending = Math.max(observation.maxPending, pending);
      const up = (await engine.metric('mlfp_dependency_up')).find((s) => s.labels.dependency === sink);
      expect(up, `mlfp_dependency_up{dependency="${sink}"}`).toMatchObject({
        value: 0,
        labels: { state: 'retrying' },
      });
      expect((await engine.get('/healthz')).status, '/healthz during the outage').toBe(200);
      observation.healthChecks++;
      const rssMb = (engine.rssBytes() ?? 0) / 2 ** 20;
      observation.rssMb.push(Math.round(rssMb));
      observation.maxRssMb = Math.max(observation.maxRssMb, rssMb);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    observation.ticksAtEnd = await ticks();
    observation.committedAtEnd = (await groupProgress(admin, group, ticksTopic)).committed;
    return observation;
  } finally {
    await admin.disconnect();
  }
}

function expectPausedAndBounded(observation: OutageObservation): void {
  // paused: not one more message consumed, no offset committed while the sink was away
  expect(observation.ticksAtEnd, 'ticks consumed while paused').toBe(observation.ticksAtPause);
  expect(observation.committedAtEnd, 'offsets committed while paused').toBe(observation.committedAtPause);
  // bounded: pending outputs stay near the limit (one check interval of 64 messages' outputs plus the batch in
  // hand may pass it), and the process does not grow with the input it is not reading. The sinks' retries
  // make garbage (a Redis outage: ~2 MB/s, collected in one major GC, a saw-tooth), hence the margin.
  expect(observation.maxPending).toBeGreaterThan(0);
  expect(observation.maxPending).toBeLessThan(MAX_PENDING_RECORDS * 2);
  expect(observation.maxRssMb - observation.rssAtPauseMb, 'RSS growth while paused (MB)').toBeLessThan(128);
}

function describeOutage(observation: OutageObservation): string {
  return (
    `paused ${(observation.pausedAfterMs / 1000).toFixed(1)} s into the outage ("${observation.pausedBecause}") at ` +
    `${observation.ticksAtPause} ` +
    `messages consumed / ${observation.committedAtPause} committed (unchanged at the end: ` +
    `${observation.ticksAtEnd} / ${observation.committedAtEnd}); pending outputs at most ${observation.maxPending}; ` +
    `RSS ${observation.rssAtPauseMb.toFixed(0)} MB at the pause, at most ${observation.maxRssMb.toFixed(0)} MB ` +
    `(samples ${observation.rssMb.join(' ')}); ` +
    `${observation.healthChecks} /readyz 503 + /healthz 200 checks`
  );
}

/** Starts an engine, waits until it has committed a fifth of the input (mid-run), and returns it. */
async function startAndReachMidRun(name: string, config: string, group: string): Promise<EngineProcess> {
  const engine = EngineProcess.spawn(name, config);
  engines.push(engine);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    for (;;) {
      if (!engine.isRunning) throw new Error(`${name} exited\n${engine.tail()}`);
      const progress = await groupProgress(admin, group, ticksTopic);
      if (progress.done) throw new Error(`${name} finished before the outage began`);
      if (progress.committed >= progress.total / 5) return engine;
      if (Date.now() > deadline) throw new Error(`${name} made no progress\n${engine.tail()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await admin.disconnect();
  }
}

async function finishAndVerify(
  engine: EngineProcess,
  group: string,
  schema: string,
  postgresUrl: string,
  redis: Redis,
  sink: string,
): Promise<string> {
  await waitForGroupDone(kafka, group, ticksTopic, { timeoutMs: RUN_TIMEOUT_MS, running: () => [engine] });
  const readiness = await engine.readiness();
  expect(readiness.status, JSON.stringify(readiness)).toBe(200);
  const up = (await engine.metric('mlfp_dependency_up')).find((s) => s.labels.dependency === sink);
  expect(up).toMatchObject({ value: 1, labels: { state: 'up' } });
  const summary = await verifyOutputs({
    kafka,
    redis,
    postgresUrl,
    schema,
    redisPrefix: group,
    topics: undefined,
    ticksTopic,
    reference,
    symbols: data.symbols,
    sentinelSymbols: sentinel.symbols,
    malformed,
    maxOriginalBytes: 65_536,
    validTicks: data.ticks.length,
  });
  const exit = await engine.stop();
  expect(exit, engine.tail()).toEqual({ code: 0, signal: null });
  return summary.line;
}

/** A run's config file: bounded pending outputs, sink retries capped at 1 s, the given PostgreSQL and Redis. */
function outageConfig(
  group: string,
  postgresUrl: string,
  redisUrl: string,
  snapshots: 'redis' | 'postgres',
): Promise<string> {
  return writeConfig(
    dir,
    group,
    e2eConfig({
      brokers: services.kafkaBrokers,
      groupId: group,
      ticksTopic,
      actionsTopic,
      postgres: { url: postgresUrl, schema: group },
      redis: { url: redisUrl, keyPrefix: group },
      snapshots,
      delivery: { maxPendingRecords: MAX_PENDING_RECORDS, maxBatchRecords: 1_000 },
      retryMaxDelayMs: 1_000,
    }),
  );
}

describe('end to end, outages of PostgreSQL and Redis (throwaway servers, mlfp run as a child process)', () => {
  it.skipIf(!canRunPostgresCluster)(
    'PostgreSQL stopped for 30 s mid-run: consumption pauses, /readyz and metrics say so, nothing lost after it returns',
    { timeout: RUN_TIMEOUT_MS + OUTAGE_MS + 120_000 },
    async () => {
      const cluster = new ThrowawayPostgres(`mlfp_e2e_${process.pid}`, await freePort());
      cleanup.postgres.push(cluster);
      await cluster.create();
      const group = uniqueName('mlfp_e2e_pg_outage');
      cleanup.schemas.push(group);
      const config = await outageConfig(group, cluster.url, services.redisUrl, 'redis');
      const engine = await startAndReachMidRun('pg-outage', config, group);
      const stoppedAt = Date.now();
      await cluster.stop();
      const observation = await watchOutage(engine, group, 'sink:postgres', stoppedAt);
      await cluster.start();
      const restartedAt = Date.now();
      expectPausedAndBounded(observation);
      const line = await finishAndVerify(engine, group, group, cluster.url, sharedRedis, 'sink:postgres');
      console.info(
        `e2e postgres outage: ${describeOutage(observation)}; done ${((Date.now() - restartedAt) / 1000).toFixed(1)} s ` +
          `after the restart; ${line}`,
      );
    },
  );

  it.skipIf(!canRunRedisServer)(
    'Redis stopped for 30 s mid-run: consumption pauses, /readyz and metrics say so, nothing lost after it returns',
    { timeout: RUN_TIMEOUT_MS + OUTAGE_MS + 120_000 },
    async () => {
      // a durable Redis (append-only file, fsync always): a restart must not be what loses a latest value
      const server = new ThrowawayRedis(await freePort(), await mkdtemp(join(dir, 'redis-')));
      cleanup.redis.push(server);
      await server.start();
      const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      const group = uniqueName('mlfp_e2e_redis_outage');
      cleanup.schemas.push(group);
      // snapshots in the PostgreSQL store (the JSON tests use the Redis one): only the Redis sink is away
      const config = await outageConfig(group, services.postgresUrl, server.url, 'postgres');
      try {
        const engine = await startAndReachMidRun('redis-outage', config, group);
        const stoppedAt = Date.now();
        await server.stop();
        const observation = await watchOutage(engine, group, 'sink:redis', stoppedAt);
        await server.start();
        const restartedAt = Date.now();
        expectPausedAndBounded(observation);
        await redis.connect();
        const line = await finishAndVerify(engine, group, group, services.postgresUrl, redis, 'sink:redis');
        console.info(
          `e2e redis outage: ${describeOutage(observation)}; done ${((Date.now() - restartedAt) / 1000).toFixed(1)} s ` +
            `after the restart; ${line}`,
        );
      } finally {
        redis.disconnect();
      }
    },
  );
});

// Issue 10 acceptance, JSON ticks, against the real broker, PostgreSQL and Redis with `mlfp run` as child
// processes. One data set, produced once: 200,000 ticks over 50 symbols on 6 partitions with 10,000 malformed
// messages mixed in and a sentinel per partition. Each test runs the engine(s) under its own consumer group,
// output topics, PostgreSQL schema and Redis prefix, and compares everything with the CLI's batch output:
//   - a clean run: bars and features equal the batch exactly in PostgreSQL, Kafka and Redis; every malformed
//     message is in the DLQ (topic and table) with its reason; the engine never stops serving /healthz;
//   - three SIGKILLs at random points, each followed by a restart: still equal, nothing twice in the table;
//   - two instances split the partitions, one is stopped with SIGTERM mid-run, the other takes its partitions
//     and state: still equal.
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Random } from '../../../src/streams/random.js';
import { EngineProcess } from '../../support/engine-process.js';
import { countByReason, jsonRunMessages, malformedJson, sentinels, sessionTicks } from './dataset.js';
import { e2eConfig, outputTopics, uniqueName, writeConfig, type OutputTopics } from './engine-config.js';
import { createInputTopics, deleteTopics, groupMembers, produceInOrder, testKafka } from './kafka-cluster.js';
import { deleteRedisKeys, dropSchema, groupProgress, restoredOffsets } from './outputs.js';
import { startReference, type Reference } from './reference.js';
import { verifyOutputs, waitForGroupDone } from './verify.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const redis = new Redis(services.redisUrl, { lazyConnect: true });
const PARTITIONS = 6;
const MAX_MESSAGE_BYTES = 65_536; // the engine's default kafka.maxMessageBytes
const MAX_ORIGINAL_BYTES = 65_536; // the sinks' default maxOriginalBytes
const RUN_TIMEOUT_MS = 240_000;

const ticksTopic = uniqueName('mlfp_e2e_ticks');
const actionsTopic = uniqueName('mlfp_e2e_actions');
const data = sessionTicks({ count: 200_000, symbols: 50, seed: 20_240_102, days: 80 });
const sentinel = sentinels(data.ticks, PARTITIONS);
const malformed = malformedJson(10_000, data.symbols, data.ticks[1_000]!.ts, MAX_MESSAGE_BYTES);
const messageCount = data.ticks.length + malformed.length + sentinel.ticks.length;

let dir: string;
let reference: Reference;
const engines: EngineProcess[] = [];
const created = { schemas: [] as string[], prefixes: [] as string[], topics: [ticksTopic, actionsTopic] };

interface RunNames {
  group: string;
  schema: string;
  redisPrefix: string;
  topics: OutputTopics;
  config: string;
}

/**
 * Consumption paced by the sinks (bounded pending outputs): without it the engine reads all 210,006 messages
 * in ~3 s while the sinks need ~10 s, so "mid-run" would mean "after consuming, before committing". Fetches of
 * 64 KB (~900 messages) per partition interleave the partitions (a 1 MB fetch is most of one partition, worked
 * through before the next), so a kill or a stop lands mid-stream in every partition.
 */
const PACED = {
  delivery: { maxPendingRecords: 20_000, maxBatchRecords: 5_000 },
  fetchMaxBytesPerPartition: 65_536,
};

/** Names and a config file for one test's engines: its own group, output topics, schema, Redis prefix. */
async function newRun(label: string, paced?: typeof PACED): Promise<RunNames> {
  const group = uniqueName(`mlfp_e2e_${label}`);
  const topics = outputTopics(group);
  created.schemas.push(group);
  created.prefixes.push(group);
  created.topics.push(...topics.all);
  const config = e2eConfig({
    brokers: services.kafkaBrokers,
    groupId: group,
    ticksTopic,
    actionsTopic,
    kafkaOutputs: group,
    postgres: { url: services.postgresUrl, schema: group },
    redis: { url: services.redisUrl, keyPrefix: group },
    snapshots: 'redis',
    ...paced,
  });
  return { group, schema: group, redisPrefix: group, topics, config: await writeConfig(dir, group, config) };
}

function startEngine(name: string, configPath: string): EngineProcess {
  const engine = EngineProcess.spawn(name, configPath);
  engines.push(engine);
  return engine;
}

function verify(run: RunNames): ReturnType<typeof verifyOutputs> {
  return verifyOutputs({
    kafka,
    redis,
    postgresUrl: services.postgresUrl,
    schema: run.schema,
    redisPrefix: run.redisPrefix,
    topics: run.topics,
    ticksTopic,
    reference,
    symbols: data.symbols,
    sentinelSymbols: sentinel.symbols,
    malformed,
    maxOriginalBytes: MAX_ORIGINAL_BYTES,
    validTicks: data.ticks.length,
  });
}

/** A metric's value summed over its samples (0 when absent). */
async function metricSum(engine: EngineProcess, name: string): Promise<number> {
  return (await engine.metric(name)).reduce((sum, sample) => sum + sample.value, 0);
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string, engine?: EngineProcess) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (engine !== undefined && !engine.isRunning) throw new Error(`${engine.name} exited\n${engine.tail()}`);
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${engine ? `\n${engine.tail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  const started = await startReference('json', data.ticks);
  dir = started.dir;
  const referenceReady = started.reference;
  await createInputTopics(kafka, ticksTopic, actionsTopic, PARTITIONS);
  const messages = jsonRunMessages(data.ticks, malformed, sentinel);
  const seconds = await produceInOrder(kafka, ticksTopic, messages);
  reference = await referenceReady;
  await redis.connect();
  console.info(
    `e2e json: produced ${messages.length} messages (${data.ticks.length} ticks, ${malformed.length} malformed, ` +
      `${sentinel.ticks.length} sentinels) in ${seconds.toFixed(1)} s; CLI reference ${reference.counts['5m']} 5m, ` +
      `${reference.counts['1h']} 1h, ${reference.counts['1d']} 1d bars`,
  );
}, 300_000);

afterAll(async () => {
  for (const engine of engines) if (engine.isRunning) await engine.crash();
  await deleteTopics(kafka, created.topics).catch((error: unknown) =>
    console.warn(`cleanup: ${String(error)}`),
  );
  for (const schema of created.schemas) await dropSchema(services.postgresUrl, schema);
  if (redis.status === 'ready') for (const prefix of created.prefixes) await deleteRedisKeys(redis, prefix);
  redis.disconnect();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('end to end, JSON ticks (mlfp run as a child process, real Kafka, PostgreSQL, Redis)', () => {
  it(
    'a clean run equals the batch CLI in PostgreSQL, Kafka and Redis; every malformed message is dead-lettered with its reason; /healthz stays 200',
    { timeout: RUN_TIMEOUT_MS + 120_000 },
    async () => {
      const run = await newRun('exact');
      const startedAt = Date.now();
      const engine = startEngine('exact', run.config);
      let healthChecks = 0;
      await waitForGroupDone(kafka, run.group, ticksTopic, {
        timeoutMs: RUN_TIMEOUT_MS,
        running: () => [engine],
        onPoll: async () => {
          expect((await engine.get('/healthz')).status, '/healthz while consuming').toBe(200);
          healthChecks++;
        },
      });
      const seconds = (Date.now() - startedAt) / 1000;
      // every output is durable once the last offsets are committed: read them while the engine still runs
      const summary = await verify(run);
      expect(engine.isRunning).toBe(true);
      expect((await engine.get('/healthz')).status).toBe(200);
      const readiness = await engine.readiness();
      expect(readiness.status, JSON.stringify(readiness)).toBe(200);
      // each message counted once (no replay in a clean run), each reject under its reason
      expect(await metricSum(engine, 'mlfp_ticks_total')).toBe(messageCount);
      const rejects = (await engine.metric('mlfp_rejects_total'))
        .filter((sample) => sample.value > 0)
        .map((sample) => [sample.labels.reason!, sample.value] as const)
        .sort(([a], [b]) => a.localeCompare(b));
      expect(Object.fromEntries(rejects), 'mlfp_rejects_total by reason').toEqual(countByReason(malformed));
      const exit = await engine.stop();
      expect(exit, engine.tail()).toEqual({ code: 0, signal: null });
      console.info(
        `e2e json clean run: ${messageCount} messages to committed in ${seconds.toFixed(1)} s ` +
          `(${Math.round(messageCount / seconds)} msg/s incl. start-up), ${healthChecks} /healthz checks all 200; ${summary.line}`,
      );
    },
  );

  it(
    'killed with SIGKILL at three random points and restarted: every row once, none missing, no tick counted twice',
    { timeout: RUN_TIMEOUT_MS + 180_000 },
    async () => {
      const run = await newRun('crash', PACED);
      const seed = Number(process.env['MLFP_E2E_SEED'] ?? Date.now() % 1_000_000);
      const random = new Random(seed);
      // kill points: a random share of the input committed (so restarts restore real snapshots), in three bands
      // low enough that the engine is still reading input there (it runs at most ~20 % ahead of its commits)
      const killAt = [0.1, 0.3, 0.5].map((low) => low + 0.15 * random.uniform());
      const startedAt = Date.now();
      const admin = kafka.admin();
      await admin.connect();
      const kills: string[] = [];
      /** committed offsets right after each kill: the next start must restore at or past them */
      const committedAtKill: Array<Map<number, number>> = [];
      let engine = startEngine('crash-0', run.config);
      try {
        for (let kill = 0; kill < killAt.length; kill++) {
          const share = killAt[kill]!;
          await until(
            async () => {
              // this process must be consuming (started, input left to read), and the group past the kill point
              if ((await metricSum(engine, 'mlfp_ticks_total')) < 2_000) return false;
              const lag = (await engine.readiness()).dependencies['source:kafka']?.values?.lag ?? 0;
              const progress = await groupProgress(admin, run.group, ticksTopic);
              return lag > 0 && progress.committed >= share * progress.total;
            },
            RUN_TIMEOUT_MS,
            `${engine.name}: ${Math.round(share * 100)}% committed`,
            engine,
          );
          await new Promise((resolve) => setTimeout(resolve, random.int(400)));
          const consumed = await metricSum(engine, 'mlfp_ticks_total');
          const lag = (await engine.readiness()).dependencies['source:kafka']?.values?.lag;
          const progress = await groupProgress(admin, run.group, ticksTopic);
          expect(progress.done, 'killed before the end').toBe(false);
          const exit = await engine.crash();
          expect(exit.signal).toBe('SIGKILL');
          committedAtKill.push((await groupProgress(admin, run.group, ticksTopic)).byPartition);
          kills.push(
            `kill ${kill + 1} at ${progress.committed}/${progress.total} committed, ${consumed} consumed by that ` +
              `process, lag ${lag}`,
          );
          engine = startEngine(`crash-${kill + 1}`, run.config);
        }
        await waitForGroupDone(kafka, run.group, ticksTopic, {
          timeoutMs: RUN_TIMEOUT_MS,
          running: () => [engine],
        });
      } finally {
        await admin.disconnect();
      }
      const seconds = (Date.now() - startedAt) / 1000;
      const summary = await verify(run);
      // committed ≤ the latest durable snapshot: every partition committed before a kill is restored by the
      // next start from a snapshot at or past that offset (never from an older state, never from scratch)
      const starts = engines.filter((e) => e.name.startsWith('crash-'));
      const restored = starts.map((e) => restoredOffsets(e.stderr));
      committedAtKill.forEach((committed, kill) => {
        for (const [partition, offset] of committed)
          if (offset > 0)
            expect(
              restored[kill + 1]!.get(partition),
              `start ${kill + 1} restores partition ${partition} at or past its commit ${offset}`,
            ).toBeGreaterThanOrEqual(offset);
      });
      expect(
        restored.slice(1).every((offsets) => offsets.size > 0),
        'each restart restored snapshots',
      ).toBe(true);
      const exit = await engine.stop();
      expect(exit, engine.tail()).toEqual({ code: 0, signal: null });
      console.info(
        `e2e json crash run (seed ${seed}): ${kills.join('; ')}; partitions restored from snapshots per start ` +
          `[${restored.map((offsets) => offsets.size).join(', ')}]; done in ${seconds.toFixed(1)} s; ${summary.line}`,
      );
    },
  );

  it(
    'two instances split the partitions; one stopped with SIGTERM mid-run hands its partitions and state to the other; same result',
    { timeout: RUN_TIMEOUT_MS + 120_000 },
    async () => {
      const run = await newRun('rebalance', PACED);
      const startedAt = Date.now();
      const first = startEngine('rebalance-a', run.config);
      const second = startEngine('rebalance-b', run.config);
      const assignedOf = (engine: EngineProcess): number[] => {
        const lines = engine.stderr.match(/assigned partitions \[([\d, ]*)\]/g) ?? [];
        const last = lines.at(-1);
        return last === undefined ? [] : [...last.matchAll(/\d+/g)].map((m) => Number(m[0]));
      };
      let split: Array<{ memberId: string; partitions: number[] }> = [];
      await until(
        async () => {
          const group = await groupMembers(kafka, run.group, ticksTopic);
          split = group.members;
          return (
            group.state === 'Stable' && split.length === 2 && split.every((m) => m.partitions.length > 0)
          );
        },
        60_000,
        'two members with partitions each',
        first,
      );
      expect(split.flatMap((m) => m.partitions).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      await until(
        async () => (await metricSum(second, 'mlfp_ticks_total')) >= 5_000,
        60_000,
        'B consuming',
        second,
      );
      const handedOver = assignedOf(second);
      expect(
        [assignedOf(first), handedOver].map((list) => list.join(',')).sort(),
        "each engine's log agrees with the group's description",
      ).toEqual(split.map((member) => member.partitions.join(',')).sort());
      const admin = kafka.admin();
      await admin.connect();
      let before: Awaited<ReturnType<typeof groupProgress>>;
      let handover: Map<number, number>;
      try {
        // B has checkpointed every partition it holds, so the handover carries state, not a fresh start
        await until(
          async () => {
            const committed = (await groupProgress(admin, run.group, ticksTopic)).byPartition;
            return handedOver.every((partition) => (committed.get(partition) ?? 0) > 0);
          },
          60_000,
          'B to commit each of its partitions',
          second,
        );
        before = await groupProgress(admin, run.group, ticksTopic);
        expect(before.done, 'stopped mid-run').toBe(false);
        const stopped = await second.stop();
        expect(stopped, second.tail()).toEqual({ code: 0, signal: null });
        // B's last checkpoint, committed on its way out (A needs a rebalance and a checkpoint to commit more)
        handover = (await groupProgress(admin, run.group, ticksTopic)).byPartition;
      } finally {
        await admin.disconnect();
      }
      await until(
        async () => assignedOf(first).length === PARTITIONS,
        60_000,
        'A takes every partition',
        first,
      );
      // what A logged for B's partitions after taking them: "restored at offset N" or "has no snapshot"
      const sinceHandover = (): string =>
        first.stderr.slice(first.stderr.lastIndexOf('assigned partitions [0, 1'));
      await until(
        async () =>
          handedOver.every((partition) =>
            new RegExp(`partition ${partition} (restored|has no snapshot)`).test(sinceHandover()),
          ),
        60_000,
        "A loads B's partitions",
        first,
      );
      const restored = restoredOffsets(sinceHandover());
      for (const partition of handedOver) {
        expect(handover.get(partition), `B committed partition ${partition}`).toBeGreaterThan(0);
        expect(restored.get(partition), `A resumes partition ${partition} from B's last snapshot`).toBe(
          handover.get(partition),
        );
      }
      await waitForGroupDone(kafka, run.group, ticksTopic, {
        timeoutMs: RUN_TIMEOUT_MS,
        running: () => [first],
      });
      const seconds = (Date.now() - startedAt) / 1000;
      const summary = await verify(run);
      const exit = await first.stop();
      expect(exit, first.tail()).toEqual({ code: 0, signal: null });
      console.info(
        `e2e json rebalance: split ${split.map((m) => `[${m.partitions.join(',')}]`).join(' + ')}; B stopped at ` +
          `${before.committed}/${before.total} committed, A restored [${handedOver.map((p) => `${p}@${restored.get(p)}`).join(', ')}]; ` +
          `done in ` +
          `${seconds.toFixed(1)} s; ${summary.line}`,
      );
    },
  );
});

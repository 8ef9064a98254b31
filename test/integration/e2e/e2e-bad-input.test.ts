// Issue 16 acceptance: plausible-but-wrong input must not cost valid data. In-order ticks of 12 symbols on 4
// partitions, with an overnight gap every day and a weekend gap, get interleaved with: single ticks +1 h, +1 d
// and +10 y ahead of their stream (several symbols), a record naming `ts` twice with a future last value,
// ticks keyed other_key / lower case / padded / null, numbers as strings, and one burst of late ticks in one
// partition. `mlfp run` (a child process, real Kafka, PostgreSQL, Redis) must produce exactly the batch CLI's
// bars and features of the clean ticks in every sink, each bad record in the DLQ once with its code, and the
// data-quality `system` alert must fire (then resolve) for the late burst's partition only, on Kafka and in
// PostgreSQL, with /readyz saying degraded while it fires.
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { formatTime } from '../../../src/domain/time.js';
import { EngineProcess } from '../../support/engine-process.js';
import { buildInput, data, PARTITIONS, sentinel } from './bad-input-data.js';
import { countByReason } from './dataset.js';
import { cleanUpRuns } from './cleanup.js';
import { groupConfig, outputTopics, uniqueName, writeConfig } from './engine-config.js';
import { createInputTopics, produceInOrder, testKafka } from './kafka-cluster.js';
import { readTopics } from './outputs.js';
import { startReference, type Reference } from './reference.js';
import { verifyGroupRun, waitForGroupDone } from './verify.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const redis = new Redis(services.redisUrl, { lazyConnect: true });
const RUN_TIMEOUT_MS = 180_000;

const ticksTopic = uniqueName('mlfp_e2e_bad_ticks');
const actionsTopic = uniqueName('mlfp_e2e_bad_actions');

const input = buildInput(ticksTopic);
let dir: string;
let reference: Reference;
const group = uniqueName('mlfp_e2e_bad');
const topics = outputTopics(group);
let engine: EngineProcess | undefined;

beforeAll(async () => {
  const started = await startReference('bad-input', data.ticks);
  dir = started.dir;
  await createInputTopics(kafka, ticksTopic, actionsTopic, PARTITIONS);
  await produceInOrder(kafka, ticksTopic, input.first);
  reference = await started.reference;
  await redis.connect();
}, 300_000);

afterAll(
  () =>
    cleanUpRuns({
      kafka,
      redis,
      postgresUrl: services.postgresUrl,
      engines: [engine],
      topics: [ticksTopic, actionsTopic, ...topics.all],
      groups: [group],
      dir,
    }),
  120_000,
);

describe('end to end, plausible-but-wrong input (mlfp run, real Kafka, PostgreSQL, Redis)', () => {
  it(
    'bars and features equal the clean run in every sink; each bad record is dead-lettered once with its code; the system alert fires only for the late burst',
    { timeout: RUN_TIMEOUT_MS + 120_000 },
    async () => {
      const config = groupConfig(services, { group, ticksTopic, actionsTopic }, { snapshots: 'redis' });
      const path = await writeConfig(dir, group, config);
      engine = EngineProcess.spawn('bad-input', path);
      const running = engine;
      // the burst's window has closed and the next one cannot: the source stays degraded until the rest comes
      let degraded: Awaited<ReturnType<EngineProcess['readiness']>> | undefined;
      const deadline = Date.now() + RUN_TIMEOUT_MS;
      while (degraded === undefined) {
        if (!running.isRunning) throw new Error(`engine exited\n${running.tail()}`);
        if (Date.now() > deadline) throw new Error(`never degraded\n${running.tail()}`);
        const readiness = await running.readiness();
        if (readiness.dependencies['source:kafka']?.state === 'degraded') degraded = readiness;
        else await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(degraded.status, '/readyz while degraded').toBe(503);
      const degradedSeen = degraded.dependencies['source:kafka']!.detail;
      expect(running.stderr).toMatch(
        /"event":"partition\.data_quality".*"msg":"data quality of source:.*late is \d+(\.\d)?% of the last 1000 records/,
      );
      await produceInOrder(kafka, ticksTopic, input.rest);
      await waitForGroupDone(kafka, group, ticksTopic, {
        timeoutMs: RUN_TIMEOUT_MS,
        running: () => [running],
      });
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
        malformed: input.bad,
        maxOriginalBytes: 65_536,
      });
      expect(summary.dlqDuplicates, 'a clean run dead-letters each record once').toBe(0);

      // the data-quality alert: one firing and one resolved, for the late burst's partition, on Kafka and in PostgreSQL
      const lateLetters = summary.postgres.deadLetters.filter((letter) => letter.reason === 'late');
      const latePartitions = new Set(lateLetters.map((letter) => letter.partition));
      expect([...latePartitions], 'the late burst lies in one partition').toHaveLength(1);
      const subject = `source:${ticksTopic}[${[...latePartitions][0]}]:late`;
      const kafkaAlerts = (await readTopics(kafka, [topics.alerts])).get(topics.alerts)!.map(
        (record) =>
          JSON.parse(record.value!.toString()) as {
            type: string;
            state: string;
            subject: string;
            value: number;
          },
      );
      const systemAlerts = kafkaAlerts.filter((alert) => alert.type === 'system');
      expect(systemAlerts.map((alert) => [alert.subject, alert.state])).toStrictEqual([
        [subject, 'firing'],
        [subject, 'resolved'],
      ]);
      expect(systemAlerts[0]!.value).toBeGreaterThanOrEqual(0.05);
      const client = new pg.Client({ connectionString: services.postgresUrl });
      await client.connect();
      try {
        const rows = await client.query<{ subject: string; state: string }>(
          `SELECT subject, state FROM "${group}".alerts WHERE type = 'system' ORDER BY ts, state`,
        );
        expect(rows.rows.map((row) => [row.subject, row.state])).toStrictEqual([
          [subject, 'firing'],
          [subject, 'resolved'],
        ]);
      } finally {
        await client.end();
      }
      expect(degradedSeen, '/readyz said why').toMatch(
        /partition \d: late \d+(\.\d)?% of the last 1000 records \(bound 5\.0%\)/,
      );
      expect((await running.readiness()).status, 'ready again once resolved').toBe(200);
      const rejects = Object.fromEntries(
        (await running.metric('mlfp_rejects_total'))
          .filter((sample) => sample.value > 0)
          .map((sample) => [sample.labels.reason!, sample.value]),
      );
      expect(rejects, 'mlfp_rejects_total by reason').toEqual(countByReason(input.bad));
      expect(await running.stop()).toEqual({ code: 0, signal: null });
      console.info(
        `e2e bad input: ${input.first.length + input.rest.length} messages, ${input.bad.length} bad (${JSON.stringify(countByReason(input.bad))}); ` +
          `weekend gap at ${formatTime(data.weekendMs)}; ${summary.line}; alert ${subject} fired and resolved; /readyz: ${degradedSeen}`,
      );
    },
  );
});

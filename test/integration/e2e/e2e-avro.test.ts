// Issue 10 acceptance, Avro ticks through the real schema registry (Apicurio, Confluent-compatible API), with
// the demo models scoring inline: `mlfp run` as a child process; bars and features equal the CLI's batch output
// in PostgreSQL, Kafka and Redis; malformed Avro frames (unknown schema id, another schema's record, no magic
// byte, a truncated body, invalid values, oversize, tombstones) are dead letters with their reasons; every
// prediction equals `mlfp score` on the CLI's 5m features, one row per key in PostgreSQL and in Kafka.
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Redis } from 'ioredis';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ErrorCode } from '../../../src/errors.js';
import { registerTickSchemas } from '../../support/avro-schemas.js';
import { REPO_ROOT } from '../../support/build-once.js';
import { EngineProcess } from '../../support/engine-process.js';
import { interleave, sentinels, sessionTicks, type DatasetTick, type MalformedMessage } from './dataset.js';
import { cleanUpRuns } from './cleanup.js';
import { groupConfig, outputTopics, uniqueName, writeConfig } from './engine-config.js';
import { createInputTopics, produceInOrder, testKafka } from './kafka-cluster.js';
import { comparePredictions, latestPredictions, readTopics } from './outputs.js';
import { cliPredictions, startReference, type Reference } from './reference.js';
import { expectEqual, verifyGroupRun, waitForGroupDone } from './verify.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const redis = new Redis(services.redisUrl, { lazyConnect: true });
const registry = new SchemaRegistry({ host: services.registryUrl });
const PARTITIONS = 6;
const MAX_MESSAGE_BYTES = 65_536;
const RUN_TIMEOUT_MS = 240_000;

const ticksTopic = uniqueName('mlfp_e2e_avro_ticks');
const actionsTopic = uniqueName('mlfp_e2e_avro_actions');
const group = uniqueName('mlfp_e2e_avro');
const topics = outputTopics(group);
const data = sessionTicks({ count: 40_000, symbols: 12, seed: 31_337, days: 60 });
const sentinel = sentinels(data.ticks, PARTITIONS);

/** The models of models/registry.json and the keys of their Prediction.output, in `mlfp score`'s column order. */
const MODELS = [
  { name: 'lgbm-return', keys: ['value'] },
  { name: 'xgb-direction', keys: ['p_down', 'p_up', 'label'] },
  { name: 'lstm-return', keys: ['return_pct'] },
] as const;

let dir: string;
let reference: Reference;
let malformed: MalformedMessage[];
const expectedPredictions = new Map<string, Map<string, Record<string, number | string>>>();
const engines: EngineProcess[] = [];

const avroTick = (tick: Pick<DatasetTick, 'symbol' | 'ts' | 'price' | 'size'>, extra: object = {}) => ({
  symbol: tick.symbol,
  ts: tick.ts,
  price: tick.price,
  size: tick.size,
  bid: null,
  ask: null,
  exchange: null,
  seq: null,
  ...extra,
});

/** Malformed Avro traffic: every way a frame or its values can be wrong, each with the reason it must get. */
async function malformedAvro(
  count: number,
  tickSchemaId: number,
  otherSchemaId: number,
): Promise<MalformedMessage[]> {
  const sample = data.ticks[500]!;
  const valid = await registry.encode(tickSchemaId, avroTick(sample));
  const unknownId = Buffer.from(valid);
  unknownId.writeInt32BE(2_000_000_000 + 7, 1);
  const kinds: Array<{ value: Buffer | null; reason: ErrorCode }> = [
    { value: unknownId, reason: 'bad_schema' },
    { value: Buffer.from(JSON.stringify(avroTick(sample))), reason: 'bad_schema' }, // JSON: no magic byte
    { value: valid.subarray(0, 9), reason: 'bad_schema' }, // truncated body
    { value: Buffer.concat([Buffer.from([1]), valid.subarray(1)]), reason: 'bad_schema' }, // wrong magic byte
    { value: await registry.encode(otherSchemaId, { name: 'not a tick' }), reason: 'missing_field' },
    { value: null, reason: 'tombstone' },
    { value: Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0), reason: 'too_large' },
    {
      value: await registry.encode(tickSchemaId, avroTick(sample, { price: -1.5 })),
      reason: 'non_positive_price',
    },
    {
      value: await registry.encode(tickSchemaId, avroTick(sample, { price: Number.NaN })),
      reason: 'not_finite',
    },
    { value: await registry.encode(tickSchemaId, avroTick(sample, { size: -2 })), reason: 'negative_size' },
    {
      value: await registry.encode(tickSchemaId, avroTick(sample, { symbol: 'sym01' })),
      reason: 'bad_symbol',
    },
    { value: await registry.encode(tickSchemaId, avroTick(sample, { symbol: '' })), reason: 'missing_field' },
    {
      value: await registry.encode(tickSchemaId, avroTick(sample, { ts: Date.UTC(2300, 0, 1) })),
      reason: 'bad_time',
    },
    {
      value: await registry.encode(tickSchemaId, avroTick(sample, { bid: 3, ask: 2 })),
      reason: 'crossed_quote',
    },
  ];
  return Array.from({ length: count }, (_, index) => {
    const kind = kinds[index % kinds.length]!;
    return {
      key: index % 2 === 0 ? data.symbols[index % data.symbols.length]! : `BAD${index % 11}`,
      ...kind,
    };
  });
}

beforeAll(async () => {
  const started = await startReference('avro', data.ticks);
  dir = started.dir;
  const referenceReady = started.reference;
  await createInputTopics(kafka, ticksTopic, actionsTopic, PARTITIONS);
  const { tick: id, other } = await registerTickSchemas(registry, ticksTopic, 'mlfp.e2e');
  malformed = await malformedAvro(1_400, id, other);
  const valid: Message[] = [];
  for (const tick of data.ticks)
    valid.push({ key: tick.symbol, value: await registry.encode(id, avroTick(tick)) });
  const closing: Message[] = [];
  for (const tick of sentinel.ticks)
    closing.push({
      key: tick.symbol,
      value: await registry.encode(id, avroTick(tick)),
      partition: tick.partition,
    });
  await produceInOrder(kafka, ticksTopic, [
    ...interleave(
      valid,
      malformed.map((message) => ({ key: message.key, value: message.value })),
    ),
    ...closing,
  ]);
  reference = await referenceReady;
  for (const model of MODELS)
    expectedPredictions.set(
      model.name,
      await cliPredictions(
        dir,
        join(REPO_ROOT, 'models', model.name),
        reference.featuresCsv['5m'],
        model.keys,
      ),
    );
  await redis.connect();
}, 300_000);

afterAll(
  () =>
    cleanUpRuns({
      kafka,
      redis,
      postgresUrl: services.postgresUrl,
      engines,
      topics: [ticksTopic, actionsTopic, ...topics.all],
      groups: [group],
      dir,
    }),
  120_000,
);

describe('end to end, Avro ticks through the schema registry, demo models on', () => {
  it(
    'equals the batch CLI in PostgreSQL, Kafka and Redis; bad frames are dead letters; predictions equal `mlfp score`, one per key',
    { timeout: RUN_TIMEOUT_MS + 120_000 },
    async () => {
      const config = await writeConfig(
        dir,
        group,
        groupConfig(
          services,
          { group, ticksTopic, actionsTopic },
          { snapshots: 'postgres', avroRegistryUrl: services.registryUrl, models: true },
        ),
      );
      const startedAt = Date.now();
      const engine = EngineProcess.spawn('avro', config);
      engines.push(engine);
      await waitForGroupDone(kafka, group, ticksTopic, {
        timeoutMs: RUN_TIMEOUT_MS,
        running: () => [engine],
        onPoll: async () => {
          expect((await engine.get('/healthz')).status).toBe(200);
        },
      });
      const seconds = (Date.now() - startedAt) / 1000;
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
        maxOriginalBytes: 65_536,
      });
      const predictionRecords = (await readTopics(kafka, [topics.predictions])).get(topics.predictions)!;
      const fromKafka = latestPredictions(predictionRecords);
      const counts: string[] = [];
      for (const model of MODELS) {
        const expected = expectedPredictions.get(model.name)!;
        expectEqual(
          comparePredictions(summary.postgres.predictions, model.name, expected),
          `postgres ${model.name}`,
        );
        expectEqual(comparePredictions(fromKafka.rows, model.name, expected), `kafka ${model.name}`);
        counts.push(`${model.name} ${expected.size}`);
      }
      expect(summary.postgres.predictions.length).toBe(fromKafka.rows.length);
      expect(engine.isRunning).toBe(true);
      const exit = await engine.stop();
      expect(exit, engine.tail()).toEqual({ code: 0, signal: null });
      console.info(
        `e2e avro + models: ${data.ticks.length} ticks + ${malformed.length} malformed frames committed in ` +
          `${seconds.toFixed(1)} s; ${summary.line}; predictions equal mlfp score (${counts.join(', ')}), ` +
          `${predictionRecords.length} prediction records in Kafka (${fromKafka.duplicates} duplicates)`,
      );
    },
  );
});

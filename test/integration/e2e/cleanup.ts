// What an end-to-end suite leaves behind, removed in one place: its engines, topics, PostgreSQL schemas,
// Redis keys and temp folder. Failures to clean up are warnings, never test failures.
import { rm } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { EngineProcess } from '../../support/engine-process.js';
import { deleteTopics } from './kafka-cluster.js';
import { deleteRedisKeys, dropSchema } from './outputs.js';

export async function cleanUpRuns(options: {
  kafka: Kafka;
  redis: Redis;
  postgresUrl: string;
  engines: readonly (EngineProcess | undefined)[];
  topics: readonly string[];
  /** PostgreSQL schemas and Redis prefixes (one per group) */
  groups: readonly string[];
  dir: string | undefined;
}): Promise<void> {
  for (const engine of options.engines) if (engine?.isRunning === true) await engine.crash();
  await deleteTopics(options.kafka, options.topics).catch((error: unknown) =>
    console.warn(`cleanup: ${String(error)}`),
  );
  for (const group of options.groups) await dropSchema(options.postgresUrl, group);
  if (options.redis.status === 'ready')
    for (const group of options.groups) await deleteRedisKeys(options.redis, group);
  options.redis.disconnect();
  if (options.dir !== undefined) await rm(options.dir, { recursive: true, force: true });
}

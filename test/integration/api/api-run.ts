// A Kafka-mode run for the API's integration tests: the group's own ticks and output topics (bars published),
// no models, no ops listener, the API on a free port; and the names of the topics it creates, for clean-up.

import { parseConfig } from '../../../src/config/load.js';
import type { EngineConfig } from '../../../src/config/schema.js';

export interface ApiRunTopics {
  group: string;
  ticks: string;
  actions: string;
}

export function apiRunConfig(
  brokers: string[],
  topics: ApiRunTopics,
  api: Record<string, unknown> = {},
): EngineConfig {
  const { group } = topics;
  return parseConfig({
    source: 'kafka',
    bars: { idleTimeoutMs: 3_600_000 },
    kafka: {
      brokers,
      groupId: group,
      topics: { ticks: topics.ticks, corporateActions: topics.actions },
      maxWaitTimeInMs: 100,
    },
    models: { enabled: false },
    outputs: {
      kafka: {
        bars: true,
        partitions: 2,
        topics: {
          predictions: `${group}.predictions`,
          alerts: `${group}.alerts`,
          deadLetters: `${group}.dlq`,
          bars: `${group}.bars.{timeframe}`,
          features: `${group}.features.{timeframe}`,
        },
      },
    },
    http: { enabled: false },
    progress: { intervalMs: 0 },
    api: { port: 0, ...api },
  });
}

/** Every topic such a run uses or creates. */
export function apiRunTopicNames(topics: ApiRunTopics): string[] {
  const outputs = ['predictions', 'alerts', 'dlq', ...['5m', '1h', '1d'].map((tf) => `bars.${tf}`)];
  return [topics.ticks, topics.actions, ...outputs.map((name) => `${topics.group}.${name}`)];
}

// Creates (or re-creates) Kafka topics and waits until the broker reports a leader for every partition. Never
// alters a topic that exists (its partitions and configs stay the owner's choice).
// kafkajs's own `waitForLeaders` retries only LEADER_NOT_AVAILABLE, but a KRaft broker briefly answers
// UNKNOWN_TOPIC_OR_PARTITION for a topic its controller has just created, so we poll metadata ourselves.
import { setTimeout as delay } from 'node:timers/promises';
import type { Admin, ITopicConfig } from 'kafkajs';
import { MlfpError } from '../../errors.js';

export interface TopicOptions {
  /** Give up (with the last broker error as cause) after this long. */
  timeoutMs?: number;
  /** Delete existing topics of these names first, so a run starts from empty partitions. */
  recreate?: boolean;
}

const POLL_INTERVAL_MS = 100;

/** Creates the topics that do not exist yet and resolves once every partition has a leader. */
export async function ensureTopics(
  admin: Admin,
  topics: readonly ITopicConfig[],
  options: TopicOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const names = topics.map((topic) => topic.topic);
  if (options.recreate === true) {
    const existing = new Set(await admin.listTopics());
    const doomed = names.filter((name) => existing.has(name));
    if (doomed.length > 0) {
      await admin.deleteTopics({ topics: doomed, timeout: timeoutMs });
      await pollUntil(deadline, names, async () => {
        const remaining = new Set(await admin.listTopics());
        return doomed.every((name) => !remaining.has(name));
      });
    }
  }
  // A topic deleted a moment ago may still be "marked for deletion": creation is retried until the deadline.
  const created = new Set<string>();
  await pollUntil(deadline, names, async () => {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: [...missing], waitForLeaders: false });
      for (const topic of missing) created.add(topic.topic);
    }
    return true;
  });
  // only topics created here must have the requested partition count; existing ones keep theirs
  const expectedPartitions = new Map(
    topics.map((topic) => [topic.topic, created.has(topic.topic) ? (topic.numPartitions ?? -1) : -1]),
  );
  await pollUntil(deadline, names, async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: names });
    return metadata.topics.every((topic) => {
      const expected = expectedPartitions.get(topic.name) ?? -1;
      const partitionsOk = expected < 0 ? topic.partitions.length > 0 : topic.partitions.length === expected;
      return partitionsOk && topic.partitions.every((partition) => partition.leader >= 0);
    });
  });
}

/** Re-runs `check` until it returns true; broker errors count as "not yet" until the deadline. */
async function pollUntil(
  deadline: number,
  names: readonly string[],
  check: () => Promise<boolean>,
): Promise<void> {
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new MlfpError('sink_unavailable', `Kafka topics ${names.join(', ')} not ready in time`, {
        cause: lastError,
        field: 'topics',
        value: names.join(','),
      });
    }
    await delay(POLL_INTERVAL_MS);
  }
}

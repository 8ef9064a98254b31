// Kafka chores of the end-to-end suite: topics, an ordered producer with requests bounded in bytes, the
// consumer group's members and their partitions, and deleting what a test created.
import { AssignerProtocol, Partitioners, type Kafka, type Message } from 'kafkajs';
import { createTopics, testKafka as harnessKafka } from '../kafka/harness.js';

export { createTopics };

export function testKafka(brokers: string[]): Kafka {
  return harnessKafka(brokers, 'mlfp-e2e');
}

/** The suite's input topics: ticks over `partitions` partitions, corporate actions on one. */
export async function createInputTopics(
  kafka: Kafka,
  ticksTopic: string,
  actionsTopic: string,
  partitions: number,
): Promise<void> {
  await createTopics(kafka, [
    { topic: ticksTopic, numPartitions: partitions },
    { topic: actionsTopic, numPartitions: 1 },
  ]);
}

/** Deletes the topics of `names` that exist (engine-created output topics included); leftovers are harmless. */
export async function deleteTopics(kafka: Kafka, names: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = names.filter((name) => existing.has(name));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Produces `messages` in order with one request in flight (concurrent kafkajs sends can reorder records of
 * a partition) and requests of at most ~256 KB (large produce calls are slow). Returns seconds taken.
 */
export async function produceInOrder(
  kafka: Kafka,
  topic: string,
  messages: readonly Message[],
): Promise<number> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  const startedAt = Date.now();
  await producer.connect();
  try {
    let chunk: Message[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      await producer.send({ topic, acks: -1, messages: chunk });
      chunk = [];
      bytes = 0;
    };
    for (const message of messages) {
      const size = message.value === null ? 0 : message.value.length;
      if (bytes + size > 256 * 1024) await flush();
      chunk.push(message);
      bytes += size + 32;
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return (Date.now() - startedAt) / 1000;
}

/** The group's members with the partitions of `topic` each holds (empty when the group is not stable). */
export async function groupMembers(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<{ state: string; members: Array<{ memberId: string; partitions: number[] }> }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (group === undefined) return { state: 'Unknown', members: [] };
    return {
      state: group.state,
      members: group.members.map((member) => {
        const assignment =
          member.memberAssignment.length === 0
            ? null
            : AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
        return {
          memberId: member.memberId,
          partitions: [...(assignment?.assignment[topic] ?? [])].sort((a, b) => a - b),
        };
      }),
    };
  } finally {
    await admin.disconnect();
  }
}

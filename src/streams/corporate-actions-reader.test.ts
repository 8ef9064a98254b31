// The corporate-actions reader's consumer and kafkajs restarts (issue 16, broker bounce): kafkajs restarts a
// crashed consumer on its own, even after our disconnect() when the two race; a consumer restarted after
// stop() would keep the process alive, so the reader lets it restart only while it still owns it.
import type { ConsumerConfig, Kafka } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import { CorporateActionBook } from './corporate-actions.js';
import { CorporateActionReader } from './corporate-actions-reader.js';

function fakeKafka(): { kafka: Kafka; consumerConfig: () => ConsumerConfig | undefined } {
  let config: ConsumerConfig | undefined;
  const consumer = {
    connect: vi.fn(async () => undefined),
    subscribe: vi.fn(async () => undefined),
    run: vi.fn(async () => undefined),
    disconnect: vi.fn(async () => undefined),
  };
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => ['actions'],
    // an empty topic: the reader is caught up at once
    fetchTopicOffsets: async () => [{ partition: 0, high: '0', low: '0' }],
  };
  const kafka = {
    admin: () => admin,
    consumer: (options: ConsumerConfig) => {
      config = options;
      return consumer;
    },
  } as unknown as Kafka;
  return { kafka, consumerConfig: () => config };
}

describe('CorporateActionReader consumer restarts', () => {
  it('lets kafkajs restart its crashed consumer while reading, never after stop()', async () => {
    const { kafka, consumerConfig } = fakeKafka();
    const reader = new CorporateActionReader(kafka, {
      topic: 'actions',
      groupId: 'g',
      book: new CorporateActionBook(100),
      maxMessageBytes: 65_536,
      maxWaitTimeInMs: 100,
    });
    await reader.start();
    const restartOnFailure = consumerConfig()?.retry?.restartOnFailure;
    expect(restartOnFailure).toBeDefined();
    await expect(restartOnFailure!(new Error('Connection error'))).resolves.toBe(true);
    await reader.stop();
    await expect(restartOnFailure!(new Error('Closed connection'))).resolves.toBe(false);
  });
});

describe('CorporateActionReader after a consumer restart', () => {
  it('reads each message once when a restarted consumer delivers the topic from the beginning again', async () => {
    let eachBatch: ((payload: unknown) => Promise<void>) | undefined;
    const { kafka } = fakeKafka();
    const consumer = (
      kafka.consumer as unknown as (options: ConsumerConfig) => { run: ReturnType<typeof vi.fn> }
    )({
      groupId: 'x',
    });
    consumer.run.mockImplementation(async (options: { eachBatch: (payload: unknown) => Promise<void> }) => {
      eachBatch = options.eachBatch;
    });
    const book = new CorporateActionBook(100);
    const reader = new CorporateActionReader(kafka, {
      topic: 'actions',
      groupId: 'g',
      book,
      maxMessageBytes: 65_536,
      maxWaitTimeInMs: 100,
    });
    await reader.start();
    const messages = [
      { offset: '0', value: Buffer.from('{"symbol":"AAPL","type":"split","exDate":"2024-06-10","ratio":4}') },
      { offset: '1', value: Buffer.from('{not json') },
      { offset: '2', value: Buffer.from('{"symbol":"AAPL","type":"merger","exDate":"2024-06-10"}') },
    ];
    const batch = (list: typeof messages) => ({
      batch: { partition: 0, messages: list, lastOffset: () => list.at(-1)!.offset },
    });
    await eachBatch!(batch(messages.slice(0, 2)));
    await eachBatch!(batch(messages)); // the restarted consumer starts over
    expect(book.size).toBe(1);
    expect(
      reader.takeOutbox()?.deadLetters.map((letter) => [letter.reason, letter.source?.offset]),
    ).toStrictEqual([
      ['bad_json', '1'],
      ['unknown_action', '2'],
    ]);
    await reader.stop();
  });
});

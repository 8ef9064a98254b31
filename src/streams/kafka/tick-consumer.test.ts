import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { brokersAway } from './tick-consumer.js';

// kafkajs's typings omit the (error, { cause }) constructors its retrier uses: build them loosely
type Loose = new (...args: unknown[]) => Error;
const KafkaJSConnectionError = kafkajs.KafkaJSConnectionError as unknown as Loose;
const KafkaJSGroupCoordinatorNotFound = kafkajs.KafkaJSGroupCoordinatorNotFound as unknown as Loose;
const KafkaJSNonRetriableError = kafkajs.KafkaJSNonRetriableError as unknown as Loose;
const KafkaJSNumberOfRetriesExceeded = kafkajs.KafkaJSNumberOfRetriesExceeded as unknown as Loose;
const KafkaJSProtocolError = kafkajs.KafkaJSProtocolError as unknown as Loose;

describe('brokersAway: which consumer crashes are an outage (rejoin) and which stop the engine', () => {
  it('the crash of the CI broker bounce: a coordinator lookup that ran out of retries, wrapped by the retrier', () => {
    // what kafkajs raised when the broker stopped mid-run (retry/index.js wraps the last error)
    const root = new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator');
    const wrapped = new KafkaJSNonRetriableError(root, { cause: root });
    expect(brokersAway(wrapped)).toBe(true);
    expect(brokersAway(root)).toBe(true);
  });

  it('connection failures and exhausted retries, at any depth of the cause chain', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1');
    expect(brokersAway(new KafkaJSNonRetriableError(refused, { cause: refused }))).toBe(true);
    expect(
      brokersAway(new KafkaJSNumberOfRetriesExceeded(new Error('x'), { retryCount: 5, retryTime: 1 })),
    ).toBe(true);
  });

  it('a retriable protocol error is an outage, a non-retriable one is not', () => {
    const notCoordinator = new KafkaJSProtocolError('This is not the correct coordinator for this group');
    Object.assign(notCoordinator, { retriable: true });
    expect(brokersAway(notCoordinator)).toBe(true);
    const denied = new KafkaJSProtocolError('Not authorized to access group');
    Object.assign(denied, { retriable: false });
    expect(brokersAway(denied)).toBe(false);
  });

  it('our own failures and other kafkajs errors stop the engine', () => {
    expect(brokersAway(new Error('eachBatch threw'))).toBe(false);
    expect(
      brokersAway(new KafkaJSNonRetriableError('Cannot subscribe to topic while consumer is running')),
    ).toBe(false);
    expect(brokersAway(undefined)).toBe(false);
    expect(brokersAway('text')).toBe(false);
    // a cyclic cause chain ends
    const a: { name: string; cause?: unknown } = { name: 'Error' };
    a.cause = a;
    expect(brokersAway(a)).toBe(false);
  });
});

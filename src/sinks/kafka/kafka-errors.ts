// Which kafkajs producer failures pass on retry: kafkajs already retried retriable protocol errors a few times
// and gives up with KafkaJSNumberOfRetriesExceeded (the brokers are away, keep waiting), while a record the
// brokers refuse (too large, corrupt, not authorised) arrives wrapped as non-retriable and is final.

import { MlfpError, isMlfpError } from '../../errors.js';

/** kafkajs error names that mean "the cluster is not reachable or not ready", whatever their retriable flag. */
const TRANSIENT_NAMES = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
  'KafkaJSNoBrokerAvailableError',
]);

interface KafkaJsErrorShape {
  name?: string;
  retriable?: boolean;
  type?: string;
  cause?: unknown;
  errors?: unknown[];
}

export function isRetriableKafkaError(error: unknown): boolean {
  let current: unknown = error;
  // unwrap KafkaJSNonRetriableError(cause) chains down to the error a broker or the network raised
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const shape = current as KafkaJsErrorShape;
    if (shape.name !== undefined && TRANSIENT_NAMES.has(shape.name)) return true;
    if (shape.name === 'KafkaJSNonRetriableError' && shape.cause !== undefined && shape.cause !== current) {
      current = shape.cause;
      continue;
    }
    if (shape.name === 'KafkaJSProtocolError') return shape.retriable === true;
    // one error per broker: transient only if every broker's is
    if (shape.name === 'KafkaJSAggregateError' && Array.isArray(shape.errors))
      return shape.errors.length > 0 && shape.errors.every(isRetriableKafkaError);
    return false;
  }
  return false;
}

export function classifyKafkaError(error: unknown, what: string): MlfpError {
  if (isMlfpError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const type = (error as KafkaJsErrorShape | null)?.type;
  if (isRetriableKafkaError(error))
    return new MlfpError('sink_unavailable', `kafka ${what}: ${message}`, { cause: error, retriable: true });
  return new MlfpError(
    'sink_rejected',
    `kafka ${what} refused: ${message}${typeof type === 'string' ? ` (${type})` : ''}`,
    { cause: error, retriable: false },
  );
}

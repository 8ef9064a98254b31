// What the parts of the Kafka engine (src/streams/engine.ts) share: the engine's state, its event port and
// its failure port, plus the one retry policy for a partition's dependencies (a snapshot store, the registry).

import type { EngineConfig } from '../../config/schema.js';
import { retry, type BackoffSchedule } from '../../domain/backoff.js';
import { toMlfpError, type MlfpError } from '../../errors.js';
import type { EngineStats } from '../../monitoring/stats.js';
import type { SnapshotStore } from '../../sinks/sink.js';
import type { DeliveryCoordinator } from '../delivery.js';
import { ENGINE_EVENTS, type EngineEvent } from '../engine-events.js';

export type EngineState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** The engine as its parts see it: configuration, shared services, and the ports back to the façade. */
export interface EngineContext {
  readonly config: EngineConfig;
  readonly topic: string;
  readonly groupId: string;
  readonly store: SnapshotStore | undefined;
  readonly delivery: DeliveryCoordinator;
  readonly stats: EngineStats;
  state(): EngineState;
  /** the consumer is running, or joining the group */
  isActive(): boolean;
  fail(error: MlfpError): void;
  emit(
    level: EngineEvent['level'],
    type: EngineEvent['type'],
    message: string,
    fields: Record<string, unknown>,
  ): void;
}

/** waits between retries of a store, the registry or the bar history: 200 ms doubling up to 5 s */
export const BACKOFF: Readonly<BackoffSchedule> = { initialDelayMs: 200, maxDelayMs: 5_000 };

/** Errors kafkajs throws (a rebalance seen by heartbeat()) go back to kafkajs, which rejoins the group. */
export function isKafkaJsError(error: unknown): boolean {
  return (error as Error | null)?.name?.startsWith('KafkaJS') === true;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Retries a retriable failure with capped backoff while the partition is ours and the engine runs. */
export function retryWhileOurs<T>(
  context: EngineContext,
  what: string,
  slot: { readonly partition: number; readonly revoked: boolean },
  work: () => Promise<T>,
): Promise<T> {
  return retry(work, {
    schedule: BACKOFF,
    // an MlfpError stays as it is (final ones are thrown at once); anything else counts as source_unavailable
    mapError: (error) => toMlfpError(error, 'source_unavailable'),
    isRetriable: (error) => error.retriable,
    shouldStop: () => slot.revoked || !context.isActive(),
    onRetry: (error, { attempt }) =>
      context.emit('warn', ENGINE_EVENTS.warning, `${what} failed (attempt ${attempt}); retrying`, {
        partition: slot.partition,
        error: error.message,
      }),
    sleep: delay,
    now: Date.now,
  });
}

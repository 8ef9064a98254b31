// The contracts between the engine and its outputs: a Sink durably writes batches of outputs and says when
// they are durable (the delivery coordinator commits Kafka offsets only after every sink acknowledged);
// a SnapshotStore keeps per-partition state; a BarHistory serves recent bars to warm features up.

import type {
  Alert,
  Bar,
  DeadLetter,
  FeatureVector,
  LabelRecord,
  PerformanceRecord,
  Prediction,
  Timeframe,
} from '../domain/types.js';

/**
 * One flush of outputs from one or more partitions. Arrays may be empty. Records are owned by the engine and
 * must not be mutated or kept after write() resolves (copy what must outlive the call).
 * Keys for idempotent writes: bars (symbol, timeframe, ts), features (symbol, timeframe, ts),
 * predictions (symbol, timeframe, ts, model, version), alerts (type, subject, ts, state), labels (symbol,
 * timeframe, ts, model, version; revision grows), performance (model, version, ts).
 * A later revision of the same key replaces the earlier one (bar.revision / features.revision grow).
 */
export interface OutputBatch {
  bars: Bar[];
  features: FeatureVector[];
  predictions: Prediction[];
  alerts: Alert[];
  /** rejected input, with source coordinates and original bytes where known */
  deadLetters: DeadLetter[];
  /** realised outcomes of predictions (src/monitoring/performance/label-joiner.ts) */
  labels: LabelRecord[];
  /** rolling model performance (src/monitoring/performance/performance-tracker.ts) */
  performance: PerformanceRecord[];
}

export function emptyBatch(): OutputBatch {
  return {
    bars: [],
    features: [],
    predictions: [],
    alerts: [],
    deadLetters: [],
    labels: [],
    performance: [],
  };
}

export function batchSize(batch: OutputBatch): number {
  return (
    batch.bars.length +
    batch.features.length +
    batch.predictions.length +
    batch.alerts.length +
    batch.deadLetters.length +
    batch.labels.length +
    batch.performance.length
  );
}

export type SinkState = 'starting' | 'up' | 'retrying' | 'closed';

export interface SinkHealth {
  state: SinkState;
  /** epoch ms of the last state change */
  sinceMs: number;
  /** the last error while retrying (message only; never credentials) */
  lastError?: string;
  /** records accepted by write() and not yet durable */
  pendingRecords: number;
  /** write attempts that failed and were retried */
  retries: number;
}

/**
 * A durable output. `write` resolves once the whole batch is durable (Kafka: acknowledged by the brokers;
 * PostgreSQL: committed; Redis: executed). Retriable failures (service down, timeouts) are retried inside
 * with capped exponential backoff, while health().state is 'retrying', until they succeed or the sink is
 * closed; write rejects only with a non-retriable MlfpError (e.g. a record the service refuses) or on close.
 * Writes may be called concurrently; each sink keeps the order of writes for records with the same key.
 */
export interface Sink {
  readonly name: string;
  /** connects, creates what it needs (topics, tables, migrations); throws MlfpError naming the problem */
  start(): Promise<void>;
  write(batch: OutputBatch): Promise<void>;
  health(): SinkHealth;
  /** stops retrying, waits for writes in flight (bounded), disconnects */
  close(): Promise<void>;
}

/** The state of one input partition, taken at a point where every output derived from offsets < `offset` was durable. */
export interface PartitionSnapshot {
  /** consumer group it belongs to */
  group: string;
  topic: string;
  partition: number;
  /** the next offset to read (Kafka commit semantics), decimal string */
  offset: string;
  /** the serialised state (versioned JSON of the partition worker) */
  state: unknown;
  /** epoch ms when taken */
  takenAtMs: number;
}

export interface SnapshotStore {
  readonly name: string;
  start(): Promise<void>;
  load(group: string, topic: string, partition: number): Promise<PartitionSnapshot | undefined>;
  /**
   * Saves snapshots durably; a snapshot whose offset is lower than the stored one for the same
   * (group, topic, partition) is ignored (a stale owner after a rebalance must not move state backwards).
   */
  save(snapshots: readonly PartitionSnapshot[]): Promise<void>;
  health(): SinkHealth;
  close(): Promise<void>;
}

/** Recent bars from durable storage, to warm feature state up when a partition has no snapshot. */
export interface BarHistory {
  /** up to `count` most recent bars per symbol with ts < beforeMs, oldest first, latest revision only */
  recentBars(
    symbols: readonly string[],
    timeframe: Timeframe,
    beforeMs: number,
    count: number,
  ): Promise<Bar[]>;
}

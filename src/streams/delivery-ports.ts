// The delivery coordinator's contract: its options, the ports it drives (sinks, snapshot store, offset
// commit, events), the outbox owners it cuts from, the checkpoints riding with a flush, and its stats.

import type { MlfpError } from '../errors.js';
import type { OutputBatch, Sink, SnapshotStore } from '../sinks/sink.js';
import type { EngineEventListener } from './engine-events.js';

export interface DeliveryOptions {
  /** consumer group, recorded in snapshots */
  group: string;
  /** cut and write at least this often (ms) */
  flushIntervalMs: number;
  /** a worker whose outbox reaches this many records asks for a cut */
  maxBatchRecords: number;
  /** records not yet durable (outboxes + cut flushes) above which the engine pauses consumption */
  maxPendingRecords: number;
  /** flushes written at the same time (completion is still applied in cut order) */
  maxFlushesInFlight: number;
}

/** A producer of outputs: one partition worker. */
export interface OutboxOwner {
  readonly topic: string;
  readonly partition: number;
  readonly pendingRecords: number;
  /** the next offset to process (every message below it has been fed), once known */
  readonly nextOffset?: number | undefined;
  takeOutbox(): OutputBatch | undefined;
}

/**
 * A partition at a barrier: every output derived from offsets below `offset` is in the flush this
 * checkpoint rides with, or in an earlier one. `state` is the worker snapshot (undefined with no store).
 */
export interface Checkpoint {
  topic: string;
  partition: number;
  /** the next offset to read, decimal string */
  offset: string;
  state: unknown;
  takenAtMs: number;
  /** false once the partition was revoked or re-assigned since the checkpoint was taken */
  isCurrent(): boolean;
}

export interface DeliveryPorts {
  sinks: readonly Sink[];
  store: SnapshotStore | undefined;
  /** commits offsets for the group (kafkajs consumer.commitOffsets) */
  commit(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void>;
  now(): number;
  onEvent?: EngineEventListener;
  /** called once with the first non-retriable sink error: the engine must stop without committing */
  onFatal(error: MlfpError): void;
  /**
   * called when a flush is durable in every sink (in cut order), with each partition's position at the cut:
   * every output derived from offsets below `nextOffset` is now durable (latency measurement, metrics)
   */
  onDurable?(positions: readonly DurablePosition[], atMs: number): void;
  /** called after each sink made one flush durable, with the seconds that write took (mlfp_sink_write_seconds) */
  onSinkWrite?(sink: string, seconds: number): void;
  /** a sink's write rejected (a final error) */
  onSinkError?(sink: string): void;
}

export interface DurablePosition {
  topic: string;
  partition: number;
  nextOffset: number;
}

export interface DeliveryStats {
  flushes: number;
  recordsWritten: number;
  snapshotsSaved: number;
  snapshotFailures: number;
  commits: number;
  commitFailures: number;
  /** last committed offset per "topic[partition]" */
  committed: Map<string, string>;
}

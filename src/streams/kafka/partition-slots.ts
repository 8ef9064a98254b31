// The partitions the Kafka engine owns: one slot per assigned partition, built on a group join and dropped
// on revoke. A new slot's worker is restored from the partition's snapshot (retried while the store is
// down) or starts fresh; a kept slot continues where it is, not from the committed offset.

import type { Consumer } from 'kafkajs';
import { isMlfpError, MlfpError } from '../../errors.js';
import type { PartitionSnapshot } from '../../sinks/sink.js';
import type { CorporateActionBook } from '../corporate-actions.js';
import { ENGINE_EVENTS } from '../engine-events.js';
import { PartitionWorker, type AsyncStage, type MonitorHooks } from '../partition-worker.js';
import { retryWhileOurs, type EngineContext } from './engine-context.js';

/** One assigned partition: its worker (once loaded) and the bookkeeping around it. */
export interface PartitionSlot {
  readonly partition: number;
  /** resolves to the worker: restored from the snapshot, or fresh */
  ready: Promise<PartitionWorker | undefined>;
  worker: PartitionWorker | undefined;
  revoked: boolean;
  restored: boolean;
  /** the offset we asked kafkajs to seek to, so a gap in offsets causes one seek, not a loop */
  seekedTo: number | undefined;
  /** held by eachBatch while feeding, and by a timer checkpoint */
  lock: Promise<void> | undefined;
  lastCheckpointOffset: number | undefined;
  nextCheckpointAtMs: number;
  lag: number;
}

/** The slot is still assigned to us and the engine still consumes. */
export function stillOurs(context: EngineContext, slot: PartitionSlot): boolean {
  return !slot.revoked && context.state() === 'running';
}

/** Waits for the slot's lock (eachBatch or a timer checkpoint), takes it, and returns its release. */
export async function acquire(slot: PartitionSlot): Promise<() => void> {
  while (slot.lock !== undefined) await slot.lock;
  let release!: () => void;
  slot.lock = new Promise<void>((resolve) => {
    release = resolve;
  });
  return () => {
    slot.lock = undefined;
    release();
  };
}

export class PartitionSlots {
  readonly byPartition = new Map<number, PartitionSlot>();

  constructor(
    private readonly context: EngineContext,
    private readonly book: CorporateActionBook,
    private readonly createStage: (() => AsyncStage) | undefined,
    private readonly monitor?: MonitorHooks,
  ) {}

  get size(): number {
    return this.byPartition.size;
  }

  get(partition: number): PartitionSlot | undefined {
    return this.byPartition.get(partition);
  }

  values(): IterableIterator<PartitionSlot> {
    return this.byPartition.values();
  }

  /** Runs synchronously inside kafkajs's join, before the first fetch of the new generation. */
  onGroupJoin(assignment: Record<string, number[]>, consumer: Consumer | undefined): void {
    const { topic } = this.context;
    const assigned = new Set(assignment[topic] ?? []);
    for (const slot of this.byPartition.values()) if (!assigned.has(slot.partition)) this.revoke(slot);
    for (const partition of assigned) {
      const slot = this.byPartition.get(partition);
      if (slot === undefined) {
        this.byPartition.set(partition, this.assign(partition));
        continue;
      }
      // kept across the rebalance: kafkajs would restart from the committed offset; continue where we are
      const next = slot.worker?.nextOffset;
      if (next !== undefined && consumer !== undefined) {
        slot.seekedTo = next;
        consumer.seek({ topic, partition, offset: String(next) });
      }
      // and checkpoint it again in this generation: the last commit may never have reached the broker (it
      // failed while the brokers were away, or kafkajs dropped it during a crash), and a partition with no
      // new input would otherwise never commit again (its group would stay behind for good)
      slot.lastCheckpointOffset = undefined;
    }
    this.context.emit(
      'info',
      ENGINE_EVENTS.assigned,
      `assigned partitions [${[...assigned].sort((a, b) => a - b).join(', ')}]`,
      {
        partitions: [...assigned],
      },
    );
  }

  /** Marks every slot revoked, closes its worker and forgets it (the engine is closing). */
  closeAll(): void {
    for (const slot of this.byPartition.values()) {
      slot.revoked = true;
      slot.worker?.close();
    }
    this.byPartition.clear();
  }

  private assign(partition: number): PartitionSlot {
    const slot: PartitionSlot = {
      partition,
      ready: Promise.resolve(undefined),
      worker: undefined,
      revoked: false,
      restored: false,
      seekedTo: undefined,
      lock: undefined,
      lastCheckpointOffset: undefined,
      nextCheckpointAtMs: Date.now() + this.context.config.snapshots.intervalMs,
      lag: 0,
    };
    slot.ready = this.prepare(slot);
    slot.ready.catch(() => undefined);
    return slot;
  }

  /** Drops a partition no longer ours, without saving: its last durable snapshot is the hand-over point. */
  private revoke(slot: PartitionSlot): void {
    slot.revoked = true;
    this.byPartition.delete(slot.partition);
    if (slot.worker !== undefined) {
      this.context.delivery.unregister(slot.worker);
      slot.worker.close();
    }
    this.context.emit('info', ENGINE_EVENTS.revoked, `partition ${slot.partition} revoked`, {
      partition: slot.partition,
    });
  }

  /** Loads the partition's snapshot (retrying while the store is down) and builds its worker. */
  private async prepare(slot: PartitionSlot): Promise<PartitionWorker | undefined> {
    const { context } = this;
    const store = context.store;
    let snapshot: PartitionSnapshot | undefined;
    try {
      snapshot =
        store === undefined
          ? undefined
          : await retryWhileOurs(context, `load snapshot of partition ${slot.partition}`, slot, () =>
              store.load(context.groupId, context.topic, slot.partition),
            );
    } catch (error) {
      // an unreadable stored snapshot is treated like one that does not fit (below); anything else is fatal
      if (!isMlfpError(error) || error.code !== 'snapshot_invalid') throw error;
      context.emit(
        'error',
        ENGINE_EVENTS.snapshotInvalid,
        `partition ${slot.partition}: ${error.message}; starting without it`,
        {
          partition: slot.partition,
        },
      );
    }
    if (slot.revoked || !context.isActive()) return undefined;
    let worker = this.createWorker(slot.partition);
    if (snapshot !== undefined) {
      try {
        worker.restore(snapshot.state);
        if (String(worker.nextOffset) !== snapshot.offset)
          throw new MlfpError(
            'snapshot_invalid',
            `snapshot offset ${snapshot.offset} differs from its state's ${String(worker.nextOffset)}`,
          );
        slot.restored = true;
        slot.lastCheckpointOffset = worker.nextOffset;
        context.emit(
          'info',
          ENGINE_EVENTS.restored,
          `partition ${slot.partition} restored at offset ${snapshot.offset}`,
          {
            partition: slot.partition,
            offset: snapshot.offset,
            takenAtMs: snapshot.takenAtMs,
          },
        );
      } catch (error) {
        if (!isMlfpError(error) || error.code !== 'snapshot_invalid') throw error;
        // a snapshot from another configuration (lateness, session, periods): start over, loudly
        worker.close();
        worker = this.createWorker(slot.partition);
        context.emit(
          'error',
          ENGINE_EVENTS.snapshotInvalid,
          `partition ${slot.partition}: ${error.message}; starting without it`,
          {
            partition: slot.partition,
            offset: snapshot.offset,
          },
        );
      }
    } else {
      context.emit(
        'info',
        ENGINE_EVENTS.fresh,
        `partition ${slot.partition} has no snapshot; starting from the committed offset`,
        {
          partition: slot.partition,
        },
      );
    }
    slot.worker = worker;
    context.delivery.register(worker);
    return worker;
  }

  private createWorker(partition: number): PartitionWorker {
    const { config } = this.context;
    return new PartitionWorker({
      topic: this.context.topic,
      partition,
      bars: {
        allowedLatenessMs: config.bars.allowedLatenessMs,
        idleTimeoutMs: config.bars.idleTimeoutMs,
        session: config.bars.session,
        futureTime: config.bars.futureTime,
      },
      validator: {
        maxFutureMs: config.bars.maxClockSkewMs,
        numbersAsStrings: config.validation.numbersAsStrings,
      },
      dataQuality: config.dataQuality,
      onDataQualityAlert: (alert) =>
        this.context.emit(
          alert.state === 'firing' ? 'warn' : 'info',
          ENGINE_EVENTS.dataQuality,
          alert.message ?? '',
          {
            partition,
            subject: alert.subject,
            state: alert.state,
            share: alert.value,
            bound: alert.threshold,
          },
        ),
      corporateActions: this.book,
      stats: this.context.stats,
      createStage: this.createStage,
      observe: this.monitor?.observe,
      createLabels: this.monitor?.createLabels,
    });
  }
}

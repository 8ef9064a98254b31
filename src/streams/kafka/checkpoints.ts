// Checkpoints of the owned partitions: a barrier per partition (drain the async stage, snapshot the worker, cut
// every outbox with the snapshot riding along); the delivery coordinator commits each once every sink holds
// its outputs. A timer checkpoints partitions without new batches; stop() takes a last one of each.

import { toMlfpError } from '../../errors.js';
import type { Checkpoint } from '../delivery.js';
import type { PartitionWorker } from '../partition-worker.js';
import type { EngineContext } from './engine-context.js';
import { acquire, type PartitionSlot, type PartitionSlots } from './partition-slots.js';

export class Checkpoints {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: EngineContext,
    private readonly slots: PartitionSlots,
  ) {}

  /** A barrier: drain the async stage, snapshot the worker, cut every outbox with the snapshot riding along. */
  async checkpoint(slot: PartitionSlot, worker: PartitionWorker): Promise<void> {
    const { context } = this;
    await worker.drain();
    const now = Date.now();
    slot.nextCheckpointAtMs = now + context.config.snapshots.intervalMs;
    const next = worker.nextOffset;
    if (slot.revoked || worker.isClosed || next === undefined || next === slot.lastCheckpointOffset) return;
    const checkpoint: Checkpoint = {
      topic: context.topic,
      partition: slot.partition,
      offset: String(next),
      state: context.store === undefined ? undefined : worker.snapshot(),
      takenAtMs: now,
      isCurrent: () => !slot.revoked && this.slots.get(slot.partition) === slot,
    };
    slot.lastCheckpointOffset = next;
    context.delivery.cut([checkpoint]);
  }

  /** Starts the timer that checkpoints idle partitions. */
  startTimer(): void {
    this.timer = setInterval(() => this.checkpointIdlePartitions(), this.tickMs());
    this.timer.unref();
  }

  stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checkpoints every owned partition (under its lock), then waits until every cut is durable and committed. */
  async finalCheckpoint(): Promise<void> {
    for (const slot of [...this.slots.values()]) {
      const worker = await slot.ready.catch(() => undefined);
      if (worker === undefined || slot.revoked) continue;
      const release = await acquire(slot);
      try {
        await this.checkpoint(slot, worker);
      } finally {
        release();
      }
    }
    await this.context.delivery.settle();
  }

  /** Partitions without new batches still need their last offsets checkpointed: the timer does it. */
  private checkpointIdlePartitions(): void {
    const { context } = this;
    if (context.state() !== 'running') return;
    const now = Date.now();
    for (const slot of this.slots.values()) {
      const worker = slot.worker;
      if (worker === undefined || slot.lock !== undefined || now < slot.nextCheckpointAtMs) continue;
      if (worker.nextOffset === slot.lastCheckpointOffset) continue;
      void acquire(slot).then(async (release) => {
        try {
          if (context.state() === 'running' && !slot.revoked) await this.checkpoint(slot, worker);
        } catch (error) {
          context.fail(toMlfpError(error));
        } finally {
          release();
        }
      });
    }
  }

  private tickMs(): number {
    return Math.max(50, Math.min(1_000, Math.floor(this.context.config.snapshots.intervalMs / 2)));
  }
}

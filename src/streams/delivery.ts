// The delivery coordinator: cuts the partition workers' outboxes into flushes, writes each flush to every
// sink in parallel, and only when a flush and every flush before it are durable in all sinks does it save
// the partition snapshots taken at that cut and then commit their offsets. So a committed offset never
// runs ahead of durable outputs, and (with a snapshot store) always equals the offset of a saved snapshot.

import { isMlfpError, MlfpError, toMlfpError } from '../errors.js';
import {
  batchSize,
  emptyBatch,
  type OutputBatch,
  type PartitionSnapshot,
  type SinkHealth,
} from '../sinks/sink.js';
import type {
  Checkpoint,
  DeliveryOptions,
  DeliveryPorts,
  DeliveryStats,
  DurablePosition,
  OutboxOwner,
} from './delivery-ports.js';
import { mergeBatches, writeToSinks, type Flush } from './delivery-flush.js';
import { ENGINE_EVENTS, type EngineEvent } from './engine-events.js';

export type {
  Checkpoint,
  DeliveryOptions,
  DeliveryPorts,
  DeliveryStats,
  DurablePosition,
  OutboxOwner,
} from './delivery-ports.js';

export class DeliveryCoordinator {
  readonly stats: DeliveryStats = {
    flushes: 0,
    recordsWritten: 0,
    snapshotsSaved: 0,
    snapshotFailures: 0,
    commits: 0,
    commitFailures: 0,
    committed: new Map(),
  };
  private readonly owners = new Set<OutboxOwner>();
  /** cut flushes not yet durable-and-applied, in cut order */
  private readonly queue: Flush[] = [];
  private queuedRecords = 0;
  private writing = 0;
  private persistChain: Promise<void> = Promise.resolve();
  private persisting = 0;
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private failure: MlfpError | undefined;

  constructor(
    readonly options: DeliveryOptions,
    private readonly ports: DeliveryPorts,
  ) {
    for (const key of [
      'flushIntervalMs',
      'maxBatchRecords',
      'maxPendingRecords',
      'maxFlushesInFlight',
    ] as const) {
      const value = options[key];
      if (!(Number.isInteger(value) && value >= 1))
        throw new MlfpError('config_invalid', `delivery.${key} must be an integer >= 1`, {
          field: `delivery.${key}`,
          value,
        });
    }
  }

  /** Starts the periodic cut. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      // while a cut still waits for a write slot, let outboxes grow instead of queueing many small flushes
      if (this.failure === undefined && !this.queue.some((flush) => flush.state === 'waiting')) this.cut();
    }, this.options.flushIntervalMs);
    this.timer.unref();
  }

  register(owner: OutboxOwner): void {
    this.owners.add(owner);
  }

  /** Forgets an owner (revoked partition); what it had not handed over is dropped by the owner itself. */
  unregister(owner: OutboxOwner): void {
    this.owners.delete(owner);
  }

  /** Records not yet durable: in outboxes plus in cut flushes. */
  get pendingRecords(): number {
    let total = this.queuedRecords;
    for (const owner of this.owners) total += owner.pendingRecords;
    return total;
  }

  get isOverLimit(): boolean {
    return this.pendingRecords > this.options.maxPendingRecords;
  }

  get failed(): MlfpError | undefined {
    return this.failure;
  }

  /** Flushes cut and not yet durable, and checkpoint saves/commits in progress. */
  get inFlight(): { flushes: number; persisting: number } {
    return { flushes: this.queue.length, persisting: this.persisting };
  }

  /**
   * Takes every outbox into one flush, with `checkpoints` riding along, and starts writing it when a slot is
   * free. Synchronous: call it at a message boundary (checkpoints must describe exactly this cut).
   */
  cut(checkpoints: Checkpoint[] = []): void {
    if (this.failure !== undefined) return;
    const taken: OutputBatch[] = [];
    const positions: DurablePosition[] | undefined = this.ports.onDurable === undefined ? undefined : [];
    for (const owner of this.owners) {
      const batch = owner.takeOutbox();
      if (batch !== undefined) taken.push(batch);
      if (positions !== undefined && owner.nextOffset !== undefined)
        positions.push({ topic: owner.topic, partition: owner.partition, nextOffset: owner.nextOffset });
    }
    if (taken.length === 0 && checkpoints.length === 0 && (positions === undefined || positions.length === 0))
      return;
    const batch = taken.length === 1 ? taken[0]! : mergeBatches(taken);
    const records = batchSize(batch);
    this.queue.push({ batch, records, checkpoints, state: 'waiting', positions });
    this.queuedRecords += records;
    this.pump();
  }

  /** Resolves once pending records are at or below `limit` (cutting outboxes as needed); rejects on failure. */
  async whenPendingAtMost(limit: number): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.pendingRecords <= limit) return;
      if (!this.queue.some((flush) => flush.state === 'waiting')) this.cut();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Like whenPendingAtMost, but gives up after `timeoutMs` (false): lets the caller heartbeat meanwhile. */
  async waitPendingAtMost(limit: number, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.whenPendingAtMost(limit).then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cuts what is left and resolves when every flush is durable and every checkpoint saved and committed. */
  async settle(): Promise<void> {
    this.cut();
    await this.whenPendingAtMost(0);
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.queue.length === 0) break;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    await this.persistChain;
  }

  /**
   * Stops all further cuts, saves and commits (engine failure or abort): flushes already writing may still
   * land, as they could before a crash, but nothing is committed after this.
   */
  halt(error: MlfpError): void {
    if (this.failure === undefined) this.failure = error;
    this.wake();
  }

  /** Stops the timer and wakes every waiter (with the failure, if any). Does not touch the sinks. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.wake();
  }

  /** Health of every sink and of the snapshot store. */
  health(): Array<{ name: string; kind: 'sink' | 'store' } & SinkHealth> {
    const report: Array<{ name: string; kind: 'sink' | 'store' } & SinkHealth> = this.ports.sinks.map(
      (sink) => ({
        name: sink.name,
        kind: 'sink' as const,
        ...sink.health(),
      }),
    );
    if (this.ports.store !== undefined)
      report.push({ name: this.ports.store.name, kind: 'store', ...this.ports.store.health() });
    return report;
  }

  private pump(): void {
    for (const flush of this.queue) {
      if (this.writing >= this.options.maxFlushesInFlight) break;
      if (flush.state !== 'waiting') continue;
      flush.state = 'writing';
      this.writing++;
      this.write(flush).then(
        () => {
          this.writing--;
          flush.state = 'durable';
          this.stats.flushes++;
          this.stats.recordsWritten += flush.records;
          this.applyDurable();
          this.pump();
        },
        (error: unknown) => {
          this.writing--;
          this.fail(toMlfpError(error));
        },
      );
    }
  }

  private write(flush: Flush): Promise<unknown> {
    if (flush.records === 0 || this.ports.sinks.length === 0) return Promise.resolve();
    return writeToSinks(this.ports.sinks, flush.batch, this.ports.onSinkWrite, this.ports.onSinkError);
  }

  /** Pops durable flushes from the head (cut order) and queues their checkpoints for save + commit. */
  private applyDurable(): void {
    const latest = new Map<string, Checkpoint>();
    while (this.queue.length > 0 && this.queue[0]!.state === 'durable') {
      const flush = this.queue.shift()!;
      this.queuedRecords -= flush.records;
      flush.batch = emptyBatch();
      if (flush.positions !== undefined && flush.positions.length > 0)
        this.ports.onDurable?.(flush.positions, this.ports.now());
      for (const checkpoint of flush.checkpoints)
        latest.set(`${checkpoint.topic}[${checkpoint.partition}]`, checkpoint);
    }
    if (latest.size > 0) {
      const checkpoints = [...latest.values()];
      this.persisting++;
      this.persistChain = this.persistChain
        .then(() => this.persist(checkpoints))
        .finally(() => this.persisting--);
    }
    this.wake();
  }

  /** Saves the snapshots (if a store is configured), then commits their offsets. Failures are reported, never thrown. */
  private async persist(checkpoints: Checkpoint[]): Promise<void> {
    if (this.failure !== undefined) return;
    let current = checkpoints.filter((checkpoint) => checkpoint.isCurrent());
    if (current.length === 0) return;
    const store = this.ports.store;
    if (store !== undefined) {
      const snapshots: PartitionSnapshot[] = current.map((checkpoint) => ({
        group: this.options.group,
        topic: checkpoint.topic,
        partition: checkpoint.partition,
        offset: checkpoint.offset,
        state: checkpoint.state,
        takenAtMs: checkpoint.takenAtMs,
      }));
      try {
        await store.save(snapshots);
      } catch (error) {
        // without the snapshot, committing would let a restart skip state: keep the older commit
        this.stats.snapshotFailures++;
        this.emit('warn', ENGINE_EVENTS.snapshotFailed, 'snapshot save failed; offsets stay uncommitted', {
          partitions: current.map((checkpoint) => checkpoint.partition),
          code: isMlfpError(error) ? error.code : undefined,
          error: errorMessage(error),
        });
        return;
      }
      this.stats.snapshotsSaved += snapshots.length;
      this.emit('debug', ENGINE_EVENTS.snapshotSaved, 'snapshots saved', {
        offsets: Object.fromEntries(current.map((c) => [c.partition, c.offset])),
      });
      if (this.failure !== undefined) return;
      current = current.filter((checkpoint) => checkpoint.isCurrent());
      if (current.length === 0) return;
    }
    const offsets = current.map(({ topic, partition, offset }) => ({ topic, partition, offset }));
    try {
      await this.ports.commit(offsets);
    } catch (error) {
      this.stats.commitFailures++;
      this.emit('warn', ENGINE_EVENTS.commitFailed, 'offset commit failed; the next checkpoint retries', {
        partitions: offsets.map((offset) => offset.partition),
        error: errorMessage(error),
      });
      return;
    }
    this.stats.commits++;
    for (const offset of offsets)
      this.stats.committed.set(`${offset.topic}[${offset.partition}]`, offset.offset);
    this.emit('debug', ENGINE_EVENTS.committed, 'offsets committed', {
      offsets: Object.fromEntries(offsets.map((o) => [o.partition, o.offset])),
    });
  }

  private fail(error: MlfpError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.wake();
    this.ports.onFatal(error);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private emit(
    level: EngineEvent['level'],
    type: EngineEvent['type'],
    message: string,
    fields: Record<string, unknown>,
  ): void {
    this.ports.onEvent?.({ type, level, message, fields });
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { describe, expect, it } from 'vitest';
import type { Bar } from '../domain/types.js';
import { MlfpError } from '../errors.js';
import {
  emptyBatch,
  type OutputBatch,
  type PartitionSnapshot,
  type Sink,
  type SinkHealth,
} from '../sinks/sink.js';
import { DeliveryCoordinator, type Checkpoint, type DeliveryPorts, type OutboxOwner } from './delivery.js';
import { MemorySnapshotStore } from '../sinks/memory/memory-snapshot-store.js';

/** Lets every pending promise callback run (no timers involved). */
async function settleCallbacks(): Promise<void> {
  for (let round = 0; round < 20; round++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A sink whose writes complete only when the test says so. */
class ManualSink implements Sink {
  readonly writes: Array<{ batch: OutputBatch; resolve: () => void; reject: (error: unknown) => void }> = [];
  constructor(
    readonly name: string,
    private readonly log: string[],
  ) {}
  async start(): Promise<void> {}
  write(batch: OutputBatch): Promise<void> {
    this.log.push(`${this.name}:write:${batch.bars.length}`);
    return new Promise<void>((resolve, reject) => {
      this.writes.push({
        batch,
        resolve: () => {
          this.log.push(`${this.name}:durable:${batch.bars.length}`);
          resolve();
        },
        reject,
      });
    });
  }
  health(): SinkHealth {
    return { state: 'up', sinceMs: 0, pendingRecords: 0, retries: 0 };
  }
  async close(): Promise<void> {}
}

class Owner implements OutboxOwner {
  readonly topic = 'ticks';
  nextOffset: number | undefined;
  private outbox = emptyBatch();
  constructor(readonly partition: number) {}
  get pendingRecords(): number {
    return this.outbox.bars.length;
  }
  add(count: number): void {
    for (let index = 0; index < count; index++)
      this.outbox.bars.push({ symbol: `P${this.partition}` } as Bar);
  }
  takeOutbox(): OutputBatch | undefined {
    if (this.outbox.bars.length === 0) return undefined;
    const batch = this.outbox;
    this.outbox = emptyBatch();
    return batch;
  }
}

class LoggingStore extends MemorySnapshotStore {
  failNext = false;
  constructor(private readonly log: string[]) {
    super();
  }
  override async save(snapshots: readonly PartitionSnapshot[]): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      this.log.push('store:failed');
      throw new MlfpError('sink_unavailable', 'store down');
    }
    this.log.push(`store:save:${snapshots.map((s) => `${s.partition}@${s.offset}`).join(',')}`);
    await super.save(snapshots);
  }
}

function setup(
  options: {
    store?: boolean;
    maxFlushesInFlight?: number;
    maxPendingRecords?: number;
    onDurable?: DeliveryPorts['onDurable'];
    onSinkWrite?: DeliveryPorts['onSinkWrite'];
  } = {},
) {
  const log: string[] = [];
  const sinks = [new ManualSink('a', log), new ManualSink('b', log)];
  const store = options.store === false ? undefined : new LoggingStore(log);
  const fatal: MlfpError[] = [];
  const delivery = new DeliveryCoordinator(
    {
      group: 'g',
      flushIntervalMs: 1_000,
      maxBatchRecords: 100,
      maxPendingRecords: options.maxPendingRecords ?? 1_000,
      maxFlushesInFlight: options.maxFlushesInFlight ?? 2,
    },
    {
      sinks,
      store,
      commit: async (offsets) => {
        log.push(`commit:${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
      },
      now: () => 0,
      onFatal: (error) => fatal.push(error),
      onDurable: options.onDurable,
      onSinkWrite: options.onSinkWrite,
    },
  );
  return { log, sinks, store, delivery, fatal };
}

function checkpoint(partition: number, offset: number, current = () => true): Checkpoint {
  return {
    topic: 'ticks',
    partition,
    offset: String(offset),
    state: { at: offset },
    takenAtMs: 0,
    isCurrent: current,
  };
}

describe('DeliveryCoordinator', () => {
  it('reports each partition’s position at the cut once the flush is durable, in cut order', async () => {
    const durable: string[] = [];
    const { sinks, delivery } = setup({
      onDurable: (positions) =>
        durable.push(positions.map((p) => `${p.partition}<${p.nextOffset}`).join(',')),
    });
    const [a, b] = [new Owner(0), new Owner(1)];
    delivery.register(a);
    delivery.register(b);
    a.nextOffset = 10;
    a.add(1);
    delivery.cut();
    a.nextOffset = 20;
    b.nextOffset = 5;
    b.add(1);
    delivery.cut();
    await settleCallbacks();
    for (const sink of sinks) sink.writes[1]!.resolve();
    await settleCallbacks();
    expect(durable).toEqual([]); // the second flush waits for the first
    for (const sink of sinks) sink.writes[0]!.resolve();
    await settleCallbacks();
    expect(durable).toEqual(['0<10', '0<20,1<5']);
  });

  it('times each sink’s write of a flush once, when that sink made it durable', async () => {
    const timed: string[] = [];
    const { sinks, delivery } = setup({
      store: false,
      onSinkWrite: (sink, seconds) => timed.push(`${sink}:${seconds >= 0 && seconds < 60}`),
    });
    const owner = new Owner(0);
    delivery.register(owner);
    owner.add(3);
    delivery.cut();
    await settleCallbacks();
    expect(timed).toEqual([]);
    sinks[1]!.writes[0]!.resolve();
    await settleCallbacks();
    expect(timed).toEqual(['b:true']);
    sinks[0]!.writes[0]!.resolve();
    await settleCallbacks();
    expect(timed).toEqual(['b:true', 'a:true']);
  });

  it('saves the snapshot and commits only after every sink made the flush durable', async () => {
    const { log, sinks, delivery, store } = setup();
    const owner = new Owner(0);
    delivery.register(owner);
    owner.add(3);
    delivery.cut([checkpoint(0, 42)]);
    await settleCallbacks();
    expect(log).toEqual(['a:write:3', 'b:write:3']);
    sinks[0]!.writes[0]!.resolve();
    await settleCallbacks();
    expect(log.some((line) => line.startsWith('commit'))).toBe(false);
    sinks[1]!.writes[0]!.resolve();
    await settleCallbacks();
    expect(log.slice(2)).toEqual(['a:durable:3', 'b:durable:3', 'store:save:0@42', 'commit:0@42']);
    expect((await store!.load('g', 'ticks', 0))?.state).toEqual({ at: 42 });
    expect(delivery.stats.committed.get('ticks[0]')).toBe('42');
  });

  it('applies flushes in cut order even when a later one is durable first', async () => {
    const { log, sinks, delivery } = setup();
    const owner = new Owner(1);
    delivery.register(owner);
    owner.add(1);
    delivery.cut([checkpoint(1, 10)]);
    owner.add(2);
    delivery.cut([checkpoint(1, 20)]);
    await settleCallbacks();
    for (const sink of sinks) sink.writes[1]!.resolve(); // the second flush lands first
    await settleCallbacks();
    expect(log.filter((line) => line.startsWith('commit') || line.startsWith('store'))).toEqual([]);
    for (const sink of sinks) sink.writes[0]!.resolve();
    await settleCallbacks();
    // both are durable now: one save and one commit of the latest checkpoint
    expect(log.filter((line) => line.startsWith('commit') || line.startsWith('store'))).toEqual([
      'store:save:1@20',
      'commit:1@20',
    ]);
  });

  it('keeps the old commit when the snapshot cannot be saved, and commits the next checkpoint', async () => {
    const { log, sinks, delivery, store } = setup();
    delivery.register(new Owner(2));
    store!.failNext = true;
    delivery.cut([checkpoint(2, 5)]);
    await settleCallbacks();
    expect(log).toEqual(['store:failed']); // an empty flush writes nothing
    expect(delivery.stats.snapshotFailures).toBe(1);
    delivery.cut([checkpoint(2, 6)]);
    await settleCallbacks();
    expect(log.slice(1)).toEqual(['store:save:2@6', 'commit:2@6']);
    expect(sinks[0]!.writes).toHaveLength(0);
  });

  it('drops checkpoints of a partition that is no longer ours', async () => {
    const { log, delivery } = setup();
    let owned = true;
    delivery.cut([checkpoint(3, 7, () => owned)]);
    owned = false;
    await settleCallbacks();
    expect(log).toEqual([]);
  });

  it('commits without saving when there is no snapshot store', async () => {
    const { log, delivery } = setup({ store: false });
    delivery.cut([checkpoint(0, 9)]);
    await settleCallbacks();
    expect(log).toEqual(['commit:0@9']);
  });

  it('stops for good, committing nothing more, when a sink refuses a write', async () => {
    const { log, sinks, delivery, fatal } = setup();
    const owner = new Owner(0);
    delivery.register(owner);
    owner.add(1);
    delivery.cut([checkpoint(0, 1)]);
    owner.add(1);
    delivery.cut([checkpoint(0, 2)]);
    await settleCallbacks();
    sinks[0]!.writes[0]!.reject(new MlfpError('sink_unavailable', 'refused', { retriable: false }));
    for (const sink of sinks) sink.writes[1]!.resolve();
    sinks[1]!.writes[0]!.resolve();
    await settleCallbacks();
    expect(fatal.map((error) => error.message)).toEqual(['refused']);
    expect(log.some((line) => line.startsWith('commit') || line.startsWith('store'))).toBe(false);
    await expect(delivery.whenPendingAtMost(0)).rejects.toThrow('refused');
  });

  it('writes at most maxFlushesInFlight flushes at once and counts every record until durable', async () => {
    const { sinks, delivery } = setup({ maxFlushesInFlight: 2, maxPendingRecords: 5 });
    const owner = new Owner(0);
    delivery.register(owner);
    for (let flush = 0; flush < 3; flush++) {
      owner.add(2);
      delivery.cut();
    }
    owner.add(1);
    await settleCallbacks();
    expect(sinks[0]!.writes).toHaveLength(2);
    expect(delivery.pendingRecords).toBe(7);
    expect(delivery.isOverLimit).toBe(true);
    let below = false;
    const waiting = delivery.whenPendingAtMost(3).then(() => {
      below = true;
    });
    for (const sink of sinks) sink.writes[0]!.resolve();
    await settleCallbacks();
    expect(sinks[0]!.writes).toHaveLength(3); // the third flush started when a slot freed up
    expect(below).toBe(false); // 5 still pending (2 + 2 cut, 1 in the outbox)
    for (const sink of sinks) sink.writes[1]!.resolve();
    await settleCallbacks();
    await waiting;
    expect(below).toBe(true);
    expect(delivery.pendingRecords).toBeLessThanOrEqual(3);
  });

  it('settle() cuts what is left and resolves once every flush and checkpoint is done', async () => {
    const { log, sinks, delivery } = setup();
    const owner = new Owner(4);
    delivery.register(owner);
    owner.add(2);
    delivery.cut([checkpoint(4, 100)]);
    owner.add(1);
    let settled = false;
    const settling = delivery.settle().then(() => {
      settled = true;
    });
    await settleCallbacks();
    expect(settled).toBe(false);
    for (const sink of sinks) for (const write of sink.writes) write.resolve();
    await settleCallbacks();
    for (const sink of sinks) for (const write of sink.writes) write.resolve();
    await settling;
    expect(log.filter((line) => line.startsWith('commit'))).toEqual(['commit:4@100']);
    expect(delivery.pendingRecords).toBe(0);
  });

  it('rejects bad options, naming the key', () => {
    expect(
      () =>
        new DeliveryCoordinator(
          { group: 'g', flushIntervalMs: 0, maxBatchRecords: 1, maxPendingRecords: 1, maxFlushesInFlight: 1 },
          {
            sinks: [],
            store: undefined,
            commit: async () => undefined,
            now: () => 0,
            onFatal: () => undefined,
          },
        ),
    ).toThrow(/delivery\.flushIntervalMs/);
  });
});

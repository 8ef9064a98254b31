// In-memory fakes of the output contracts (src/sinks/sink.ts) for engine tests: a Sink that keeps the latest
// revision per key (and every record it was given), a BarHistory over a list of bars, and a gate that holds
// writes back to test backpressure and ordering.

import type { Alert, Bar, DeadLetter, FeatureVector, Prediction, Timeframe } from '../../src/domain/types.js';
import { MlfpError } from '../../src/errors.js';
import type { BarHistory, OutputBatch, Sink, SinkHealth, SinkState } from '../../src/sinks/sink.js';

export { MemorySnapshotStore } from '../../src/sinks/memory/memory-snapshot-store.js';

export const barKey = (bar: { symbol: string; timeframe: Timeframe; ts: number }): string =>
  `${bar.symbol}|${bar.timeframe}|${bar.ts}`;

/** What the fake "database" holds: latest revision per key, every other record in arrival order. */
export class MemoryTables {
  readonly bars = new Map<string, Bar>();
  readonly features = new Map<string, FeatureVector>();
  readonly predictions: Prediction[] = [];
  readonly alerts: Alert[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** write() calls and records received over all sinks sharing these tables (replays count again) */
  writes = 0;
  records = 0;
}

export interface MemorySinkOptions {
  /** each write waits for this before it is durable (default: at once) */
  gate?: () => Promise<void>;
  /** share one "database" between the sinks of several engine instances */
  tables?: MemoryTables;
}

/** A Sink keeping the latest revision per key, like an idempotent upsert; counts everything it was given. */
export class MemorySink implements Sink {
  readonly tables: MemoryTables;
  /** records accepted and not yet durable */
  pending = 0;
  closed = false;
  /** when set, the next write rejects with it (a non-retriable refusal) */
  failNext: MlfpError | undefined;
  private state: SinkState = 'starting';
  private sinceMs = Date.now();

  constructor(
    readonly name = 'memory',
    private readonly options: MemorySinkOptions = {},
  ) {
    this.tables = options.tables ?? new MemoryTables();
  }

  get bars(): Map<string, Bar> {
    return this.tables.bars;
  }

  get features(): Map<string, FeatureVector> {
    return this.tables.features;
  }

  get deadLetters(): DeadLetter[] {
    return this.tables.deadLetters;
  }

  async start(): Promise<void> {
    this.closed = false;
    this.setState('up');
  }

  async write(batch: OutputBatch): Promise<void> {
    if (this.closed) throw new MlfpError('sink_unavailable', `${this.name} is closed`, { retriable: false });
    const size =
      batch.bars.length +
      batch.features.length +
      batch.predictions.length +
      batch.alerts.length +
      batch.deadLetters.length;
    // copy first: the engine owns the records and may reuse them after write() resolves
    const bars = batch.bars.map((bar) => ({ ...bar }));
    const features = batch.features.map((vector) => ({ ...vector, values: vector.values.slice() }));
    const predictions = batch.predictions.map((prediction) => ({ ...prediction }));
    const alerts = batch.alerts.map((alert) => ({ ...alert }));
    const letters = batch.deadLetters.map((letter) => ({
      ...letter,
      source: letter.source === undefined ? undefined : { ...letter.source },
      original: letter.original instanceof Uint8Array ? letter.original.slice() : letter.original,
    }));
    const tables = this.tables;
    tables.writes++;
    this.pending += size;
    try {
      if (this.failNext !== undefined) {
        const failure = this.failNext;
        this.failNext = undefined;
        throw failure;
      }
      if (this.options.gate !== undefined) await this.options.gate();
    } finally {
      this.pending -= size;
    }
    tables.records += size;
    for (const bar of bars) {
      const key = barKey(bar);
      const previous = tables.bars.get(key);
      if (previous === undefined || previous.revision <= bar.revision) tables.bars.set(key, bar);
    }
    for (const vector of features) {
      const key = barKey(vector);
      const previous = tables.features.get(key);
      if (previous === undefined || previous.revision <= vector.revision) tables.features.set(key, vector);
    }
    tables.predictions.push(...predictions);
    tables.alerts.push(...alerts);
    tables.deadLetters.push(...letters);
  }

  health(): SinkHealth {
    return { state: this.state, sinceMs: this.sinceMs, pendingRecords: this.pending, retries: 0 };
  }

  setState(state: SinkState): void {
    this.state = state;
    this.sinceMs = Date.now();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setState('closed');
  }
}

/** A BarHistory over given bars (latest revision per key), answering like the PostgreSQL one would. */
export class MemoryBarHistory implements BarHistory {
  readonly queries: Array<{ symbols: string[]; timeframe: Timeframe; beforeMs: number; count: number }> = [];

  constructor(private readonly bars: readonly Bar[]) {}

  async recentBars(
    symbols: readonly string[],
    timeframe: Timeframe,
    beforeMs: number,
    count: number,
  ): Promise<Bar[]> {
    this.queries.push({ symbols: [...symbols], timeframe, beforeMs, count });
    const latest = new Map<string, Bar>();
    for (const bar of this.bars) {
      if (bar.timeframe !== timeframe || !symbols.includes(bar.symbol) || bar.ts >= beforeMs) continue;
      const key = barKey(bar);
      const previous = latest.get(key);
      if (previous === undefined || previous.revision <= bar.revision) latest.set(key, bar);
    }
    const result: Bar[] = [];
    for (const symbol of symbols) {
      const own = [...latest.values()].filter((bar) => bar.symbol === symbol).sort((a, b) => a.ts - b.ts);
      result.push(...own.slice(Math.max(0, own.length - count)));
    }
    return result.map((bar) => ({ ...bar }));
  }
}

/** Holds writes until released: `gate()` for MemorySink, `open()` lets everything through. */
export class WriteGate {
  private waiting: Array<() => void> = [];
  private isOpen = true;

  readonly gate = (): Promise<void> =>
    this.isOpen ? Promise.resolve() : new Promise<void>((resolve) => this.waiting.push(resolve));

  get held(): number {
    return this.waiting.length;
  }

  close(): void {
    this.isOpen = false;
  }

  open(): void {
    this.isOpen = true;
    this.releaseAll();
  }

  /** Lets the writes waiting now through, keeping the gate closed for later ones. */
  releaseAll(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

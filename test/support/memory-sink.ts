// In-memory fakes of the output contracts (src/sinks/sink.ts) for engine tests: a Sink that keeps the latest
// revision per key (and every record it was given), a BarHistory over a list of bars, and a gate that holds
// writes back to test backpressure and ordering.

import type { Alert, Bar, DeadLetter, FeatureVector, Prediction, Timeframe } from '../../src/domain/types.js';
import { MlfpError } from '../../src/errors.js';
import type { BarHistory, OutputBatch, Sink, SinkHealth, SinkState } from '../../src/sinks/sink.js';

export { MemorySnapshotStore } from '../../src/streams/memory-snapshot-store.js';

export const barKey = (bar: { symbol: string; timeframe: Timeframe; ts: number }): string =>
  `${bar.symbol}|${bar.timeframe}|${bar.ts}`;

export interface MemorySinkOptions {
  /** each write waits for this before it is durable (default: at once) */
  gate?: () => Promise<void>;
}

/** A Sink keeping the latest revision per key, like an idempotent upsert; counts everything it was given. */
export class MemorySink implements Sink {
  readonly bars = new Map<string, Bar>();
  readonly features = new Map<string, FeatureVector>();
  readonly predictions: Prediction[] = [];
  readonly alerts: Alert[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** write() calls and records received (replays count again) */
  writes = 0;
  records = 0;
  /** records accepted and not yet durable */
  pending = 0;
  started = false;
  closed = false;
  /** when set, the next write rejects with it (a non-retriable refusal) */
  failNext: MlfpError | undefined;
  private state: SinkState = 'starting';
  private sinceMs = Date.now();

  constructor(
    readonly name = 'memory',
    private readonly options: MemorySinkOptions = {},
  ) {}

  async start(): Promise<void> {
    this.started = true;
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
      original: letter.original instanceof Uint8Array ? letter.original.slice() : letter.original,
    }));
    this.writes++;
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
    this.records += size;
    for (const bar of bars) {
      const key = barKey(bar);
      const previous = this.bars.get(key);
      if (previous === undefined || previous.revision <= bar.revision) this.bars.set(key, bar);
    }
    for (const vector of features) {
      const key = barKey(vector);
      const previous = this.features.get(key);
      if (previous === undefined || previous.revision <= vector.revision) this.features.set(key, vector);
    }
    this.predictions.push(...predictions);
    this.alerts.push(...alerts);
    this.deadLetters.push(...letters);
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

// The in-memory store as a Sink: the embedded run's output, and a Kafka run's when it names no outputs.
// Writes are durable at once (in memory); health is always up.

import type { OutputBatch, Sink, SinkHealth } from '../sink.js';
import { MemoryStore } from './memory-store.js';

export class LocalStoreSink implements Sink {
  readonly name = 'local';
  private readonly sinceMs: number;

  constructor(
    readonly store: MemoryStore = new MemoryStore(),
    now: () => number = Date.now,
  ) {
    this.sinceMs = now();
  }

  async start(): Promise<void> {}

  async write(batch: OutputBatch): Promise<void> {
    for (const bar of batch.bars) this.store.bar(bar);
    for (const vector of batch.features) this.store.features(vector);
    for (const prediction of batch.predictions) this.store.prediction(prediction);
    for (const alert of batch.alerts) this.store.alert(alert);
    for (const letter of batch.deadLetters) this.store.deadLetter(letter);
    for (const label of batch.labels) this.store.label(label);
    for (const record of batch.performance) this.store.performanceRecord(record);
  }

  health(): SinkHealth {
    return { state: 'up', sinceMs: this.sinceMs, pendingRecords: 0, retries: 0 };
  }

  async close(): Promise<void> {}
}

// The hub as a Sink: the delivery hands it every flush once it is cut, like any output, so subscribers see
// exactly what the other sinks store (the embedded run's store is durable at once; in Kafka mode the same
// flush goes to Kafka, PostgreSQL and Redis). Publishing is synchronous and never fails.

import type { OutputBatch, Sink, SinkHealth } from '../sinks/sink.js';
import type { SignalHub } from './hub.js';

export class HubSink implements Sink {
  readonly name = 'api';
  private readonly sinceMs: number;

  constructor(
    private readonly hub: SignalHub,
    now: () => number,
  ) {
    this.sinceMs = now();
  }

  async start(): Promise<void> {}

  async write(batch: OutputBatch): Promise<void> {
    this.hub.publishBatch(batch);
  }

  health(): SinkHealth {
    return { state: 'up', sinceMs: this.sinceMs, pendingRecords: 0, retries: 0 };
  }

  async close(): Promise<void> {}
}

// The embedded engine: the synthetic market through a partition worker and the delivery coordinator into
// sinks gives what the bare graph gives (end-of-input flush included), timed per sink write; a sink's final
// error fails the run.
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { MlfpError } from '../errors.js';
import { EngineStats } from '../monitoring/stats.js';
import { emptyBatch, type OutputBatch, type Sink, type SinkHealth } from '../sinks/sink.js';
import { LocalEngine } from './local-engine.js';
import { envelopeOf, StreamState, streamGraph } from './graph.js';
import { syntheticTicks } from './synthetic-market.js';

const config = parseConfig({ synthetic: { maxTicks: 60_000, badTickRate: 0.001 } });

class RecordingSink implements Sink {
  readonly name = 'recording';
  readonly received: OutputBatch = emptyBatch();
  writes = 0;
  constructor(private readonly failWith?: MlfpError) {}
  async start(): Promise<void> {}
  async write(batch: OutputBatch): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    this.writes++;
    this.received.bars.push(...batch.bars);
    this.received.features.push(...batch.features);
    this.received.deadLetters.push(...batch.deadLetters);
  }
  health(): SinkHealth {
    return { state: 'up', sinceMs: 0, pendingRecords: 0, retries: 0 };
  }
  async close(): Promise<void> {}
}

/** The same input through the bare graph (the embedded run before it had a worker and sinks). */
async function bareGraph(): Promise<EngineStats> {
  const stats = new EngineStats(0);
  const graph = streamGraph(
    syntheticTicks(config.synthetic).pipe(map(envelopeOf())),
    new StreamState({ bars: config.bars }),
    { stats },
  );
  await new Promise<void>((resolve, reject) => graph.subscribe({ complete: resolve, error: reject }));
  return stats;
}

describe('LocalEngine', () => {
  it('delivers every output of the synthetic market to the sink, as the bare graph computes them', async () => {
    const stats = new EngineStats(0);
    const timed: string[] = [];
    stats.timings = { predictionLatency: () => undefined, sinkWrite: (sink) => timed.push(sink) };
    const sink = new RecordingSink();
    const engine = new LocalEngine({
      input: syntheticTicks(config.synthetic),
      sinks: [sink],
      stats,
      delivery: { ...config.delivery, maxBatchRecords: 50 },
      bars: config.bars,
    });
    expect(await engine.run()).toBe('complete');
    const expected = await bareGraph();
    expect(stats.ticks).toBe(60_000);
    expect(stats.bars).toEqual(expected.bars);
    expect(stats.bars['1d']).toBeGreaterThan(0); // the open bars, flushed when the input completed
    expect(stats.features).toBe(expected.features);
    expect(stats.rejects).toBe(expected.rejects);
    expect(sink.received.bars).toHaveLength(stats.barCount);
    expect(sink.received.features).toHaveLength(stats.features);
    expect(sink.received.deadLetters).toHaveLength(stats.rejects);
    expect(sink.writes).toBeGreaterThan(1);
    expect(timed).toEqual(Array.from({ length: sink.writes }, () => 'recording'));
  });

  it('fails the run with a sink’s final error', async () => {
    const engine = new LocalEngine({
      input: syntheticTicks(config.synthetic),
      sinks: [new RecordingSink(new MlfpError('sink_rejected', 'refused'))],
      stats: new EngineStats(0),
      delivery: { ...config.delivery, maxBatchRecords: 50 },
      bars: config.bars,
    });
    await expect(engine.run()).rejects.toThrow(/refused/);
  });

  it('stop() ends the run once what was read is durable', async () => {
    const sink = new RecordingSink();
    const stats = new EngineStats(0);
    const engine = new LocalEngine({
      input: syntheticTicks({ ...config.synthetic, maxTicks: 0 }),
      sinks: [sink],
      stats,
      delivery: config.delivery,
      bars: config.bars,
    });
    const running = engine.run();
    await new Promise((resolve) => setTimeout(resolve, 200));
    engine.stop();
    expect(await running).toBe('stopped');
    expect(stats.ticks).toBeGreaterThan(0);
    expect(sink.received.bars).toHaveLength(stats.barCount);
  });
});

// Delayed labels travel in the partition snapshot: a worker restored from a snapshot taken mid-stream (through
// JSON, as the stores keep it) and fed the rest emits exactly the labels an uninterrupted worker emits after
// that point (none lost, none twice), and the labels before plus after equal the whole uninterrupted run.

import { map, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TickGenerator, type GeneratedTick } from '../../benchmarks/lib/tick-generator.js';
import { monitoringSchema } from '../config/monitoring-schemas.js';
import type { LabelRecord, Prediction } from '../domain/types.js';
import { ModelMonitor, type MonitoredModel } from '../monitoring/model-monitor.js';
import { EngineStats } from '../monitoring/stats.js';
import { PartitionWorker, type AsyncStage } from './partition-worker.js';
import { Random } from './random.js';

const START_MS = Date.UTC(2024, 2, 4);
const REGRESSOR: MonitoredModel = {
  model: 'ret',
  version: '1',
  kind: 'regressor',
  timeframe: '5m',
  inputs: ['returns'],
  featureIndex: [0],
  outputs: ['value'],
  label: { kind: 'return', horizonBars: 2 },
};
const CLASSIFIER: MonitoredModel = {
  model: 'dir',
  version: '1',
  kind: 'classifier',
  timeframe: '1h',
  inputs: ['returns'],
  featureIndex: [0],
  outputs: ['p_down', 'p_up'],
  label: { kind: 'return_sign', horizonBars: 1 },
  classes: ['down', 'up'],
};

/** A synchronous stand-in for scoring: one prediction per vector of each model's timeframe. */
function stage(): AsyncStage {
  return {
    attach: (vectors) =>
      vectors.pipe(
        map((v): Prediction => {
          const r = v.values[0] ?? 0;
          return v.timeframe === '5m'
            ? { ...base(v), model: 'ret', kind: 'regressor', output: { value: Number.isFinite(r) ? r : 0 } }
            : {
                ...base(v),
                model: 'dir',
                kind: 'classifier',
                output: { label: r > 0 ? 'up' : 'down', p_down: 0.4, p_up: 0.6 },
              };
        }),
      ),
    whenIdle: () => Promise.resolve(),
  };
}

const base = (v: { symbol: string; timeframe: Prediction['timeframe']; ts: number }) => ({
  symbol: v.symbol,
  timeframe: v.timeframe,
  ts: v.ts,
  version: '1',
  latencyMs: 1,
});

function worker(monitor: ModelMonitor): PartitionWorker {
  return new PartitionWorker({
    topic: 'ticks',
    partition: 1,
    bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 60_000 },
    stats: new EngineStats(0),
    scheduler: new VirtualTimeScheduler(),
    createStage: stage,
    observe: (output) => monitor.observe(output),
    createLabels: () => monitor.createLabels(),
  });
}

function newMonitor(): ModelMonitor {
  return new ModelMonitor(monitoringSchema.parse({ drift: { enabled: false } }), {
    signals: { models: () => [REGRESSOR, CLASSIFIER], dependencies: () => ({}) },
    random: (seed) => new Random(seed),
  });
}

function ticks(count: number): GeneratedTick[] {
  const generator = new TickGenerator({ symbols: 4, seed: 11, startMs: START_MS, meanGapMs: 60_000 });
  return Array.from({ length: count }, () => generator.next());
}

const key = (l: LabelRecord): string =>
  `${l.model}|${l.symbol}|${l.timeframe}|${l.ts}|${l.revision}|${l.state}`;

function feed(
  target: PartitionWorker,
  list: readonly GeneratedTick[],
  from: number,
  to: number,
): LabelRecord[] {
  for (let offset = from; offset < to; offset++)
    target.feed(offset, String(offset), { ...list[offset]! }, undefined);
  return target.takeOutbox()?.labels ?? [];
}

describe('PartitionWorker: labels in the snapshot', () => {
  const all = ticks(12_000);

  it('a restart from a mid-stream snapshot loses no pending label and labels none twice', async () => {
    const straight = worker(newMonitor());
    const whole = feed(straight, all, 0, all.length);
    expect(whole.filter((l) => l.model === 'ret' && l.state === 'labelled').length).toBeGreaterThan(500);
    expect(whole.filter((l) => l.model === 'dir' && l.state === 'labelled').length).toBeGreaterThan(50);
    expect(new Set(whole.map(key)).size).toBe(whole.length);

    for (const cut of [1_000, 5_003, 9_999]) {
      const first = worker(newMonitor());
      const before = feed(first, all, 0, cut);
      await first.drain();
      const snapshot = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
      expect((snapshot as { labels: { entries: unknown[] } }).labels.entries.length).toBeGreaterThan(0);
      first.close();

      const second = worker(newMonitor());
      second.restore(snapshot);
      const after = feed(second, all, cut, all.length);
      expect([...before, ...after].map(key)).toEqual(whole.map(key));
      expect([...before, ...after]).toEqual(whole);
    }
  });

  it('an engine without monitoring restores a snapshot that has labels (and one that has none)', () => {
    const withLabels = worker(newMonitor());
    feed(withLabels, all, 0, 2_000);
    const snapshot = JSON.parse(JSON.stringify(withLabels.snapshot())) as Record<string, unknown>;
    const plain = new PartitionWorker({
      topic: 'ticks',
      partition: 1,
      bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 60_000 },
      stats: new EngineStats(0),
      scheduler: new VirtualTimeScheduler(),
    });
    expect(() => plain.restore(snapshot)).not.toThrow();
    const older = { ...snapshot };
    delete older['labels'];
    const monitored = worker(newMonitor());
    expect(() => monitored.restore(older)).not.toThrow();
    expect(feed(monitored, all, 2_000, 4_000).length).toBeGreaterThan(0);
  });
});

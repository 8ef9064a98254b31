// A bug inside the partition's graph (an operator's state machine, the async stage) must stop the engine:
// feed() throws it, the engine reports it (toMlfpError → fail), and the worker can still be closed.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { VirtualTimeScheduler } from 'rxjs';
import { TickGenerator } from '../../benchmarks/lib/tick-generator.js';
import { isMlfpError, toMlfpError } from '../errors.js';
import { ModelRegistry } from '../models/registry.js';
import { Scorer } from '../models/scoring/scorer.js';
import { EngineStats } from '../monitoring/stats.js';
import { FeatureEngine } from '../operators/compute-features.js';
import { scoreFeatures } from '../operators/score.js';
import { PartitionWorker, type AsyncStage } from './partition-worker.js';

const START_MS = Date.UTC(2024, 2, 4);

function worker(createStage?: () => AsyncStage): PartitionWorker {
  return new PartitionWorker({
    topic: 'ticks',
    partition: 0,
    bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 60_000 },
    stats: new EngineStats(0),
    createStage,
    scheduler: new VirtualTimeScheduler(), // never advanced: no idle close
  });
}

/** Feeds generated ticks until feed() throws (at most 2,000); returns what it threw and the offset. */
function feedUntilThrow(target: PartitionWorker): { thrown: unknown; offset: number } {
  const generator = new TickGenerator({ symbols: 3, seed: 5, startMs: START_MS, meanGapMs: 120_000 });
  for (let offset = 0; offset < 2_000; offset++) {
    try {
      target.feed(offset, String(offset), { ...generator.next() }, undefined);
    } catch (thrown) {
      return { thrown, offset };
    }
  }
  return { thrown: undefined, offset: -1 };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('PartitionWorker: a throwing stage', () => {
  it('surfaces a feature-engine bug as the error feed() throws, and the worker still closes', () => {
    const bug = new Error('feature engine bug');
    vi.spyOn(FeatureEngine.prototype, 'apply').mockImplementation(() => {
      throw bug;
    });
    const target = worker();
    const result = feedUntilThrow(target);
    expect(result.thrown).toBe(bug);
    expect(result.offset).toBeGreaterThan(0); // thrown with the first closed bar, not before
    expect(target.nextOffset).toBe(result.offset + 1);
    // what the engine does with it: toMlfpError, then fail()
    expect(toMlfpError(result.thrown)).toMatchObject({
      code: 'internal',
      message: 'feature engine bug',
      cause: bug,
    });
    // the failure sticks: the next message throws it again rather than run a broken graph
    expect(() =>
      target.feed(result.offset + 1, String(result.offset + 1), { symbol: 'S0' }, undefined),
    ).toThrow(bug);
    expect(() => target.close()).not.toThrow();
    expect(target.isClosed).toBe(true);
  });

  it('surfaces a scorer failure in the async stage as an MlfpError from feed(), and the worker still closes', () => {
    const scorer = new Scorer(new ModelRegistry());
    vi.spyOn(scorer, 'submit').mockImplementation(() => {
      throw new Error('scorer bug');
    });
    const stage: AsyncStage = {
      // one vector per batch: submit runs synchronously inside feed()
      attach: (vectors) => vectors.pipe(scoreFeatures(scorer, { maxBatchSize: 1, maxWaitMs: 0 })),
      whenIdle: () => scorer.whenIdle(),
    };
    const target = worker(() => stage);
    const result = feedUntilThrow(target);
    expect(isMlfpError(result.thrown)).toBe(true);
    expect(result.thrown).toMatchObject({ code: 'internal', message: 'scorer bug' });
    expect(toMlfpError(result.thrown)).toBe(result.thrown);
    expect(() => target.close()).not.toThrow();
    expect(target.isClosed).toBe(true);
  });
});

// Model scoring as the Kafka engine's per-partition async stage: the live scoreFeatures operator over one
// Scorer per partition (its sequence windows and online-scaling state are the partition's and travel in its
// snapshot), one shared ModelRegistry. whenIdle() flushes the micro-batch being gathered and waits for
// every inference in flight, so a delivery barrier never leaves a vector unscored behind it.

import { asyncScheduler, type Observable } from 'rxjs';
import type { Alert, FeatureVector, Prediction } from '../domain/types.js';
import type { ModelRegistry } from '../models/registry.js';
import { Scorer, type ScorerSnapshot } from '../models/scoring/scorer.js';
import { FlushControl } from '../operators/micro-batch.js';
import { scoreFeatures, type ScoreFeaturesOptions } from '../operators/score.js';
import type { AsyncStage } from './partition-worker.js';

export class ScoringStage implements AsyncStage {
  readonly scorer: Scorer;
  private readonly control = new FlushControl();

  constructor(
    registry: ModelRegistry,
    private readonly options: Omit<ScoreFeaturesOptions, 'control'>,
  ) {
    // latencies on the graph's clock: the arrival times come from the same scheduler
    this.scorer = new Scorer(registry, { maxRunRows: options.maxBatchSize, now: () => asyncScheduler.now() });
  }

  attach(vectors: Observable<FeatureVector>): Observable<Prediction | Alert> {
    return vectors.pipe(scoreFeatures(this.scorer, { ...this.options, control: this.control }));
  }

  whenIdle(): Promise<void> {
    this.control.flush();
    return this.scorer.whenIdle();
  }

  snapshot(): ScorerSnapshot {
    return this.scorer.snapshot();
  }

  restore(state: unknown): void {
    this.scorer.restore(state as ScorerSnapshot);
  }
}

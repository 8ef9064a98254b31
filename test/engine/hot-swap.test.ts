// Hot swap under load on the full embedded graph (synthetic market at full speed → bars → features → the
// scoring stage): load a new version, shadow it, promote it, roll back, stop the shadow, while ticks flow.
// Proves: no event lost (every 5m feature vector gets exactly one prediction per live model), no prediction
// with a mixed version (each value equals what the version it names computes on that vector), and shadow
// outputs never published.

import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, map, tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { syntheticSchema } from '../../src/config/schema.js';
import type { Alert, Bar, DeadLetter, FeatureVector, Prediction } from '../../src/domain/types.js';
import { openModel } from '../../src/models/load-model.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { Scorer } from '../../src/models/scoring/scorer.js';
import { EngineStats } from '../../src/monitoring/stats.js';
import { scoreFeatures } from '../../src/operators/score.js';
import { envelopeOf, StreamState, streamGraph } from '../../src/streams/graph.js';
import { dispatchTo, type OutputHandlers } from '../support/dispatch-outputs.js';
import { syntheticTicks } from '../../src/streams/synthetic-market.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

class Recorder implements OutputHandlers {
  vectors: FeatureVector[] = [];
  predictions: Prediction[] = [];
  alerts: Alert[] = [];
  letters = 0;
  deadLetter(_letter: DeadLetter): void {
    this.letters++;
  }
  bar(_bar: Bar): void {}
  features(vector: FeatureVector): void {
    if (vector.timeframe === '5m') this.vectors.push(vector);
  }
  prediction(prediction: Prediction): void {
    this.predictions.push(prediction);
  }
  alert(alert: Alert): void {
    this.alerts.push(alert);
  }
}

/** lgbm-return 1.1.0: the same trees with every leaf doubled, so its outputs differ from 1.0.0's. */
async function makeVersion2(dir: string): Promise<string> {
  const folder = join(dir, 'lgbm-return-1.1.0');
  await cp(join(MODELS, 'lgbm-return'), folder, { recursive: true });
  const text = await readFile(join(folder, 'model.txt'), 'utf8');
  const doubled = text.replace(/^leaf_value=(.*)$/gm, (_line, values: string) => {
    return `leaf_value=${values
      .split(' ')
      .map((v) => String(Number(v) * 2))
      .join(' ')}`;
  });
  expect(doubled).not.toBe(text);
  await writeFile(join(folder, 'model.txt'), doubled);
  const manifest = JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  manifest.version = '1.1.0';
  await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return folder;
}

describe('hot swap under load (embedded graph at full speed)', () => {
  it('loads, shadows, promotes and rolls back without losing, mixing or leaking a prediction', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-swap-'));
    const modelsDir = join(dir, 'models');
    await cp(join(MODELS, 'lgbm-return'), join(modelsDir, 'lgbm-return'), { recursive: true });
    await cp(join(MODELS, 'xgb-direction'), join(modelsDir, 'xgb-direction'), { recursive: true });
    const version2 = await makeVersion2(dir);
    const { registry, errors } = await ModelRegistry.fromDirectory(modelsDir);
    expect(errors).toEqual([]);
    const shadowed: Prediction[] = [];
    const scorer = new Scorer(registry, { onShadowPrediction: (p) => shadowed.push(p) });

    const maxTicks = 1_200_000;
    const config = syntheticSchema.parse({
      symbols: Array.from({ length: 40 }, (_, i) => `S${i}`),
      seed: 11,
      meanTickIntervalMs: 1_000,
      maxTicks,
      badTickRate: 0,
    });
    const stats = new EngineStats(0);
    const recorder = new Recorder();
    const steps: Array<[number, () => Promise<void> | void, string]> = [
      [200_000, async () => void (await registry.load(version2)), 'load 1.1.0'],
      [300_000, () => registry.shadow('lgbm-return', '1.1.0'), 'shadow 1.1.0'],
      [500_000, () => registry.promote('lgbm-return', '1.1.0'), 'promote 1.1.0'],
      [600_000, () => registry.shadow('lgbm-return', '1.0.0'), 'shadow 1.0.0'],
      [800_000, () => void registry.rollback('lgbm-return'), 'rollback'],
      [900_000, () => registry.shadow('lgbm-return', undefined), 'shadow off'],
    ];
    let next = 0;
    const pending: Promise<void>[] = [];
    const applied: string[] = [];
    let ticks = 0;
    const source = syntheticTicks(config).pipe(
      tap(() => {
        ticks++;
        const step = steps[next];
        if (step !== undefined && ticks >= step[0]) {
          next++;
          pending.push(Promise.resolve(step[1]()).then(() => void applied.push(step[2])));
        }
      }),
      map(envelopeOf()),
    );
    const graph = streamGraph(source, new StreamState({ bars: { idleTimeoutMs: 3_600_000 } }), {
      stats,
      score: (vectors) => vectors.pipe(scoreFeatures(scorer, { maxBatchSize: 256, maxWaitMs: 1 })),
    }).pipe(tap(dispatchTo(recorder)));
    await lastValueFrom(graph, { defaultValue: undefined });
    await Promise.all(pending);
    expect(applied).toEqual(steps.map((s) => s[2]));
    expect(stats.ticks).toBe(maxTicks);
    expect(recorder.alerts).toEqual([]);

    // no event lost: one prediction per 5m vector per live model, and nothing else
    const vectorKeys = new Set(recorder.vectors.map((v) => `${v.symbol}|${v.ts}|${v.revision}`));
    expect(recorder.vectors.length).toBeGreaterThan(2_000);
    for (const model of ['lgbm-return', 'xgb-direction']) {
      const keys = recorder.predictions.filter((p) => p.model === model).map((p) => `${p.symbol}|${p.ts}`);
      expect(keys.length, model).toBe(recorder.vectors.length);
      expect(new Set(keys).size, model).toBe(vectorKeys.size);
    }

    // versions in publication order: 1.0.0 … 1.1.0 … 1.0.0, each phase non-empty
    const lgbm = recorder.predictions.filter((p) => p.model === 'lgbm-return');
    const phases: string[] = [];
    for (const p of lgbm) if (phases[phases.length - 1] !== p.version) phases.push(p.version);
    expect(phases).toEqual(['1.0.0', '1.1.0', '1.0.0']);

    // no mixed version: each published value is exactly what its version computes on that vector
    const byKey = new Map(recorder.vectors.map((v) => [`${v.symbol}|${v.ts}`, v]));
    const runtimes = {
      '1.0.0': (await openModel(join(modelsDir, 'lgbm-return'))).runtime,
      '1.1.0': (await openModel(version2)).runtime,
    };
    const out = new Float64Array(1);
    for (const p of [...lgbm, ...shadowed]) {
      const vector = byKey.get(`${p.symbol}|${p.ts}`) as FeatureVector;
      await runtimes[p.version as '1.0.0' | '1.1.0'].score(vector.values, 1, out);
      expect(p.output.value, `${p.model}@${p.version} ${p.symbol} ${p.ts}`).toBe(out[0]);
    }

    // shadow outputs never published, but computed while a shadow was set
    expect(shadowed.length).toBeGreaterThan(0);
    expect(new Set(shadowed.map((p) => p.version))).toEqual(new Set(['1.0.0', '1.1.0']));
    const published = new Set(lgbm.map((p) => `${p.symbol}|${p.ts}|${p.version}`));
    for (const p of shadowed) expect(published.has(`${p.symbol}|${p.ts}|${p.version}`)).toBe(false);

    await registry.close();
    await runtimes['1.0.0'].close();
    await runtimes['1.1.0'].close();
  }, 120_000);
});

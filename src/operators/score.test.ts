import { asyncScheduler, lastValueFrom, map, Subject, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it, vi } from 'vitest';
import { FEATURE_COLUMNS, type Alert, type FeatureVector, type Prediction } from '../domain/types.js';
import { fakeManifest, fakeModel } from '../../test/models/fake-model.js';
import { ModelRegistry } from '../models/registry.js';
import { Scorer, type ScoreOutput } from '../models/scoring/scorer.js';
import { unhandledErrorsOf } from '../../test/support/unhandled-errors.js';
import { scoreFeatures } from './score.js';

const RETURNS = FEATURE_COLUMNS.indexOf('returns');

function vector(symbol: string, i: number): FeatureVector {
  const values = new Float64Array(FEATURE_COLUMNS.length);
  values[RETURNS] = i;
  return { symbol, timeframe: '5m', ts: i * 300_000, revision: 0, close: 1, values };
}

const isPrediction = (o: ScoreOutput): o is Prediction => 'symbol' in o;

describe('scoreFeatures', () => {
  it('emits predictions of synchronous models inside the flush (size or wait), with latency', () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest(), { output: (row) => [row[0]! * 10] }));
    // latencies on the graph's clock (virtual inside TestScheduler.run)
    const scorer = new Scorer(registry, { now: () => asyncScheduler.now() });
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ hot, expectObservable }) => {
      const source = hot('a-b-c---|', { a: vector('A', 1), b: vector('B', 2), c: vector('C', 3) });
      const out = source.pipe(
        scoreFeatures(scorer, { maxBatchSize: 2, maxWaitMs: 3 }),
        map((o) => (isPrediction(o) ? `${o.symbol}=${o.output.value}@${o.latencyMs}` : 'alert')),
      );
      expectObservable(out).toBe('--(xy)-z|', { x: 'A=10@2', y: 'B=20@0', z: 'C=30@3' });
    });
  });

  it('model errors come out as alerts and the stream goes on', async () => {
    const registry = new ModelRegistry();
    let fail = true;
    registry.add(
      fakeModel(fakeManifest(), {
        async: true,
        output: () => [1],
        throws: () => (fail ? new Error('boom') : undefined),
      }),
    );
    const scorer = new Scorer(registry);
    const subject = new Subject<FeatureVector>();
    const done = lastValueFrom(
      subject.pipe(scoreFeatures(scorer, { maxBatchSize: 2, maxWaitMs: 1 }), toArray()),
    );
    subject.next(vector('A', 1));
    subject.next(vector('B', 2));
    await new Promise((resolve) => setTimeout(resolve, 5));
    fail = false;
    subject.next(vector('A', 3));
    subject.complete();
    const out = await done;
    expect(out.map((o) => (isPrediction(o) ? o.symbol : (o as Alert).type))).toEqual(['model_error', 'A']);
    expect(scorer.stats.modelErrors).toBe(2);
  });

  it('fails the stream, naming the limit, when rows pile up behind a slow model', async () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest(), { async: true, output: () => [1] }));
    const subject = new Subject<FeatureVector>();
    const scorer = new Scorer(registry, { maxRunRows: 1, maxRunsInFlight: 2, maxPendingRows: 3 });
    const done = lastValueFrom(
      subject.pipe(scoreFeatures(scorer, { maxBatchSize: 1, maxWaitMs: 1 }), toArray()),
    );
    for (let i = 0; i < 10; i++) subject.next(vector('A', i));
    await expect(done).rejects.toThrow(/fake@1 has 3 rows waiting \(maxPendingRows 3\)/);
  });

  it('errors the stream with an MlfpError and unsubscribes when the scorer throws, reporting nothing unhandled', () => {
    const scorer = new Scorer(new ModelRegistry());
    const bug = new Error('scorer bug');
    vi.spyOn(scorer, 'submit').mockImplementationOnce(() => {
      throw bug;
    });
    const unhandled = unhandledErrorsOf(() =>
      new TestScheduler((a, e) => expect(a).toEqual(e)).run(
        ({ hot, expectObservable, expectSubscriptions }) => {
          const source = hot('-a-b-|', { a: vector('A', 1), b: vector('B', 2) });
          expectObservable(source.pipe(scoreFeatures(scorer, { maxBatchSize: 1, maxWaitMs: 0 }))).toBe(
            '-#',
            undefined,
            expect.objectContaining({
              name: 'MlfpError',
              code: 'internal',
              message: 'scorer bug',
              cause: bug,
            }),
          );
          expectSubscriptions(source.subscriptions).toBe('^!');
        },
      ),
    );
    expect(unhandled).toStrictEqual([]);
  });

  it('errors the stream when the models fail while it drains at completion', async () => {
    const scorer = new Scorer(new ModelRegistry());
    vi.spyOn(scorer, 'idle', 'get').mockReturnValue(false);
    vi.spyOn(scorer, 'whenIdle').mockRejectedValue(new Error('runtime died'));
    const subject = new Subject<FeatureVector>();
    const done = lastValueFrom(subject.pipe(scoreFeatures(scorer), toArray()));
    subject.complete();
    await expect(done).rejects.toMatchObject({
      name: 'MlfpError',
      code: 'internal',
      message: 'runtime died',
    });
  });

  it('hot swap under load: every event scored once by the live version, none mixed, shadows never published', async () => {
    const registry = new ModelRegistry();
    const log: string[] = [];
    for (const version of ['1', '2', '3'])
      registry.add(
        fakeModel(fakeManifest({ version }), {
          async: Number(version) !== 2, // a mix of async and sync runtimes
          output: (row, r) => {
            if (r === 0) log.push(version);
            return [Number(version)];
          },
        }),
      );
    const shadows: Prediction[] = [];
    const scorer = new Scorer(registry, { onShadowPrediction: (p) => shadows.push(p) });
    const subject = new Subject<FeatureVector>();
    const done = lastValueFrom(
      subject.pipe(scoreFeatures(scorer, { maxBatchSize: 64, maxWaitMs: 1 }), toArray()),
    );
    const symbols = 100;
    const bursts = 200;
    const perBurst = 250;
    const operations: Record<number, () => void> = {
      20: () => registry.shadow('fake', '2'),
      50: () => registry.promote('fake', '2'),
      80: () => registry.shadow('fake', '3'),
      120: () => registry.rollback('fake'),
      150: () => registry.promote('fake', '3'),
      170: () => registry.shadow('fake', '2'),
    };
    for (let burst = 0; burst < bursts; burst++) {
      for (let k = 0; k < perBurst; k++) subject.next(vector(`S${k % symbols}`, burst * perBurst + k));
      operations[burst]?.();
      // let timers and running batches progress between bursts, as a live feed would
      await new Promise((resolve) => setImmediate(resolve));
    }
    subject.complete();
    const out = await done;
    const predictions = out.filter(isPrediction);
    expect(out.length).toBe(predictions.length);
    // no event lost, none duplicated
    expect(predictions.length).toBe(bursts * perBurst);
    expect(new Set(predictions.map((p) => p.ts)).size).toBe(bursts * perBurst);
    // each prediction carries the version that computed it
    expect(predictions.every((p) => p.output.value === Number(p.version))).toBe(true);
    // versions follow the admin operations in order: 1, then 2 (promote), 1 (rollback), 3 (promote)
    const runs: string[] = [];
    for (const p of predictions) if (runs[runs.length - 1] !== p.version) runs.push(p.version);
    expect(runs).toEqual(['1', '2', '1', '3']);
    // shadows were scored (2 beside 1, 3 beside 2 and 1, 2 beside 3) and never published
    expect(new Set(shadows.map((p) => p.version))).toEqual(new Set(['2', '3']));
    expect(shadows.every((p) => p.output.value === Number(p.version))).toBe(true);
    expect(scorer.stats.shadowPredictions).toBe(shadows.length);
    expect(log.length).toBeGreaterThan(0);
  });
});

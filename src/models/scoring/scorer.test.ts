import { describe, expect, it } from 'vitest';
import { FEATURE_COLUMNS, type Alert, type FeatureVector, type Prediction } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { fakeManifest, fakeModel } from '../../../test/models/fake-model.js';
import { ModelRegistry } from '../registry.js';
import { Scorer, type ScoreOutput } from './scorer.js';

const RETURNS = FEATURE_COLUMNS.indexOf('returns');
const RSI = FEATURE_COLUMNS.indexOf('rsi_14');

function vector(symbol: string, i: number, timeframe: '5m' | '1h' = '5m', returns = i, rsi = 50): FeatureVector {
  const values = new Float64Array(FEATURE_COLUMNS.length).fill(1);
  values[RETURNS] = returns;
  values[RSI] = rsi;
  return { symbol, timeframe, ts: i * 300_000, revision: 0, close: 100, values };
}

const isPrediction = (o: ScoreOutput): o is Prediction => 'symbol' in o;
const isAlert = (o: ScoreOutput): o is Alert => 'type' in o;

async function run(scorer: Scorer, vectors: FeatureVector[]): Promise<ScoreOutput[]> {
  return scorer.scoreBatch(vectors, new Float64Array(vectors.length).fill(10));
}

describe('Scorer', () => {
  it('maps manifest features to engine columns in manifest order, and reports latency', async () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest({ inputs: { features: ['rsi_14', 'returns'] } }), { output: (row) => [row[0]! * 1000 + row[1]!] }));
    const out = await run(new Scorer(registry, { now: () => 12 }), [vector('A', 3, '5m', 3, 42)]);
    expect(out).toEqual([
      { symbol: 'A', timeframe: '5m', ts: 900_000, model: 'fake', version: '1', kind: 'regressor', output: { value: 42_003 }, latencyMs: 2 },
    ]);
  });

  it('scores only vectors of the model timeframe', async () => {
    const registry = new ModelRegistry();
    const model = fakeModel(fakeManifest({ timeframe: '1h' }), { output: () => [1] });
    registry.add(model);
    const out = await run(new Scorer(registry, { now: () => 12 }), [vector('A', 1, '5m'), vector('A', 2, '1h'), vector('B', 2, '5m')]);
    expect(out.filter(isPrediction).map((p) => p.timeframe)).toEqual(['1h']);
    expect(model.runtime.calls).toEqual([1]);
  });

  it('applies standard scaling and the missing policy (zero after scaling, skip)', async () => {
    const registry = new ModelRegistry();
    const seen: number[][] = [];
    registry.add(
      fakeModel(
        fakeManifest({ inputs: { features: ['returns', 'rsi_14'], scaling: { kind: 'standard', mean: [1, 50], std: [2, 10] }, missing: 'zero' } }),
        { output: (row) => (seen.push([...row]), [0]) },
      ),
    );
    registry.add(fakeModel(fakeManifest({ name: 'skipper', inputs: { features: ['returns'], missing: 'skip' } }), { output: () => [7] }));
    const scorer = new Scorer(registry, { now: () => 12 });
    const out = await run(scorer, [vector('A', 1, '5m', 5, 70), vector('B', 2, '5m', Number.NaN, 30)]);
    expect(seen).toEqual([
      [2, 2],
      [0, -2],
    ]);
    expect(out.filter((o) => isPrediction(o) && o.model === 'skipper').length).toBe(1);
    expect(scorer.stats.skipped).toBe(1);
  });

  it('classifier outputs: label and p_<label>; a binary model gives P(second label)', async () => {
    const registry = new ModelRegistry();
    registry.add(
      fakeModel(fakeManifest({ kind: 'classifier', output: { type: 'classes', labels: ['down', 'up'] } }), {
        output: (row) => [row[0]! / 10],
        outputKind: 'probability',
      }),
    );
    registry.add(
      fakeModel(fakeManifest({ name: 'three', kind: 'classifier', output: { type: 'classes', labels: ['a', 'b', 'c'] } }), { output: () => [0.2, 0.5, 0.3] }, 3),
    );
    const out = (await run(new Scorer(registry, { now: () => 12 }), [vector('A', 7), vector('B', 5)])).filter(isPrediction);
    expect(out.map((p) => p.output)).toEqual([
      { label: 'up', p_down: 1 - 0.7, p_up: 0.7 },
      { label: 'down', p_down: 0.5, p_up: 0.5 },
      { label: 'b', p_a: 0.2, p_b: 0.5, p_c: 0.3 },
      { label: 'b', p_a: 0.2, p_b: 0.5, p_c: 0.3 },
    ]);
  });

  it('a throwing model becomes one critical model_error alert, counted; other models still publish', async () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest({ name: 'broken' }), { throws: () => new Error('kaboom') }));
    registry.add(fakeModel(fakeManifest({ name: 'fine' }), { output: () => [1] }));
    const scorer = new Scorer(registry, { now: () => 12 });
    const out = await run(scorer, [vector('A', 1), vector('B', 1)]);
    expect(out.filter(isPrediction).map((p) => p.model)).toEqual(['fine', 'fine']);
    const alerts = out.filter(isAlert);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ type: 'model_error', severity: 'critical', subject: 'broken@1', value: 2 });
    expect(alerts[0]!.message).toMatch(/kaboom/);
    expect(scorer.stats.modelErrors).toBe(2);
  });

  it('an async model that rejects (wrong shape) is an alert too', async () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest(), { async: true, throws: () => new MlfpError('model_error', 'output has shape [3] for 2 rows') }));
    const out = await run(new Scorer(registry, { now: () => 12 }), [vector('A', 1), vector('B', 1)]);
    expect(out).toHaveLength(1);
    expect((out[0] as Alert).message).toMatch(/shape \[3\]/);
  });

  it('NaN or infinite outputs drop those rows with a warning alert naming the first', async () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest(), { output: (row) => [row[0]! === 2 ? Number.NaN : row[0]! === 3 ? Infinity : 1] }));
    const scorer = new Scorer(registry, { now: () => 12 });
    const out = await run(scorer, [vector('A', 1), vector('B', 2), vector('C', 3)]);
    expect(out.filter(isPrediction).map((p) => p.symbol)).toEqual(['A']);
    const alert = out.find(isAlert)!;
    expect(alert).toMatchObject({ severity: 'warning', value: 2 });
    expect(alert.message).toMatch(/2 of 3 outputs were NaN or infinite \(first: B /);
    expect(scorer.stats.modelErrors).toBe(2);
  });

  it('shadow predictions go to the shadow callback only', async () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest({ version: '1' }), { output: () => [1] }));
    registry.add(fakeModel(fakeManifest({ version: '2' }), { output: () => [2] }));
    registry.shadow('fake', '2');
    const shadow: Prediction[] = [];
    const scorer = new Scorer(registry, { onShadowPrediction: (p) => shadow.push(p) });
    const out = await run(scorer, [vector('A', 1)]);
    expect(out.filter(isPrediction).map((p) => p.version)).toEqual(['1']);
    expect(shadow.map((p) => [p.version, p.output.value])).toEqual([['2', 2]]);
    expect(scorer.stats.shadowPredictions).toBe(1);
  });

  it('sequence windows: revisions replace the newest vector, older bars are not scored', async () => {
    const registry = new ModelRegistry();
    const windows: number[][] = [];
    registry.add(
      fakeModel(fakeManifest({ kind: 'sequence', inputs: { features: ['returns'], sequenceLength: 3 } }), {
        output: (row) => (windows.push([...row]), [0]),
      }),
    );
    const scorer = new Scorer(registry, { now: () => 12 });
    await run(scorer, [vector('A', 1), vector('A', 2), vector('A', 3)]);
    const revised = { ...vector('A', 3, '5m', 30), revision: 1 };
    await run(scorer, [revised, vector('A', 2, '5m', 99), vector('A', 4)]);
    expect(windows).toEqual([
      [1, 2, 3],
      [1, 2, 30],
      [2, 30, 4],
    ]);
    expect(scorer.stats.skipped).toBe(2 + 1);
  });

  it('an asynchronous model runs at most maxRunRows rows at a time, in order', async () => {
    const registry = new ModelRegistry();
    const model = fakeModel(fakeManifest(), { async: true, output: (row) => [row[0]!] });
    registry.add(model);
    const scorer = new Scorer(registry, { maxRunRows: 2 });
    const out = (await scorer.scoreBatch([1, 2, 3, 4, 5].map((i) => vector('A', i)))) as Prediction[];
    expect(model.runtime.calls).toEqual([2, 2, 1]);
    expect(out.map((p) => p.output.value)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a version swapped in while the old one still runs waits for it (per-symbol order holds)', async () => {
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest({ version: '1' }), { async: true, output: () => [1] }));
    registry.add(fakeModel(fakeManifest({ version: '2' }), { output: () => [2] }));
    const scorer = new Scorer(registry, { maxRunRows: 1 });
    const seen: string[] = [];
    scorer.outputs.subscribe(({ output: o }) => seen.push(`${(o as Prediction).ts / 300_000}:${(o as Prediction).version}`));
    scorer.submit([vector('A', 1), vector('A', 2)]);
    registry.promote('fake', '2');
    scorer.submit([vector('A', 3)]);
    // the synchronous v2 did not overtake v1's queued bars
    expect(seen).toEqual([]);
    await scorer.whenIdle();
    expect(seen).toEqual(['1:1', '2:1', '3:2']);
  });

  it('runs in flight are published in submission order even when a later one finishes first', async () => {
    const registry = new ModelRegistry();
    const model = fakeModel(fakeManifest(), { async: true, delayMs: (call) => (call === 0 ? 20 : 0), output: (row) => [row[0]!] });
    registry.add(model);
    const scorer = new Scorer(registry, { maxRunRows: 2, maxRunsInFlight: 2 });
    const out = (await scorer.scoreBatch([1, 2, 3, 4, 5, 6].map((i) => vector('A', i)))) as Prediction[];
    expect(model.runtime.calls).toEqual([2, 2, 2]);
    expect(out.map((p) => p.output.value)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

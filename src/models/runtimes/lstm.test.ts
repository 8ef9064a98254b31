// The LSTM fixture through the live path: per-symbol windows, standard scaling, missing -> 0, then the
// ONNX and the TF.js runtimes; both must equal torch's own outputs within 1e-5.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_COLUMNS, type FeatureVector, type Prediction } from '../../domain/types.js';
import { DEMO_MODELS, readNumericTable } from '../../../test/models/fixture-tables.js';
import { ModelRegistry } from '../registry.js';
import { Scorer } from '../scoring/scorer.js';

const rows = readNumericTable('lstm/rows.csv', ['row']);
const expected = readNumericTable('lstm/expected.csv');
const SEQ = 16;

function vectors(symbol: string): FeatureVector[] {
  return Array.from({ length: rows.rows }, (_, i) => ({
    symbol,
    timeframe: '5m' as const,
    ts: 1_700_000_000_000 + i * 300_000,
    revision: 0,
    close: 100,
    values: rows.values.slice(i * rows.width, (i + 1) * rows.width),
  }));
}

describe.each([
  ['onnx on a worker thread', 'lstm-return', true, 1, 'auto'],
  ['onnx on two worker threads (runs spread round robin)', 'lstm-return', true, 2, 'auto'],
  ['onnx on the event loop', 'lstm-return', false, 1, 'auto'],
  ['onnx, LSTM unrolled into its steps', 'lstm-return', true, 1, 'always'],
  ['onnx, onnxruntime LSTM op', 'lstm-return', true, 1, 'never'],
  ['tfjs-layers', 'lstm-return-tfjs', false, 1, 'auto'],
] as const)('LSTM fixture via %s', (_how, folder, onnxWorker, onnxWorkers, onnxUnrollLstm) => {
  let registry: ModelRegistry;
  beforeAll(async () => {
    registry = new ModelRegistry();
    await registry.load(`${DEMO_MODELS}${folder}`, { onnxWorker, onnxWorkers, onnxUnrollLstm });
    const description = registry.assignment()[0]!.model.runtime.description;
    if (onnxUnrollLstm === 'always') expect(description).toContain('unrolled into 16 steps');
    if (onnxUnrollLstm === 'never') expect(description).not.toContain('unrolled');
  });
  afterAll(() => registry.close());

  it('the fixture rows are the engine feature columns', () => {
    expect(rows.header).toEqual([...FEATURE_COLUMNS]);
  });

  it('reproduces torch for every window within 1e-5, two symbols interleaved in mixed batches', async () => {
    const scorer = new Scorer(registry);
    const a = vectors('AAA');
    const b = vectors('BBB');
    // interleave two symbols (B lags A by 5 bars) so windows must be kept per symbol
    const stream: FeatureVector[] = [];
    for (let i = 0; i < rows.rows + 5; i++) {
      if (i < rows.rows) stream.push(a[i]!);
      if (i >= 5) stream.push(b[i - 5]!);
    }
    const predictions: Prediction[] = [];
    for (let start = 0; start < stream.length; start += 97) {
      const out = await scorer.scoreBatch(stream.slice(start, start + 97));
      for (const o of out) if ('symbol' in o) predictions.push(o);
    }
    // the first SEQ-1 bars of each symbol fill the window: no prediction for them
    expect(predictions.length).toBe(2 * (rows.rows - SEQ + 1));
    expect(scorer.stats.skipped).toBe(2 * (SEQ - 1));
    const want = new Map<number, number>();
    for (let r = 0; r < expected.rows; r++) want.set(expected.values[r * 2]!, expected.values[r * 2 + 1]!);
    let worst = 0;
    for (const p of predictions) {
      const row = (p.ts - 1_700_000_000_000) / 300_000;
      worst = Math.max(worst, Math.abs((p.output.return_pct as number) - want.get(row)!));
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  it('batch of one gives the same outputs as a batch of many (within 1e-6)', async () => {
    const big = new Scorer(registry);
    const one = new Scorer(registry);
    const stream = vectors('X').slice(0, 60);
    const all = (await big.scoreBatch(stream)) as Prediction[];
    const single: Prediction[] = [];
    for (const v of stream) single.push(...((await one.scoreBatch([v])) as Prediction[]));
    expect(single.length).toBe(all.length);
    single.forEach((p, i) =>
      expect(Math.abs((p.output.return_pct as number) - (all[i]!.output.return_pct as number))).toBeLessThan(1e-6),
    );
  });

  it('small runs with two in flight give the same outputs as one big run', async () => {
    const stream = vectors('R').slice(0, 120);
    const big = (await new Scorer(registry).scoreBatch(stream)) as Prediction[];
    const small = (await new Scorer(registry, { maxRunRows: 7, maxRunsInFlight: 2 }).scoreBatch(stream)) as Prediction[];
    expect(small.map((p) => p.ts)).toEqual(big.map((p) => p.ts));
    small.forEach((p, i) =>
      expect(Math.abs((p.output.return_pct as number) - (big[i]!.output.return_pct as number))).toBeLessThan(1e-6),
    );
  });

  it('windows survive snapshot -> restore', async () => {
    const first = new Scorer(registry);
    const stream = vectors('S').slice(0, 40);
    await first.scoreBatch(stream.slice(0, 30));
    const restored = new Scorer(registry);
    restored.restore(JSON.parse(JSON.stringify(first.snapshot())));
    const x = (await first.scoreBatch(stream.slice(30))) as Prediction[];
    const y = (await restored.scoreBatch(stream.slice(30))) as Prediction[];
    expect(y.map((p) => p.output.return_pct)).toEqual(x.map((p) => p.output.return_pct));
    expect(y.length).toBe(10);
  });
});

// A burst of closes keeps the event loop busy: runs that finish on the worker meanwhile must publish at
// the next batch boundary (Scorer.submit polls the worker's result port synchronously), not after the burst.
describe('LSTM on a worker thread during a synchronous burst', () => {
  let registry: ModelRegistry;
  beforeAll(async () => {
    registry = new ModelRegistry();
    await registry.load(`${DEMO_MODELS}lstm-return`, { onnxWorker: true });
  });
  afterAll(() => registry.close());

  it('a run that finished while the caller was busy is published inside the next submit, with torch outputs', async () => {
    const scorer = new Scorer(registry);
    const published: Prediction[] = [];
    scorer.outputs.subscribe(({ output: o }) => {
      if ('symbol' in o) published.push(o);
    });
    const stream = vectors('P');
    const first = stream.slice(0, 40); // windows full from row 15: 25 predictions
    scorer.submit(first);
    expect(published).toHaveLength(0); // the run is on the worker
    // stay synchronous (no event-loop turn) until the worker has certainly answered, then submit more
    const until = performance.now() + 1500;
    while (performance.now() < until) {
      /* busy, like a burst of 1,000 closes */
    }
    scorer.submit(stream.slice(40, 41));
    expect(published).toHaveLength(25);
    const want = new Map<number, number>();
    for (let r = 0; r < expected.rows; r++) want.set(expected.values[r * 2]!, expected.values[r * 2 + 1]!);
    for (const p of published) {
      const row = (p.ts - 1_700_000_000_000) / 300_000;
      expect(Math.abs((p.output.return_pct as number) - want.get(row)!)).toBeLessThanOrEqual(1e-5);
    }
    await scorer.whenIdle();
    expect(published).toHaveLength(26);
  });
});

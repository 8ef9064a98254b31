import { describe, expect, it } from 'vitest';
import { FEATURE_COLUMNS, type FeatureVector, type Prediction } from '../../domain/types.js';
import { fakeManifest, fakeModel } from '../../../test/models/fake-model.js';
import { parseManifest } from '../manifest.js';
import { ModelRegistry } from '../registry.js';
import { Scorer } from './scorer.js';

const RETURNS = FEATURE_COLUMNS.indexOf('returns');
const RSI = FEATURE_COLUMNS.indexOf('rsi_14');

function vector(symbol: string, i: number, returns: number, rsi: number, revision = 0): FeatureVector {
  const values = new Float64Array(FEATURE_COLUMNS.length).fill(1);
  values[RETURNS] = returns;
  values[RSI] = rsi;
  return { symbol, timeframe: '5m', ts: i * 300_000, revision, close: 100, values };
}

/** Independent reference: two-pass mean and population std of the last `window` values. */
function zScore(history: number[], window: number, minCount: number): number {
  const last = history.slice(-window);
  if (last.length < minCount) return Number.NaN;
  const mean = last.reduce((a, b) => a + b, 0) / last.length;
  const variance = last.reduce((a, b) => a + (b - mean) ** 2, 0) / last.length;
  const x = last[last.length - 1]!;
  return variance === 0 ? 0 : (x - mean) / Math.sqrt(variance);
}

describe('rolling (online) input scaling', () => {
  it('refuses parameters out of range, naming them', () => {
    const base = fakeManifest({}) as unknown as { inputs: Record<string, unknown> };
    expect(() => parseManifest({ ...base, inputs: { ...base.inputs, scaling: { kind: 'rolling', window: 1 } } })).toThrow(
      /inputs\.scaling\.window/,
    );
    expect(() =>
      parseManifest({ ...base, inputs: { ...base.inputs, scaling: { kind: 'rolling', window: 5, minCount: 9 } } }),
    ).toThrow(/minCount/);
  });

  it('feeds each model per-symbol z-scores over the window, shared by models with the same parameters', async () => {
    const registry = new ModelRegistry();
    const rows: Record<string, number[][]> = { a: [], b: [] };
    for (const name of ['a', 'b'] as const) {
      registry.add(
        fakeModel(
          fakeManifest({ name, inputs: { features: ['rsi_14', 'returns'], scaling: { kind: 'rolling', window: 4, minCount: 2 } } }),
          { output: (row) => (rows[name]!.push([...row]), [0]) },
        ),
      );
    }
    const scorer = new Scorer(registry);
    const history: Record<string, { rsi: number[]; ret: number[] }> = { X: { rsi: [], ret: [] }, Y: { rsi: [], ret: [] } };
    const expected: number[][] = [];
    for (let i = 0; i < 12; i++) {
      for (const symbol of ['X', 'Y']) {
        const rsi = 50 + 10 * Math.sin(i + symbol.charCodeAt(0));
        const ret = (i % 3) * 0.01 * (symbol === 'X' ? 1 : -2);
        history[symbol]!.rsi.push(rsi);
        history[symbol]!.ret.push(ret);
        expected.push([zScore(history[symbol]!.rsi, 4, 2), zScore(history[symbol]!.ret, 4, 2)]);
        await scorer.scoreBatch([vector(symbol, i, ret, rsi)]);
      }
    }
    for (const name of ['a', 'b']) {
      expect(rows[name]).toHaveLength(expected.length);
      rows[name]!.forEach((row, k) => {
        const e = expected[k]!;
        for (let j = 0; j < 2; j++) {
          if (Number.isNaN(e[j]!)) expect(row[j], `${name} row ${k}`).toBeNaN();
          else expect(Math.abs(row[j]! - e[j]!), `${name} row ${k} col ${j}`).toBeLessThan(1e-9);
        }
      });
    }
  });

  it('a revision of the latest bar replaces its value in the window; state survives snapshot/restore', async () => {
    const build = () => {
      const registry = new ModelRegistry();
      const seen: number[] = [];
      registry.add(
        fakeModel(
          fakeManifest({ inputs: { features: ['returns'], scaling: { kind: 'rolling', window: 3, minCount: 2 } } }),
          { output: (row) => (seen.push(row[0]!), [row[0]!]) },
        ),
      );
      return { scorer: new Scorer(registry), seen };
    };
    const first = build();
    await first.scorer.scoreBatch([vector('A', 0, 1, 50), vector('A', 1, 2, 50), vector('A', 1, 5, 50, 1)]);
    // the revision replaced 2 by 5: window [1, 5]
    expect(first.seen[2]).toBeCloseTo(zScore([1, 5], 3, 2), 12);
    const restored = build();
    restored.scorer.restore(JSON.parse(JSON.stringify(first.scorer.snapshot())));
    const a = (await first.scorer.scoreBatch([vector('A', 2, 3, 50)])) as Prediction[];
    const b = (await restored.scorer.scoreBatch([vector('A', 2, 3, 50)])) as Prediction[];
    expect(b[0]!.output).toEqual(a[0]!.output);
    expect(a[0]!.output.value).toBeCloseTo(zScore([1, 5, 3], 3, 2), 12);
  });
});

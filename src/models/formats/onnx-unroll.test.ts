// The LSTM-unrolling rewrite against onnxruntime's own LSTM kernel: every output of the rewritten graph
// equals the op's (made by scripts/models/lstm_unroll_cases.py with the onnx helper), the cases it does
// not cover keep the op with the reason named, unreadable bytes never throw, and the runtime falls back
// to the op when the rewrite does not check out.

import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../../test/models/fixture-tables.js';
import { openOnnxRuntime } from '../runtimes/onnx-runtime.js';
import { unrollLstm } from './onnx-unroll.js';

interface UnrollCase {
  steps: number;
  inputs: Record<string, number[]>;
  unroll?: string[];
  keep?: string;
  runtime?: string;
}

const CASES = JSON.parse(readFileSync(fixturePath('lstm-unroll/cases.json'), 'utf8')) as Record<string, UnrollCase>;
const modelBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(fixturePath(`lstm-unroll/${name}.onnx`)));

/** Deterministic inputs in (-2, 2) for every graph input. */
function feeds(c: UnrollCase): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  let k = 0;
  for (const [name, dims] of Object.entries(c.inputs)) {
    const size = dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, () => Math.sin(++k * 2.399) * 2);
    out[name] = new ort.Tensor('float32', data, dims);
  }
  return out;
}

const logs = (): { info: string[]; warn: string[]; logger: { info(m: string): void; warn(m: string): void } } => {
  const info: string[] = [];
  const warn: string[] = [];
  return { info, warn, logger: { info: (m) => info.push(m), warn: (m) => warn.push(m) } };
};

describe('unrollLstm', () => {
  const unrolled = Object.entries(CASES).filter(([, c]) => c.unroll !== undefined && c.runtime === undefined);
  it.each(unrolled)('%s: every output equals onnxruntime LSTM op within 1e-6', async (name, c) => {
    const original = modelBytes(name);
    const result = unrollLstm(original, c.steps);
    expect(result.kept).toEqual([]);
    expect(result.unrolled).toEqual(c.unroll);
    expect(result.bytes).toBeDefined();
    const op = await ort.InferenceSession.create(original);
    const rewritten = await ort.InferenceSession.create(result.bytes!);
    try {
      expect(rewritten.outputNames).toEqual(op.outputNames);
      const input = feeds(c);
      const want = await op.run(input);
      const got = await rewritten.run(input);
      for (const output of op.outputNames) {
        expect(got[output]!.dims, output).toEqual(want[output]!.dims);
        const w = want[output]!.data as Float32Array;
        const g = got[output]!.data as Float32Array;
        expect(g.length).toBe(w.length);
        let worst = 0;
        for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i]! - g[i]!));
        expect(worst, output).toBeLessThanOrEqual(1e-6);
        // the outputs move with the input (a constant graph would also "match" a constant op)
        expect(new Set(w).size, output).toBeGreaterThan(w.length / 2);
      }
      // the op is gone from the rewritten graph (no name in these cases contains "LSTM")
      expect(Buffer.from(original).includes('LSTM')).toBe(true);
      expect(Buffer.from(result.bytes!).includes('LSTM')).toBe(false);
    } finally {
      await op.release();
      await rewritten.release();
    }
  });

  const kept = Object.entries(CASES).filter(([, c]) => c.keep !== undefined);
  it.each(kept)('%s: the LSTM op is kept and the reason named', (name, c) => {
    const result = unrollLstm(modelBytes(name), c.steps);
    expect(result.bytes).toBeUndefined();
    expect(result.unrolled).toEqual([]);
    expect(result.kept.join('; ')).toContain(c.keep!);
  });

  it('a model without an LSTM node comes back unchanged, with nothing kept', () => {
    const result = unrollLstm(new Uint8Array(readFileSync(fixturePath('onnx-trees/lightgbm-regressor.onnx'))), 16);
    expect(result).toEqual({ bytes: undefined, unrolled: [], kept: [] });
  });

  it('refuses sequence lengths outside 1 to 256', () => {
    expect(unrollLstm(modelBytes('full'), 0).kept[0]).toContain('sequence length 0');
    expect(unrollLstm(modelBytes('full'), 1000).kept[0]).toContain('sequence length 1000');
  });

  it('never throws on damaged bytes: truncations and flipped bytes of a real model', () => {
    const model = modelBytes('full');
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 300; i++) {
      const damaged = i < 100 ? model.slice(0, next(model.length)) : model.slice();
      if (i >= 100) for (let k = 0; k < 1 + next(4); k++) damaged[next(damaged.length)] = next(256);
      const result = unrollLstm(damaged, 7);
      expect(Array.isArray(result.kept)).toBe(true);
      if (result.bytes === undefined && result.unrolled.length === 0 && result.kept.length > 0)
        expect(result.kept.join(' ')).toMatch(/protobuf|LSTM|lstm|opset|attribute|missing|hidden|direction|activations/);
    }
    expect(unrollLstm(new Uint8Array([0xff, 0xff, 0xff]), 7).kept[0]).toContain('not readable protobuf');
  });
});

describe('openOnnxRuntime with unrollLstm', () => {
  it('auto keeps the LSTM op when missing values reach the model (NaN: finite from the op, NaN unrolled)', async () => {
    const { info, logger } = logs();
    const path = fixturePath('lstm/model.onnx');
    const auto = await openOnnxRuntime(path, { unrollLstm: 'auto', logger, worker: false });
    const always = await openOnnxRuntime(path, { unrollLstm: 'always', worker: false });
    try {
      expect(auto.description).not.toContain('unrolled');
      expect(info.join('\n')).toContain('LSTM op kept (missing values reach the model');
      // why: onnxruntime's op gives a finite output for a window with a NaN; the unrolled graph gives NaN
      const input = new Float32Array(256).fill(0.1);
      input[5] = Number.NaN;
      const op = new Float64Array(1);
      const unrolled = new Float64Array(1);
      await auto.score(input, 1, op);
      await always.score(input, 1, unrolled);
      expect(Number.isFinite(op[0]!)).toBe(true);
      expect(unrolled[0]).toBeNaN();
    } finally {
      await auto.close();
      await always.close();
    }
  });

  it('keeps the LSTM op, with a warning naming the mismatch, when the unrolled graph does not check out', async () => {
    const { warn, logger } = logs();
    const runtime = await openOnnxRuntime(fixturePath('lstm-unroll/eight-of-sixteen.onnx'), {
      unrollLstm: 'always',
      worker: false,
      logger,
    });
    try {
      expect(runtime.description).not.toContain('unrolled');
      expect(warn.join('\n')).toMatch(/unrolled LSTM graph.*(does not load|differs from the op).*LSTM op kept/);
      // and it still scores
      const out = new Float64Array(2);
      await runtime.score(new Float32Array(2 * 16 * 3).fill(0.5), 2, out);
      expect(Number.isFinite(out[0]!)).toBe(true);
      expect(out[0]).toBe(out[1]);
    } finally {
      await runtime.close();
    }
  });

  it('auto unrolls an LSTM whose inputs cannot be NaN, the same in every load; outputs equal the op within 1e-6', async () => {
    const { info, logger } = logs();
    const path = fixturePath('lstm/model.onnx');
    const auto = await openOnnxRuntime(path, { unrollLstm: 'auto', nanInputs: false, logger });
    const op = await openOnnxRuntime(path, { unrollLstm: 'never' });
    try {
      expect(info.join('\n')).toContain('LSTM /lstm/LSTM unrolled into 16 steps');
      expect(auto.description).toContain('unrolled into 16 steps');
      expect(op.description).not.toContain('unrolled');
      // batch 1 and batch 256 give the op's outputs
      for (const rows of [1, 256]) {
        const input = Float32Array.from({ length: rows * 256 }, (_, i) => Math.cos(i * 0.37) * 2);
        const a = new Float64Array(rows);
        const b = new Float64Array(rows);
        await auto.score(input, rows, a);
        await op.score(input, rows, b);
        for (let r = 0; r < rows; r++) expect(Math.abs(a[r]! - b[r]!)).toBeLessThanOrEqual(1e-6);
      }
    } finally {
      await auto.close();
      await op.close();
    }
  });
});

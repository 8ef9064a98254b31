import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsvText } from '../streams/csv.js';
import {
  DEMO_MODELS,
  fixturePath,
  readNumericTable,
  readTextTable,
} from '../../test/models/fixture-tables.js';
import { scoreCommand } from './score.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-score-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function score(
  model: string,
  input: string,
  extra: { features?: string[] } = {},
): Promise<{ code: number; header: string[]; rows: string[][]; stderr: string }> {
  const output = join(dir, `out-${Math.random().toString(36).slice(2)}.csv`);
  let stderr = '';
  const code = await scoreCommand(
    { model, input, output, ...extra },
    { stderr: { write: (t: string) => (stderr += t) } },
  );
  const text = code === 0 ? await readFile(output, 'utf8') : 'x\n';
  return { code, ...parseCsvText(text), stderr };
}

describe('mlfp score', () => {
  it('LightGBM demo regressor: `row,prediction`, every value LightGBM own, printed round-trip', async () => {
    const { code, header, rows } = await score(
      `${DEMO_MODELS}lgbm-return`,
      fixturePath('lightgbm-regressor/test.csv'),
    );
    expect(code).toBe(0);
    expect(header).toEqual(['row', 'prediction']);
    const want = readTextTable('lightgbm-regressor/predictions.csv').rows.filter((r) => r[0] === 'test');
    expect(rows.length).toBe(want.length);
    expect(rows.every((r, i) => r[0] === want[i]![1] && Number(r[1]) === Number(want[i]![2]))).toBe(true);
  });

  it('XGBoost demo classifier: `p_down,p_up,label` within 1e-6 of XGBoost', async () => {
    const { code, header, rows } = await score(
      `${DEMO_MODELS}xgb-direction/manifest.json`,
      fixturePath('xgboost/classifier/rows.csv'),
    );
    expect(code).toBe(0);
    expect(header).toEqual(['row', 'p_down', 'p_up', 'label']);
    const expected = readNumericTable('xgboost/classifier/expected.csv', ['row']);
    let worst = 0;
    rows.forEach((r, i) => {
      const pUp = Number(r[2]);
      worst = Math.max(worst, Math.abs(pUp - expected.values[i * 2 + 1]!));
      expect(Number(r[1])).toBe(1 - pUp);
      expect(r[3]).toBe(pUp > 0.5 ? 'up' : 'down');
    });
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('a bare binary model file writes p_0, p_1 (p_0 = 1 - p_1) and label 1 when p_1 > 0.5', async () => {
    const { code, header, rows } = await score(
      fixturePath('xgboost/classifier/model.json'),
      fixturePath('xgboost/classifier/rows.csv'),
    );
    expect(code).toBe(0);
    expect(header).toEqual(['row', 'p_0', 'p_1', 'label']);
    expect(
      rows.every((r) => Number(r[1]) === 1 - Number(r[2]) && r[3] === (Number(r[2]) > 0.5 ? '1' : '0')),
    ).toBe(true);
  });

  it('LSTM (ONNX): rows before the window fills are empty; the rest equal torch within 1e-5', async () => {
    const { code, header, rows } = await score(`${DEMO_MODELS}lstm-return`, fixturePath('lstm/rows.csv'));
    expect(code).toBe(0);
    expect(header).toEqual(['row', 'prediction']);
    expect(rows.slice(0, 15).every((r) => r[1] === '')).toBe(true);
    const expected = readNumericTable('lstm/expected.csv');
    let worst = 0;
    for (let i = 0; i < expected.rows; i++) {
      const row = expected.values[i * 2]!;
      worst = Math.max(worst, Math.abs(Number(rows[row]![1]) - expected.values[i * 2 + 1]!));
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  it('keeps symbol and ts keys, windows per symbol, and quotes text that needs it', async () => {
    const source = readTextTable('lightgbm-regressor/test.csv');
    const lines = ['ts,symbol,' + source.header.slice(1, 17).join(',')];
    source.rows
      .slice(0, 4)
      .forEach((r, i) => lines.push(`2024-01-0${i + 1},"A,B",${r.slice(1, 17).join(',')}`));
    const input = join(dir, 'keys.csv');
    await writeFile(input, lines.join('\n') + '\n');
    const { code, header, rows } = await score(`${DEMO_MODELS}lgbm-return`, input);
    expect(code).toBe(0);
    expect(header).toEqual(['ts', 'symbol', 'prediction']);
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ['2024-01-01', 'A,B'],
      ['2024-01-02', 'A,B'],
      ['2024-01-03', 'A,B'],
      ['2024-01-04', 'A,B'],
    ]);
  });

  it('refuses a bare ONNX file without --features (exit 2)', async () => {
    const r = await score(fixturePath('lstm/model.onnx'), fixturePath('lstm/rows.csv'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--features/);
  });

  it('a bare ONNX file with --features scores like its manifest twin', async () => {
    const features = readTextTable('lstm/rows.csv').header.slice(1);
    const bare = await score(fixturePath('lstm/model.onnx'), fixturePath('lstm/rows.csv'), { features });
    const manifest = await score(`${DEMO_MODELS}lstm-return`, fixturePath('lstm/rows.csv'));
    // no scaling in the bare file: different numbers, same shape
    expect(bare.code).toBe(0);
    expect(bare.rows.length).toBe(manifest.rows.length);
  });

  it('names input columns the model needs and the file lacks (exit 2)', async () => {
    const input = join(dir, 'narrow.csv');
    await writeFile(input, 'row,returns\n0,0.1\n');
    const r = await score(`${DEMO_MODELS}lgbm-return`, input);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lacks the model's input columns log_returns, rsi_14/);
  });

  it('names the line and column of a cell that is not a number (exit 1)', async () => {
    const source = readTextTable('lightgbm-regressor/test.csv');
    const bad = source.rows[1]!.slice();
    bad[3] = '12,5'.replace(',', ';');
    const input = join(dir, 'bad.csv');
    await writeFile(
      input,
      [source.header.join(','), source.rows[0]!.join(','), bad.join(',')].join('\n') + '\n',
    );
    const r = await score(`${DEMO_MODELS}lgbm-return`, input);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 3, column rsi_14: not a number/);
  });
});

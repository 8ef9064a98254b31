import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../../errors.js';
import { fixturePath, readNumericTable, readTextTable } from '../../../test/models/fixture-tables.js';
import { loadLightGbmModel } from './lightgbm.js';

const text = (relative: string): string => readFileSync(fixturePath(relative), 'utf8');

function refusal(modelText: string): { code: string; message: string } {
  try {
    loadLightGbmModel(modelText, 'm');
  } catch (error) {
    if (isMlfpError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('model was accepted');
}

describe.each([true, false])(
  'LightGBM evaluator on the shared regression fixture (LightGBM 3.3.510, version=v4), compiled=%s',
  (compile) => {
    const model = loadLightGbmModel(text('lightgbm-regressor/model.txt'), 'shared', { compile });
    const expected = readTextTable('lightgbm-regressor/predictions.csv');

    it.each(['train', 'test'])('reproduces every %s prediction bit for bit', (set) => {
      const table = readNumericTable(`lightgbm-regressor/${set}.csv`, ['row', 'target']);
      expect(table.header).toEqual(model.featureNames);
      const want = expected.rows.filter((r) => r[0] === set).map((r) => Number(r[2]));
      expect(want.length).toBe(table.rows);
      const out = new Float64Array(table.rows);
      model.predict(table.values, 0, table.rows, out, 0);
      let mismatches = 0;
      for (let i = 0; i < table.rows; i++) if (out[i] !== want[i]) mismatches++;
      expect(mismatches).toBe(0);
    });

    it('scores one row at a time identically to a batch (offsets)', () => {
      const table = readNumericTable('lightgbm-regressor/test.csv', ['row', 'target']);
      const batch = new Float64Array(table.rows);
      model.predict(table.values, 0, table.rows, batch, 0);
      const one = new Float64Array(3);
      for (const r of [0, 250, 998]) {
        model.predict(table.values, r * table.width, 1, one, 1);
        expect(one[1]).toBe(batch[r]);
      }
    });

    it('describes the model', () => {
      expect(model.version).toBe('v4');
      expect(model.treeCount).toBe(50);
      expect(model.inputWidth).toBe(16);
      expect(model.objective).toBe('regression');
    });
  },
);

describe.each([true, false])('compiled=%s', (compile) => {
  describe.each([
    ['categorical-zero-regression', 'categorical bitsets over two words, missing type Zero'],
    ['nan-regression', 'missing type NaN both ways, values on thresholds'],
    ['binary-v3', 'binary sigmoid:1.5, written by LightGBM 3.3.2 (version=v3)'],
    ['multiclass', 'multiclass softmax over 3 classes with categorical splits'],
    ['single-leaf', 'a tree with one leaf'],
  ])('LightGBM case %s (%s)', (name) => {
    const model = loadLightGbmModel(text(`lightgbm-cases/${name}/model.txt`), name, { compile });
    it('runs the requested evaluator', () => expect(model.isCompiled).toBe(compile));
    const rows = readNumericTable(`lightgbm-cases/${name}/rows.csv`, ['row']);
    const expected = readNumericTable(`lightgbm-cases/${name}/expected.csv`, ['row']);
    const k = model.outputWidth;

    it('raw scores are bit-identical to LightGBM', () => {
      const out = new Float64Array(rows.rows * k);
      model.predictRaw(rows.values, 0, rows.rows, out, 0);
      let mismatches = 0;
      for (let r = 0; r < rows.rows; r++)
        for (let j = 0; j < k; j++) if (out[r * k + j] !== expected.values[r * 2 * k + j]) mismatches++;
      expect(mismatches).toBe(0);
    });

    it('transformed outputs are within 1e-15 of LightGBM', () => {
      const out = new Float64Array(rows.rows * k);
      model.predict(rows.values, 0, rows.rows, out, 0);
      let worst = 0;
      for (let r = 0; r < rows.rows; r++)
        for (let j = 0; j < k; j++)
          worst = Math.max(worst, Math.abs(out[r * k + j]! - expected.values[r * 2 * k + k + j]!));
      expect(worst).toBeLessThanOrEqual(1e-15);
    });
  });
});

describe('LightGBM refusals name the problem', () => {
  it.each([
    ['refused-linear-tree', 'model_unsupported', /linear tree/],
    ['refused-dart', 'model_unsupported', /boosting type "dart"/],
    ['refused-poisson', 'model_unsupported', /objective "poisson"/],
  ])('%s', (name, code, message) => {
    const r = refusal(text(`lightgbm-cases/${name}/model.txt`));
    expect(r.code).toBe(code);
    expect(r.message).toMatch(message);
  });

  const good = text('lightgbm-cases/categorical-zero-regression/model.txt');
  it.each([
    ['not a model', 'hello', /first line is not "tree"/],
    ['unknown version', good.replace('version=v4', 'version=v9'), /version v9/],
    ['truncated', good.slice(0, good.indexOf('Tree=3')), /truncated/],
    ['missing key', good.replace(/^max_feature_idx=.*$/m, ''), /max_feature_idx/],
    ['bad number', good.replace(/^leaf_value=\S+/m, 'leaf_value=abc'), /leaf_value.*bad number/],
    ['short array', good.replace(/^left_child=\S+ /m, 'left_child='), /left_child" has/],
    ['child cycle', good.replace(/^left_child=\S+/m, 'left_child=0'), /child 0 is out of range/],
    ['feature out of range', good.replace(/^split_feature=\S+/m, 'split_feature=9'), /split_feature 9/],
    [
      'bad categorical index',
      good.replace(/^threshold=(\S+ \S+ \S+) \S+/m, 'threshold=$1 99'),
      /categorical threshold 99/,
    ],
    [
      'multiclassova',
      good.replace('objective=regression', 'objective=multiclassova num_class:3'),
      /multiclassova/,
    ],
    ['sqrt regression', good.replace('objective=regression', 'objective=regression sqrt'), /sqrt/],
    ['random forest', good.replace('tree_sizes=', 'average_output\ntree_sizes='), /random-forest/],
  ])('%s', (_name, modelText, message) => {
    const r = refusal(modelText);
    expect(['model_invalid', 'model_unsupported']).toContain(r.code);
    expect(r.message).toMatch(message);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../../errors.js';
import { FEATURE_COLUMNS } from '../../domain/types.js';
import { fixturePath, readNumericTable } from '../../../test/models/fixture-tables.js';
import { loadXgboostModel } from './xgboost.js';

const text = (relative: string): string => readFileSync(fixturePath(relative), 'utf8');

// the parts of an XGBoost JSON model the refusal tests edit
interface XgbJson {
  version: number[];
  learner: {
    feature_names: string[];
    learner_model_param: Record<string, string>;
    gradient_booster: {
      model: {
        trees: {
          split_type: number[];
          left_children: number[];
          split_indices: number[];
          default_left: number[];
        }[];
      };
    };
  };
}

function refusal(modelText: string): { code: string; message: string } {
  try {
    loadXgboostModel(modelText, 'm');
  } catch (error) {
    if (isMlfpError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('model was accepted');
}

describe.each([true, false])('compiled=%s', (compile) => {
  describe.each([
    ['classifier', 'binary:logistic, 60 trees'],
    ['regressor', 'reg:squarederror with base_score 0.001'],
    ['multiclass', 'multi:softprob over 3 classes'],
  ])('XGBoost 1.7 case %s (%s)', (name) => {
    const model = loadXgboostModel(text(`xgboost/${name}/model.json`), name, { compile });
    it('runs the requested evaluator', () => expect(model.isCompiled).toBe(compile));
    const rows = readNumericTable(`xgboost/${name}/rows.csv`, ['row']);
    const expected = readNumericTable(`xgboost/${name}/expected.csv`, ['row']);
    const k = model.outputWidth;

    it('uses the model feature names', () => {
      expect(model.featureNames).toEqual([...FEATURE_COLUMNS]);
      expect(rows.header).toEqual([...FEATURE_COLUMNS]);
    });

    it('margins equal XGBoost (float32 sums)', () => {
      const out = new Float64Array(rows.rows * k);
      model.predictMargin(rows.values, 0, rows.rows, out, 0);
      let worst = 0;
      for (let r = 0; r < rows.rows; r++)
        for (let j = 0; j < k; j++)
          worst = Math.max(worst, Math.abs(out[r * k + j]! - expected.values[r * 2 * k + j]!));
      expect(worst).toBeLessThanOrEqual(1e-6);
    });

    it('outputs are within 1e-6 of XGBoost on every row (missing inputs, values on thresholds)', () => {
      const out = new Float64Array(rows.rows * k);
      model.predict(rows.values, 0, rows.rows, out, 0);
      let worst = 0;
      for (let r = 0; r < rows.rows; r++)
        for (let j = 0; j < k; j++)
          worst = Math.max(worst, Math.abs(out[r * k + j]! - expected.values[r * 2 * k + k + j]!));
      expect(worst).toBeLessThanOrEqual(1e-6);
    });
  });
});

describe('XGBoost details', () => {
  it('reads base_score written as a one-element vector (XGBoost 3)', () => {
    const m = JSON.parse(text('xgboost/regressor/model.json')) as XgbJson;
    const plain = loadXgboostModel(JSON.stringify(m));
    m.learner.learner_model_param.base_score = `[${m.learner.learner_model_param.base_score}]`;
    expect(loadXgboostModel(JSON.stringify(m)).baseMargin).toBe(plain.baseMargin);
    expect(plain.baseMargin).toBe(Math.fround(0.001));
  });

  it('a model trained without names has none', () => {
    const model = loadXgboostModel(text('xgboost/unnamed/model.json'));
    expect(model.featureNames).toBeUndefined();
    expect(model.inputWidth).toBe(16);
  });

  it('margins are bit-identical to XGBoost, rows whose float64 value rounds onto a float32 threshold included', () => {
    const model = loadXgboostModel(text('xgboost/classifier/model.json'));
    const rows = readNumericTable('xgboost/classifier/rows.csv', ['row']);
    const expected = readNumericTable('xgboost/classifier/expected.csv', ['row']);
    const exact = new Float64Array(rows.rows);
    model.predictMargin(rows.values, 0, rows.rows, exact, 0);
    const same = exact.every((v, i) => v === expected.values[i * 2]);
    expect(same).toBe(true);
  });
});

describe('XGBoost refusals name the problem', () => {
  it.each([
    ['refused-gblinear', /booster "gblinear"/],
    ['refused-dart', /booster "dart"/],
    ['refused-poisson', /objective "count:poisson"/],
  ])('%s', (name, message) => {
    const r = refusal(text(`xgboost/${name}/model.json`));
    expect(r.code).toBe('model_unsupported');
    expect(r.message).toMatch(message);
  });

  const good = text('xgboost/classifier/model.json');
  const edit = (change: (m: XgbJson) => void): string => {
    const m = JSON.parse(good) as XgbJson;
    change(m);
    return JSON.stringify(m);
  };
  it.each([
    ['not JSON', '\u007b\u0000binary', /not JSON/],
    ['no learner', '{"version":[1,7,4]}', /"learner"/],
    ['old version', edit((m) => (m.version = [0, 90, 0])), /0\.90\.0/],
    [
      'categorical split',
      edit((m) => (m.learner.gradient_booster.model.trees[0]!.split_type[0] = 1)),
      /categorical/,
    ],
    [
      'child cycle',
      edit((m) => (m.learner.gradient_booster.model.trees[0]!.left_children[0] = 0)),
      /out of range/,
    ],
    [
      'feature out of range',
      edit((m) => (m.learner.gradient_booster.model.trees[0]!.split_indices[0] = 99)),
      /split_indices 99/,
    ],
    [
      'short array',
      edit((m) => m.learner.gradient_booster.model.trees[1]!.default_left.pop()),
      /default_left has/,
    ],
    ['bad base_score', edit((m) => (m.learner.learner_model_param.base_score = 'abc')), /base_score/],
    ['multi-target', edit((m) => (m.learner.learner_model_param.num_target = '2')), /multi-target/],
    ['name count', edit((m) => m.learner.feature_names.pop()), /15 feature names/],
  ])('%s', (_name, modelText, message) => {
    const r = refusal(modelText);
    expect(['model_invalid', 'model_unsupported']).toContain(r.code);
    expect(r.message).toMatch(message);
  });
});

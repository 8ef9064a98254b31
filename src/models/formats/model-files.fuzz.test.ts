// Damaged model files (lines dropped, tokens replaced, JSON values swapped) are refused with an
// MlfpError or load into a model that still scores: they never crash the engine.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../../errors.js';
import { fixturePath } from '../../../test/models/fixture-tables.js';
import { loadLightGbmModel } from './lightgbm.js';
import { loadXgboostModel } from './xgboost.js';

const junk = fc.constantFrom('', '-1', '0', '1e309', 'nan', 'inf', '99999999', '3.5', 'abc', '=', ' ', '-2147483649', '1e6');

function survives(load: () => { inputWidth: number; outputWidth: number; predict: (...a: never[]) => void }): boolean {
  let model;
  try {
    model = load();
  } catch (error) {
    if (isMlfpError(error) && ['model_invalid', 'model_unsupported'].includes(error.code)) return true;
    throw error;
  }
  const row = new Float64Array(model.inputWidth).fill(Number.NaN);
  const out = new Float64Array(model.outputWidth);
  (model.predict as (i: Float64Array, io: number, r: number, o: Float64Array, oo: number) => void)(row, 0, 1, out, 0);
  return true;
}

describe('damaged LightGBM text', () => {
  const lines = readFileSync(fixturePath('lightgbm-cases/categorical-zero-regression/model.txt'), 'utf8').split('\n');
  it('a dropped line or a replaced token is refused or harmless', () => {
    fc.assert(
      fc.property(fc.nat(lines.length - 1), fc.nat(40), junk, fc.boolean(), (at, token, text, drop) => {
        const copy = lines.slice();
        if (drop) copy.splice(at, 1);
        else {
          const parts = copy[at]!.split(/([= ])/);
          parts[Math.min(token, parts.length - 1)] = text;
          copy[at] = parts.join('');
        }
        return survives(() => loadLightGbmModel(copy.join('\n'), 'fuzz'));
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});

describe('damaged XGBoost JSON', () => {
  const source = readFileSync(fixturePath('xgboost/multiclass/model.json'), 'utf8');
  const numbers = [...source.matchAll(/-?\d+(\.\d+)?(E-?\d+)?/gi)].map((m) => m.index!);
  it('a number replaced by junk (JSON kept valid) is refused or harmless', () => {
    fc.assert(
      fc.property(fc.nat(numbers.length - 1), junk, (i, text) => {
        const at = numbers[i]!;
        const end = at + /^-?\d+(\.\d+)?(E-?\d+)?/i.exec(source.slice(at))![0].length;
        const value = /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(text) ? text : JSON.stringify(text);
        const damaged = source.slice(0, at) + value + source.slice(end);
        try {
          JSON.parse(damaged);
        } catch {
          return true; // replaced inside a string: not a JSON-level damage
        }
        return survives(() => loadXgboostModel(damaged, 'fuzz'));
      }),
      { numRuns: 400, seed: 7 },
    );
  });

  it('a truncated file is refused', () => {
    for (const cut of [1, 100, source.length / 2, source.length - 2])
      expect(() => loadXgboostModel(source.slice(0, cut))).toThrow(/not JSON/);
  });
});

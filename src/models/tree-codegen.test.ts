// The generated code and the typed-array walk are two independent evaluators of the same trees: on any
// input (NaN, signed zeros, tiny values, infinities, categories out of range) they must agree bit for bit.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/models/fixture-tables.js';
import { loadLightGbmModel } from './lightgbm.js';
import { loadXgboostModel } from './xgboost.js';

const text = (relative: string): string => readFileSync(fixturePath(relative), 'utf8');

const value = fc.oneof(
  fc.double({ noNaN: false }),
  fc.constantFrom(Number.NaN, 0, -0, 1e-36, -1e-36, Infinity, -Infinity, 2147483648, -0.5, 31, 32, 39, 40),
  fc.integer({ min: -3, max: 45 }).map(Number),
  fc.double({ min: -100, max: 100, noNaN: true }),
);

describe.each([
  ['lightgbm-cases/categorical-zero-regression/model.txt', 'lightgbm'],
  ['lightgbm-cases/multiclass/model.txt', 'lightgbm'],
  ['lightgbm-cases/nan-regression/model.txt', 'lightgbm'],
  ['lightgbm-regressor/model.txt', 'lightgbm'],
  ['xgboost/multiclass/model.json', 'xgboost'],
  ['xgboost/classifier/model.json', 'xgboost'],
])('%s', (path, kind) => {
  const load = (compile: boolean) =>
    kind === 'lightgbm' ? loadLightGbmModel(text(path), path, { compile }) : loadXgboostModel(text(path), path, { compile });
  const compiled = load(true);
  const walked = load(false);
  const width = compiled.inputWidth;
  const k = compiled.outputWidth;

  it('generated code equals the typed-array walk on arbitrary rows', () => {
    expect(compiled.isCompiled).toBe(true);
    fc.assert(
      fc.property(fc.array(value, { minLength: width, maxLength: width }), (row) => {
        const input = Float64Array.from(row);
        const a = new Float64Array(k);
        const b = new Float64Array(k);
        compiled.predict(input, 0, 1, a, 0);
        walked.predict(input, 0, 1, b, 0);
        for (let j = 0; j < k; j++) if (!Object.is(a[j], b[j])) return false;
        return true;
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});

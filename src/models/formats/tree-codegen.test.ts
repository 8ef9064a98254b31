// The generated code and the typed-array walk are two independent evaluators of the same trees: on any
// input (NaN, signed zeros, tiny values, infinities, categories out of range) they must agree bit for bit.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../../test/models/fixture-tables.js';
import { loadLightGbmModel } from './lightgbm.js';
import {
  exerciseTrees,
  SPLIT_CATEGORICAL,
  SPLIT_LEQ,
  SPLIT_LEQ_ZERO_MISSING,
  SPLIT_LT,
  type CodegenTree,
} from './tree-codegen.js';
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

// The warm-up must reach every leaf (so every comparison has type feedback before V8 optimises the code):
// a tree with nested bounds on one feature, every split kind and missing values both ways.
describe('exerciseTrees', () => {
  // node: [leaf, value, feature, threshold, left, right, missingLeft, split, catStart, catLength]
  const nodes: number[][] = [
    [0, 0, 0, 5, 1, 2, 0, SPLIT_LEQ, 0, 0], // 0: x0 <= 5
    [0, 0, 0, 2, 3, 4, 1, SPLIT_LEQ, 0, 0], // 1: x0 <= 2 (NaN left)
    [0, 0, 0, 8, 5, 6, 0, SPLIT_LT, 0, 0], // 2: x0 < 8 (within x0 > 5)
    [0, 0, 1, -1, 7, 8, 1, SPLIT_LEQ_ZERO_MISSING, 0, 0], // 3: x1 zero/NaN left, else x1 <= -1
    [0, 0, 2, 0, 9, 10, 0, SPLIT_CATEGORICAL, 0, 2], // 4: x2 in bitset (words 0..1)
    [0, 0, 0, 5.000000000000001, 11, 12, 0, SPLIT_LEQ, 0, 0], // 5: a bound one ulp above 5
    [1, 6, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 7, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 8, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 9, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 10, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 11, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 12, 0, 0, 0, 0, 0, 0, 0, 0],
  ];
  const column = (k: number): number[] => nodes.map((n) => n[k]!);
  const tree: CodegenTree = {
    output: 0,
    leaf: column(0),
    value: column(1),
    feature: column(2),
    threshold: column(3),
    left: column(4),
    right: column(5),
    missingLeft: column(6),
    split: column(7),
    catStart: column(8),
    catLength: column(9),
  };
  const words = Uint32Array.of(0, 1 << 7); // category 39 only
  const leafOf = (x: ArrayLike<number>): number => {
    let n = 0;
    while (tree.leaf[n] !== 1) {
      const v = x[tree.feature[n]!]!;
      const t = tree.threshold[n]!;
      const missing = v !== v || (tree.split[n] === SPLIT_LEQ_ZERO_MISSING && v === 0);
      let left: boolean;
      if (tree.split[n] === SPLIT_CATEGORICAL) left = v === 39;
      else if (missing) left = tree.missingLeft[n] === 1;
      else left = tree.split[n] === SPLIT_LT ? v < t : v <= t;
      n = left ? tree.left[n]! : tree.right[n]!;
    }
    return n;
  };

  it.each(['float64', 'float32'] as const)('reaches every leaf, and a NaN on a missing side (%s rows)', (rowType) => {
    const reached = new Set<number>();
    let sawNaN = false;
    exerciseTrees(
      (x) => {
        reached.add(leafOf(x));
        if (x[0] !== x[0]) sawNaN = true;
      },
      [tree],
      { float32Sum: false, catWords: words, rowType, width: 3 },
    );
    // leaf 11 needs 5 < x0 <= 5 + 1 ulp: a double, but no float32, lies there
    const leaves = nodes.flatMap((n, i) => (n[0] === 1 && !(rowType === 'float32' && i === 11) ? [i] : []));
    expect([...reached].sort((a, b) => a - b)).toEqual(leaves);
    expect(sawNaN).toBe(true);
  });
});

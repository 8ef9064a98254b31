// LightGBM's text model format (v3 and v4 headers) read into typed arrays per tree, checked field by field:
// model_invalid / model_unsupported errors name the field. lightgbm.ts compiles and evaluates the result.

import { MlfpError } from '../../errors.js';

export type LightGbmTransform =
  { kind: 'identity' } | { kind: 'sigmoid'; sigmoid: number } | { kind: 'softmax' };

const SUPPORTED_VERSIONS = new Set(['v3', 'v4']);
/** Objectives whose output is the raw score (LightGBM applies no transform to them). */
const IDENTITY_OBJECTIVES = new Set(['regression', 'regression_l1', 'huber', 'fair', 'quantile', 'mape']);
export const MAX_INT32 = 2147483647;
const INFINITE_TEXT = new Map([
  ['inf', Number.POSITIVE_INFINITY],
  ['+inf', Number.POSITIVE_INFINITY],
  ['-inf', Number.NEGATIVE_INFINITY],
]);

export interface ParsedTree {
  numLeaves: number;
  splitFeature: Int32Array;
  threshold: Float64Array;
  decisionType: Int32Array;
  leftChild: Int32Array;
  rightChild: Int32Array;
  leafValue: Float64Array;
  catBoundaries: Int32Array;
  catThreshold: Uint32Array;
}

export interface ParsedLightGbm {
  version: string;
  numClass: number;
  numTreePerIteration: number;
  objective: string;
  transform: LightGbmTransform;
  featureNames: string[];
  trees: ParsedTree[];
}

export function parseLightGbmText(text: string, source = 'model'): ParsedLightGbm {
  const invalid = (message: string, field?: string): MlfpError =>
    new MlfpError('model_invalid', `${source}: ${message}`, { field });
  const unsupported = (message: string, field?: string): MlfpError =>
    new MlfpError('model_unsupported', `${source}: ${message}`, { field });

  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== 'tree') throw invalid('not a LightGBM text model (first line is not "tree")');
  const header = new Map<string, string>();
  let i = 1;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('Tree=') || line === 'end of trees') break;
    const eq = line.indexOf('=');
    if (eq > 0) header.set(line.slice(0, eq), line.slice(eq + 1));
    else if (line.trim() !== '' && line.trim() !== 'average_output')
      throw invalid(`unreadable header line ${i + 1}: ${JSON.stringify(line.slice(0, 80))}`);
    else if (line.trim() === 'average_output')
      throw unsupported('random-forest models (average_output) are not supported', 'boosting');
  }
  const version = header.get('version');
  if (version === undefined) throw invalid('missing header key "version"', 'version');
  if (!SUPPORTED_VERSIONS.has(version))
    throw unsupported(`model format version ${version} is not supported (v3, v4)`, 'version');
  const numClass = headerInt(header, 'num_class', invalid);
  const numTreePerIteration = headerInt(header, 'num_tree_per_iteration', invalid);
  const maxFeatureIdx = headerInt(header, 'max_feature_idx', invalid);
  if (numClass < 1 || numTreePerIteration !== numClass)
    throw unsupported(
      `num_class=${numClass} with num_tree_per_iteration=${numTreePerIteration} is not supported`,
      'num_class',
    );
  const names = (header.get('feature_names') ?? '').split(' ').filter((s) => s !== '');
  if (names.length !== maxFeatureIdx + 1)
    throw invalid(
      `feature_names lists ${names.length} names but max_feature_idx=${maxFeatureIdx}`,
      'feature_names',
    );
  const objectiveText = header.get('objective');
  if (objectiveText === undefined) throw invalid('missing header key "objective"', 'objective');
  const { objective, transform } = parseObjective(objectiveText, numClass, unsupported);

  // the informational parameters block names the boosting type: dart cannot be scored from the text
  const boosting = /^\[boosting: ([^\]]*)\]$/m.exec(text)?.[1];
  if (boosting !== undefined && boosting !== 'gbdt' && boosting !== 'goss')
    throw unsupported(`boosting type "${boosting}" is not supported (gbdt, goss)`, 'boosting');

  const trees: ParsedTree[] = [];
  while (i < lines.length && lines[i] !== 'end of trees') {
    const line = lines[i]!;
    if (!line.startsWith('Tree=')) {
      if (line.trim() !== '') throw invalid(`unexpected line ${i + 1} between trees`);
      i++;
      continue;
    }
    const index = Number(line.slice(5));
    if (index !== trees.length) throw invalid(`tree ${trees.length} is labelled ${line}`);
    const block = new Map<string, string>();
    const start = i + 1;
    for (i = start; i < lines.length && lines[i]!.trim() !== ''; i++) {
      const l = lines[i]!;
      const eq = l.indexOf('=');
      if (eq <= 0) throw invalid(`tree ${index}: unreadable line ${i + 1}`);
      block.set(l.slice(0, eq), l.slice(eq + 1));
    }
    trees.push(parseTree(block, index, maxFeatureIdx, invalid, unsupported));
  }
  if (i >= lines.length) throw invalid('the model is truncated ("end of trees" is missing)');
  if (trees.length === 0) throw invalid('the model has no trees');
  if (trees.length % numTreePerIteration !== 0)
    throw invalid(`${trees.length} trees is not a multiple of num_tree_per_iteration=${numTreePerIteration}`);
  return {
    version,
    numClass,
    numTreePerIteration,
    objective,
    transform,
    featureNames: names,
    trees,
  };
}

function parseObjective(
  text: string,
  numClass: number,
  unsupported: (m: string, f?: string) => MlfpError,
): { objective: string; transform: LightGbmTransform } {
  const [name = '', ...options] = text.trim().split(/\s+/);
  const option = (key: string): string | undefined =>
    options.find((o) => o.startsWith(`${key}:`))?.slice(key.length + 1);
  if (IDENTITY_OBJECTIVES.has(name)) {
    if (options.includes('sqrt'))
      throw unsupported(`objective "${text}" (sqrt-transformed label) is not supported`, 'objective');
    if (numClass !== 1) throw unsupported(`objective ${name} with num_class=${numClass}`, 'objective');
    return { objective: name, transform: { kind: 'identity' } };
  }
  if (name === 'binary') {
    const sigmoid = Number(option('sigmoid') ?? Number.NaN);
    if (!(sigmoid > 0) || numClass !== 1)
      throw unsupported(`objective "${text}" has no usable sigmoid parameter`, 'objective');
    return { objective: name, transform: { kind: 'sigmoid', sigmoid } };
  }
  if (name === 'multiclass') {
    if (numClass < 2) throw unsupported(`objective "${text}" with num_class=${numClass}`, 'objective');
    return { objective: name, transform: { kind: 'softmax' } };
  }
  throw unsupported(
    `objective "${name}" is not supported (regression, binary, multiclass and the raw-score regressions ${[...IDENTITY_OBJECTIVES].join(', ')})`,
    'objective',
  );
}

function headerInt(
  header: Map<string, string>,
  key: string,
  invalid: (m: string, f?: string) => MlfpError,
): number {
  const text = header.get(key);
  if (text === undefined) throw invalid(`missing header key "${key}"`, key);
  const value = Number(text);
  if (!Number.isInteger(value) || text.trim() === '')
    throw invalid(`header key "${key}" is not an integer: ${JSON.stringify(text)}`, key);
  return value;
}

function numbers(
  block: Map<string, string>,
  key: string,
  count: number,
  tree: number,
  invalid: (m: string, f?: string) => MlfpError,
  integer: boolean,
  allowInfinite = false,
): number[] {
  const text = block.get(key);
  if (text === undefined) throw invalid(`tree ${tree}: missing "${key}"`, key);
  const parts = text.split(' ').filter((s) => s !== '');
  if (parts.length !== count)
    throw invalid(`tree ${tree}: "${key}" has ${parts.length} values, expected ${count}`, key);
  return parts.map((p) => {
    // C++ streams print infinite thresholds as inf / -inf
    const v = allowInfinite && INFINITE_TEXT.has(p) ? INFINITE_TEXT.get(p)! : Number(p);
    if (!(Number.isFinite(v) || (allowInfinite && INFINITE_TEXT.has(p))) || (integer && !Number.isInteger(v)))
      throw invalid(`tree ${tree}: "${key}" holds a bad number ${JSON.stringify(p)}`, key);
    return v;
  });
}

function parseTree(
  block: Map<string, string>,
  tree: number,
  maxFeatureIdx: number,
  invalid: (m: string, f?: string) => MlfpError,
  unsupported: (m: string, f?: string) => MlfpError,
): ParsedTree {
  const leavesText = block.get('num_leaves');
  const numLeaves = Number(leavesText);
  if (!Number.isInteger(numLeaves) || numLeaves < 1)
    throw invalid(`tree ${tree}: bad num_leaves ${JSON.stringify(leavesText)}`, 'num_leaves');
  if (block.get('is_linear') === '1')
    throw unsupported(`tree ${tree} is a linear tree (linear_tree=true is not supported)`, 'is_linear');
  const inner = numLeaves - 1;
  const splitFeature = numbers(block, 'split_feature', inner, tree, invalid, true);
  const threshold = numbers(block, 'threshold', inner, tree, invalid, false, true);
  const decisionType = numbers(block, 'decision_type', inner, tree, invalid, true);
  const leftChild = numbers(block, 'left_child', inner, tree, invalid, true);
  const rightChild = numbers(block, 'right_child', inner, tree, invalid, true);
  const leafValue = numbers(block, 'leaf_value', numLeaves, tree, invalid, false);
  const numCat = Number(block.get('num_cat') ?? '0');
  if (!Number.isInteger(numCat) || numCat < 0) throw invalid(`tree ${tree}: bad num_cat`, 'num_cat');
  let catBoundaries: number[] = [0];
  let catThreshold: number[] = [];
  if (numCat > 0) {
    catBoundaries = numbers(block, 'cat_boundaries', numCat + 1, tree, invalid, true);
    const words = catBoundaries[numCat]!;
    catThreshold = numbers(block, 'cat_threshold', words, tree, invalid, true);
    for (let c = 0; c < numCat; c++)
      if (catBoundaries[c]! > catBoundaries[c + 1]! || catBoundaries[0] !== 0)
        throw invalid(`tree ${tree}: cat_boundaries are not increasing`, 'cat_boundaries');
    if (catThreshold.some((w) => w < 0 || w > 0xffffffff))
      throw invalid(`tree ${tree}: cat_threshold word out of range`, 'cat_threshold');
  }
  for (let n = 0; n < inner; n++) {
    const f = splitFeature[n]!;
    if (f < 0 || f > maxFeatureIdx)
      throw invalid(`tree ${tree} node ${n}: split_feature ${f} outside 0..${maxFeatureIdx}`);
    const d = decisionType[n]!;
    if (d < 0 || d > 15 || ((d >> 2) & 3) === 3)
      throw invalid(`tree ${tree} node ${n}: decision_type ${d} is not a LightGBM decision type`);
    if ((d & 1) !== 0) {
      const c = threshold[n]!;
      if (!Number.isInteger(c) || c < 0 || c >= numCat)
        throw invalid(`tree ${tree} node ${n}: categorical threshold ${c} outside 0..${numCat - 1}`);
    }
    // children are created after their parent, so a child index is always larger: this rules out
    // cycles in a malformed file
    for (const c of [leftChild[n]!, rightChild[n]!]) {
      if (c >= 0 ? c <= n || c >= inner : ~c >= numLeaves)
        throw invalid(`tree ${tree} node ${n}: child ${c} is out of range`);
    }
  }
  return {
    numLeaves,
    splitFeature: Int32Array.from(splitFeature),
    threshold: Float64Array.from(threshold),
    decisionType: Int32Array.from(decisionType),
    leftChild: Int32Array.from(leftChild),
    rightChild: Int32Array.from(rightChild),
    leafValue: Float64Array.from(leafValue),
    catBoundaries: Int32Array.from(catBoundaries),
    catThreshold: Uint32Array.from(catThreshold),
  };
}

// LightGBM text models (v3 and v4 headers) parsed and compiled into flat typed arrays, then evaluated
// the way LightGBM's own predictor does: same split rules, trees summed in file order in float64, so
// raw scores are bit-identical to LGBM_BoosterPredictForMat.

import { MlfpError } from '../../errors.js';
import {
  compileTrees,
  SPLIT_CATEGORICAL,
  SPLIT_LEQ,
  SPLIT_LEQ_ZERO_MISSING,
  type CodegenTree,
  type CompiledTrees,
} from './tree-codegen.js';

/** LightGBM's kZeroThreshold (the C++ float 1e-35f as a double): smaller magnitudes read as 0. */
export const LIGHTGBM_ZERO_THRESHOLD = Math.fround(1e-35);

export type LightGbmTransform =
  { kind: 'identity' } | { kind: 'sigmoid'; sigmoid: number } | { kind: 'softmax' };

/** Node kinds after compilation: the common case (numerical, NaN routed by a precomputed child) first. */
const NODE_NUMERICAL = 0;
const NODE_ZERO_MISSING = 1;
const NODE_CATEGORICAL = 2;

const SUPPORTED_VERSIONS = new Set(['v3', 'v4']);
/** Objectives whose output is the raw score (LightGBM applies no transform to them). */
const IDENTITY_OBJECTIVES = new Set(['regression', 'regression_l1', 'huber', 'fair', 'quantile', 'mape']);
const MAX_INT32 = 2147483647;
const INFINITE_TEXT = new Map([
  ['inf', Number.POSITIVE_INFINITY],
  ['+inf', Number.POSITIVE_INFINITY],
  ['-inf', Number.NEGATIVE_INFINITY],
]);

/** A parsed, compiled LightGBM model. `predictRaw` / `predict` allocate nothing. */
export class LightGbmModel {
  readonly featureNames: readonly string[];
  readonly inputWidth: number;
  /** number of model outputs per row: 1 for regression and binary, K for multiclass */
  readonly outputWidth: number;
  readonly objective: string;
  readonly transform: LightGbmTransform;
  readonly treeCount: number;
  readonly version: string;

  private readonly treeRoot: Int32Array;
  private readonly treeClass: Int32Array;
  /** index of each tree's first leaf in leafValue */
  private readonly leafStart: Int32Array;
  private readonly nodeFeature: Int32Array;
  private readonly nodeThreshold: Float64Array;
  private readonly nodeKind: Uint8Array;
  private readonly nodeLeft: Int32Array;
  private readonly nodeRight: Int32Array;
  /** numerical nodes: the child a NaN goes to; zero-missing nodes: the default child */
  private readonly nodeMissing: Int32Array;
  /** categorical nodes: bitset start (in catWords) and length */
  private readonly nodeCatStart: Int32Array;
  private readonly nodeCatLength: Int32Array;
  private readonly catWords: Uint32Array;
  private readonly leafValue: Float64Array;
  private readonly row: Float64Array;
  /** generated code for the whole ensemble; undefined when interpreting */
  private readonly compiled: CompiledTrees | undefined;

  /** `compile: false` walks the typed arrays instead of generating code (slower; same results). */
  constructor(parsed: ParsedLightGbm, options: { compile?: boolean } = {}) {
    this.featureNames = parsed.featureNames;
    this.inputWidth = parsed.featureNames.length;
    this.outputWidth = parsed.numClass;
    this.objective = parsed.objective;
    this.transform = parsed.transform;
    this.treeCount = parsed.trees.length;
    this.version = parsed.version;
    let nodes = 0;
    let leaves = 0;
    let words = 0;
    for (const tree of parsed.trees) {
      nodes += tree.numLeaves - 1;
      leaves += tree.numLeaves;
      words += tree.catThreshold.length;
    }
    this.treeRoot = new Int32Array(this.treeCount);
    this.treeClass = new Int32Array(this.treeCount);
    this.leafStart = new Int32Array(this.treeCount);
    for (let t = 1; t < this.treeCount; t++)
      this.leafStart[t] = this.leafStart[t - 1]! + parsed.trees[t - 1]!.numLeaves;
    this.nodeFeature = new Int32Array(nodes);
    this.nodeThreshold = new Float64Array(nodes);
    this.nodeKind = new Uint8Array(nodes);
    this.nodeLeft = new Int32Array(nodes);
    this.nodeRight = new Int32Array(nodes);
    this.nodeMissing = new Int32Array(nodes);
    this.nodeCatStart = new Int32Array(nodes);
    this.nodeCatLength = new Int32Array(nodes);
    this.catWords = new Uint32Array(words);
    this.leafValue = new Float64Array(leaves);
    this.row = new Float64Array(this.inputWidth);

    let nodeBase = 0;
    let leafBase = 0;
    let wordBase = 0;
    parsed.trees.forEach((tree, t) => {
      this.treeClass[t] = t % parsed.numTreePerIteration;
      for (let leaf = 0; leaf < tree.numLeaves; leaf++)
        this.leafValue[leafBase + leaf] = tree.leafValue[leaf]!;
      this.catWords.set(tree.catThreshold, wordBase);
      // children: >= 0 is a node of this tree, < 0 is leaf ~child; both made global here
      const child = (c: number): number => (c >= 0 ? nodeBase + c : ~(leafBase + ~c));
      this.treeRoot[t] = tree.numLeaves === 1 ? ~leafBase : nodeBase;
      for (let n = 0; n < tree.numLeaves - 1; n++) {
        const at = nodeBase + n;
        const decision = tree.decisionType[n]!;
        const threshold = tree.threshold[n]!;
        const left = child(tree.leftChild[n]!);
        const right = child(tree.rightChild[n]!);
        const defaultLeft = (decision & 2) !== 0;
        const missingType = (decision >> 2) & 3;
        this.nodeFeature[at] = tree.splitFeature[n]!;
        this.nodeThreshold[at] = threshold;
        this.nodeLeft[at] = left;
        this.nodeRight[at] = right;
        if ((decision & 1) !== 0) {
          const category = threshold; // index into cat_boundaries, validated by the parser
          this.nodeKind[at] = NODE_CATEGORICAL;
          this.nodeCatStart[at] = wordBase + tree.catBoundaries[category]!;
          this.nodeCatLength[at] = tree.catBoundaries[category + 1]! - tree.catBoundaries[category]!;
        } else if (missingType === 1) {
          this.nodeKind[at] = NODE_ZERO_MISSING;
          this.nodeMissing[at] = defaultLeft ? left : right;
        } else {
          this.nodeKind[at] = NODE_NUMERICAL;
          // missing type NaN: NaN takes the default side; None: NaN is read as 0.0 and compared
          this.nodeMissing[at] =
            missingType === 2 ? (defaultLeft ? left : right) : 0 <= threshold ? left : right;
        }
      }
      nodeBase += tree.numLeaves - 1;
      leafBase += tree.numLeaves;
      wordBase += tree.catThreshold.length;
    });
    this.compiled =
      options.compile === false
        ? undefined
        : compileTrees(
            parsed.trees.map((tree, t) => this.codegenTree(tree, t)),
            { float32Sum: false, catWords: this.catWords, rowType: 'float64', width: this.inputWidth },
          );
  }

  /** Whether scoring runs generated code (true) or walks the typed arrays. */
  get isCompiled(): boolean {
    return this.compiled !== undefined;
  }

  /** The tree in the code generator's layout: internal nodes first, then leaves. */
  private codegenTree(tree: ParsedTree, t: number): CodegenTree {
    const inner = tree.numLeaves - 1;
    const size = inner + tree.numLeaves;
    const leaf = new Uint8Array(size);
    const value = new Float64Array(size);
    const feature = new Int32Array(size);
    const threshold = new Float64Array(size);
    const left = new Int32Array(size);
    const right = new Int32Array(size);
    const missingLeft = new Uint8Array(size);
    const split = new Uint8Array(size);
    const catStart = new Int32Array(size);
    const catLength = new Int32Array(size);
    const root = this.treeRoot[t]!;
    const leafBase = this.leafStart[t]!;
    const nodeOf = (global: number): number => (global >= 0 ? global - root : inner + (~global - leafBase));
    for (let l = 0; l < tree.numLeaves; l++) {
      leaf[inner + l] = 1;
      value[inner + l] = tree.leafValue[l]!;
    }
    for (let n = 0; n < inner; n++) {
      const at = root + n;
      const kind = this.nodeKind[at]!;
      feature[n] = this.nodeFeature[at]!;
      threshold[n] = this.nodeThreshold[at]!;
      left[n] = nodeOf(this.nodeLeft[at]!);
      right[n] = nodeOf(this.nodeRight[at]!);
      missingLeft[n] = this.nodeMissing[at] === this.nodeLeft[at] ? 1 : 0;
      split[n] =
        kind === NODE_CATEGORICAL
          ? SPLIT_CATEGORICAL
          : kind === NODE_ZERO_MISSING
            ? SPLIT_LEQ_ZERO_MISSING
            : SPLIT_LEQ;
      catStart[n] = this.nodeCatStart[at]!;
      catLength[n] = this.nodeCatLength[at]!;
    }
    const output = this.treeClass[t]!;
    return { output, leaf, value, feature, threshold, left, right, missingLeft, split, catStart, catLength };
  }


  /**
   * Raw scores (sum of leaf values per class, in file order, from 0.0) of `rows` rows of `inputWidth`
   * values starting at `input[inputOffset]`, into `out[outOffset + row * outputWidth + class]`.
   */
  predictRaw(
    input: Float64Array,
    inputOffset: number,
    rows: number,
    out: Float64Array,
    outOffset: number,
  ): void {
    const width = this.inputWidth;
    const classes = this.outputWidth;
    const row = this.row;
    const trees = this.treeCount;
    const roots = this.treeRoot;
    const treeClass = this.treeClass;
    const leafValue = this.leafValue;
    for (let r = 0; r < rows; r++) {
      const base = inputOffset + r * width;
      for (let f = 0; f < width; f++) {
        const v = input[base + f]!;
        // LGBM_BoosterPredictForMat keeps a value only when |v| > kZeroThreshold or v is NaN
        row[f] = v > LIGHTGBM_ZERO_THRESHOLD || v < -LIGHTGBM_ZERO_THRESHOLD || v !== v ? v : 0;
      }
      const outBase = outOffset + r * classes;
      for (let k = 0; k < classes; k++) out[outBase + k] = 0;
      if (this.compiled !== undefined) {
        this.compiled(row, out, outBase);
      } else if (classes === 1) {
        let sum = 0;
        for (let t = 0; t < trees; t++) sum += leafValue[~this.leaf(roots[t]!, row)]!;
        out[outBase] = sum;
      } else {
        for (let t = 0; t < trees; t++) {
          const at = outBase + treeClass[t]!;
          out[at] = out[at]! + leafValue[~this.leaf(roots[t]!, row)]!;
        }
      }
    }
  }

  /** Like predictRaw, then LightGBM's output transform (sigmoid for binary, softmax for multiclass). */
  predict(
    input: Float64Array,
    inputOffset: number,
    rows: number,
    out: Float64Array,
    outOffset: number,
  ): void {
    this.predictRaw(input, inputOffset, rows, out, outOffset);
    const transform = this.transform;
    if (transform.kind === 'identity') return;
    const classes = this.outputWidth;
    for (let r = 0; r < rows; r++) {
      const base = outOffset + r * classes;
      if (transform.kind === 'sigmoid') {
        out[base] = 1 / (1 + Math.exp(-transform.sigmoid * out[base]!));
      } else {
        softmaxInPlace(out, base, classes);
      }
    }
  }

  /** Walks one tree from `node` to a leaf; returns ~globalLeafIndex. */
  private leaf(start: number, row: Float64Array): number {
    const kind = this.nodeKind;
    const feature = this.nodeFeature;
    const threshold = this.nodeThreshold;
    const left = this.nodeLeft;
    const right = this.nodeRight;
    const missing = this.nodeMissing;
    let node = start;
    while (node >= 0) {
      const v = row[feature[node]!]!;
      if (kind[node] === NODE_NUMERICAL) {
        node = v <= threshold[node]! ? left[node]! : v === v ? right[node]! : missing[node]!;
      } else if (kind[node] === NODE_ZERO_MISSING) {
        // NaN reads as 0.0 here, and 0.0 is the missing value
        node = v === 0 || v !== v ? missing[node]! : v <= threshold[node]! ? left[node]! : right[node]!;
      } else {
        node = this.categorical(node, v) ? left[node]! : right[node]!;
      }
    }
    return node;
  }

  private categorical(node: number, v: number): boolean {
    // NaN, negatives and values past int32 (C++ static_cast<int> gives INT_MIN there) go right
    if (!(v > -1 && v < MAX_INT32 + 1)) return false;
    const category = Math.trunc(v);
    const word = category >>> 5;
    if (word >= this.nodeCatLength[node]!) return false;
    return ((this.catWords[this.nodeCatStart[node]! + word]! >>> (category & 31)) & 1) === 1;
  }
}

/** LightGBM's Common::Softmax: subtract the max, exp, divide by the float64 sum. */
export function softmaxInPlace(values: Float64Array, offset: number, count: number): void {
  let max = values[offset]!;
  for (let i = 1; i < count; i++) max = Math.max(values[offset + i]!, max);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const e = Math.exp(values[offset + i]! - max);
    values[offset + i] = e;
    sum += e;
  }
  for (let i = 0; i < count; i++) values[offset + i] = values[offset + i]! / sum;
}

interface ParsedTree {
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

/** Parses and compiles a LightGBM text model; throws model_invalid / model_unsupported naming the problem. */
export function loadLightGbmModel(
  text: string,
  source = 'model',
  options: { compile?: boolean } = {},
): LightGbmModel {
  return new LightGbmModel(parseLightGbmText(text, source), options);
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

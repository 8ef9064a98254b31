// LightGBM text models (v3 and v4 headers) parsed and compiled into flat typed arrays, then evaluated
// the way LightGBM's own predictor does: same split rules, trees summed in file order in float64, so
// raw scores are bit-identical to LGBM_BoosterPredictForMat.

import {
  MAX_INT32,
  parseLightGbmText,
  type LightGbmTransform,
  type ParsedLightGbm,
  type ParsedTree,
} from './lightgbm-text.js';
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

export type { LightGbmTransform, ParsedLightGbm } from './lightgbm-text.js';
export { parseLightGbmText };

/** Node kinds after compilation: the common case (numerical, NaN routed by a precomputed child) first. */
const NODE_NUMERICAL = 0;
const NODE_ZERO_MISSING = 1;
const NODE_CATEGORICAL = 2;

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

/** Parses and compiles a LightGBM text model; throws model_invalid / model_unsupported naming the problem. */
export function loadLightGbmModel(
  text: string,
  source = 'model',
  options: { compile?: boolean } = {},
): LightGbmModel {
  return new LightGbmModel(parseLightGbmText(text, source), options);
}

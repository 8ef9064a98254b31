// XGBoost JSON models (`save_model('m.json')`, XGBoost >= 1.0, gbtree) compiled into flat typed arrays
// and evaluated in float32 as XGBoost's CPU predictor does: inputs cast to float, `x < split` goes left,
// missing values take the default direction, leaf values added one tree at a time to a float margin.

import { MlfpError } from '../../errors.js';
import { compileTrees, SPLIT_LT, type CompiledTrees } from './tree-codegen.js';

export type XgboostObjective = 'reg:squarederror' | 'binary:logistic' | 'multi:softprob';
const OBJECTIVES: ReadonlySet<string> = new Set<XgboostObjective>([
  'reg:squarederror',
  'binary:logistic',
  'multi:softprob',
]);

const fround = Math.fround;
/** More inputs than this is a damaged file, not a model (and would allocate gigabytes). */
const MAX_FEATURES = 1_000_000;

/** A parsed, compiled XGBoost model. `predictMargin` / `predict` allocate nothing. */
export class XgboostModel {
  /** the model's own feature names, or undefined when it was trained without names */
  readonly featureNames: readonly string[] | undefined;
  readonly inputWidth: number;
  /** 1 for regression and binary (probability of class 1), K for multi:softprob */
  readonly outputWidth: number;
  readonly objective: XgboostObjective;
  readonly treeCount: number;
  readonly version: readonly number[];
  /** the starting margin, as XGBoost derives it from base_score (float32) */
  readonly baseMargin: number;

  private readonly treeRoot: Int32Array;
  private readonly treeGroup: Int32Array;
  private readonly nodeFeature: Int32Array;
  private readonly nodeThreshold: Float32Array;
  private readonly nodeLeft: Int32Array;
  private readonly nodeRight: Int32Array;
  private readonly nodeDefault: Int32Array;
  private readonly row: Float32Array;
  /** generated code for the whole ensemble; undefined when interpreting */
  private readonly compiled: CompiledTrees | undefined;

  /** `compile: false` walks the typed arrays instead of generating code (slower; same results). */
  constructor(parsed: ParsedXgboost, options: { compile?: boolean } = {}) {
    this.featureNames = parsed.featureNames;
    this.inputWidth = parsed.numFeature;
    this.objective = parsed.objective;
    this.outputWidth = parsed.objective === 'multi:softprob' ? parsed.numClass : 1;
    this.treeCount = parsed.trees.length;
    this.version = parsed.version;
    this.baseMargin = baseMargin(parsed.objective, parsed.baseScore);
    let nodes = 0;
    for (const tree of parsed.trees) nodes += tree.left.length;
    this.treeRoot = new Int32Array(this.treeCount);
    this.treeGroup = Int32Array.from(parsed.treeInfo);
    this.nodeFeature = new Int32Array(nodes);
    this.nodeThreshold = new Float32Array(nodes);
    this.nodeLeft = new Int32Array(nodes);
    this.nodeRight = new Int32Array(nodes);
    this.nodeDefault = new Int32Array(nodes);
    this.row = new Float32Array(this.inputWidth);
    let base = 0;
    parsed.trees.forEach((tree, t) => {
      this.treeRoot[t] = base;
      for (let n = 0; n < tree.left.length; n++) {
        const at = base + n;
        // split_conditions holds the threshold of a split and the value of a leaf
        this.nodeThreshold[at] = tree.condition[n]!;
        if (tree.left[n] === -1) {
          this.nodeLeft[at] = -1;
          continue;
        }
        this.nodeFeature[at] = tree.feature[n]!;
        this.nodeLeft[at] = base + tree.left[n]!;
        this.nodeRight[at] = base + tree.right[n]!;
        this.nodeDefault[at] = tree.defaultLeft[n] ? base + tree.left[n]! : base + tree.right[n]!;
      }
      base += tree.left.length;
    });
    this.compiled =
      options.compile === false
        ? undefined
        : compileTrees(
            parsed.trees.map((tree, t) => ({
              output: parsed.treeInfo[t]!,
              leaf: Uint8Array.from(tree.left, (l) => (l === -1 ? 1 : 0)),
              value: tree.condition,
              feature: tree.feature,
              threshold: tree.condition,
              left: tree.left,
              right: tree.right,
              missingLeft: tree.defaultLeft,
              split: new Uint8Array(tree.left.length).fill(SPLIT_LT),
            })),
            { float32Sum: true, rowType: 'float32', width: this.inputWidth },
          );
  }

  /** Whether scoring runs generated code (true) or walks the typed arrays. */
  get isCompiled(): boolean {
    return this.compiled !== undefined;
  }

  /** Margins (base margin + leaf values, float32 additions in tree order) into out[outOffset + row * outputWidth + group]. */
  predictMargin(
    input: Float64Array,
    inputOffset: number,
    rows: number,
    out: Float64Array,
    outOffset: number,
  ): void {
    const width = this.inputWidth;
    const groups = this.outputWidth;
    const row = this.row;
    const trees = this.treeCount;
    const roots = this.treeRoot;
    const group = this.treeGroup;
    const feature = this.nodeFeature;
    const threshold = this.nodeThreshold;
    const left = this.nodeLeft;
    const right = this.nodeRight;
    const missing = this.nodeDefault;
    const start = this.baseMargin;
    for (let r = 0; r < rows; r++) {
      // XGBoost's DMatrix holds float32; NaN is its default missing value
      const rowBase = inputOffset + r * width;
      for (let f = 0; f < width; f++) row[f] = input[rowBase + f]!;
      const outBase = outOffset + r * groups;
      for (let k = 0; k < groups; k++) out[outBase + k] = start;
      if (this.compiled !== undefined) {
        this.compiled(row, out, outBase);
        continue;
      }
      for (let t = 0; t < trees; t++) {
        let node = roots[t]!;
        while (left[node]! !== -1) {
          const v = row[feature[node]!]!;
          node = v < threshold[node]! ? left[node]! : v === v ? right[node]! : missing[node]!;
        }
        const at = outBase + group[t]!;
        out[at] = fround(out[at]! + threshold[node]!);
      }
    }
  }

  /** Margins, then XGBoost's float32 sigmoid (binary:logistic) or softmax (multi:softprob). */
  predict(
    input: Float64Array,
    inputOffset: number,
    rows: number,
    out: Float64Array,
    outOffset: number,
  ): void {
    this.predictMargin(input, inputOffset, rows, out, outOffset);
    if (this.objective === 'reg:squarederror') return;
    const groups = this.outputWidth;
    for (let r = 0; r < rows; r++) {
      const base = outOffset + r * groups;
      if (this.objective === 'binary:logistic') {
        out[base] = fround(1 / fround(1 + fround(Math.exp(-out[base]!))));
      } else {
        softmaxFloat32(out, base, groups);
      }
    }
  }
}

/** XGBoost's common::Softmax: float max and exps, double sum, float division. */
function softmaxFloat32(values: Float64Array, offset: number, count: number): void {
  let max = values[offset]!;
  for (let i = 1; i < count; i++) max = Math.max(values[offset + i]!, max);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const e = fround(Math.exp(fround(values[offset + i]! - max)));
    values[offset + i] = e;
    sum += e;
  }
  const total = fround(sum);
  for (let i = 0; i < count; i++) values[offset + i] = fround(values[offset + i]! / total);
}

function baseMargin(objective: XgboostObjective, baseScore: number): number {
  const score = fround(baseScore);
  // binary:logistic stores base_score as a probability; its margin is the logit (ProbToMargin)
  if (objective === 'binary:logistic') return fround(-Math.log(fround(fround(1 / score) - 1)));
  return score;
}

interface ParsedTree {
  left: Int32Array;
  right: Int32Array;
  feature: Int32Array;
  condition: Float32Array;
  defaultLeft: Uint8Array;
}

export interface ParsedXgboost {
  version: number[];
  objective: XgboostObjective;
  baseScore: number;
  numClass: number;
  numFeature: number;
  featureNames: string[] | undefined;
  treeInfo: number[];
  trees: ParsedTree[];
}

export function loadXgboostModel(
  text: string,
  source = 'model',
  options: { compile?: boolean } = {},
): XgboostModel {
  return new XgboostModel(parseXgboostJson(text, source), options);
}

type Json = Record<string, unknown>;

/** Parses an XGBoost JSON model; throws model_invalid / model_unsupported naming the problem. */
export function parseXgboostJson(text: string, source = 'model'): ParsedXgboost {
  const invalid = (message: string, field?: string): MlfpError =>
    new MlfpError('model_invalid', `${source}: ${message}`, { field });
  const unsupported = (message: string, field?: string): MlfpError =>
    new MlfpError('model_unsupported', `${source}: ${message}`, { field });
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    throw new MlfpError('model_invalid', `${source}: not JSON (UBJSON and binary models are not supported)`, {
      cause: error,
    });
  }
  const object = (value: unknown, path: string): Json => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw invalid(`"${path}" is missing or not an object`, path);
    return value as Json;
  };
  const array = (value: unknown, path: string): unknown[] => {
    if (!Array.isArray(value)) throw invalid(`"${path}" is missing or not an array`, path);
    return value;
  };
  const numberOf = (value: unknown, path: string): number => {
    const v = typeof value === 'string' ? Number(value) : value;
    if (typeof v !== 'number' || !Number.isFinite(v) || value === '')
      throw invalid(`"${path}" is not a number: ${JSON.stringify(value)}`, path);
    return v;
  };

  const top = object(root, '');
  const version = array(top.version, 'version').map((v, i) => numberOf(v, `version[${i}]`));
  if ((version[0] ?? 0) < 1)
    throw unsupported(`XGBoost ${version.join('.')} JSON is not supported (>= 1.0)`, 'version');
  const learner = object(top.learner, 'learner');
  const booster = object(learner.gradient_booster, 'learner.gradient_booster');
  if (booster.name !== 'gbtree')
    throw unsupported(`booster "${String(booster.name)}" is not supported (gbtree)`, 'booster');
  const objectiveName = String(object(learner.objective, 'learner.objective').name);
  if (!OBJECTIVES.has(objectiveName))
    throw unsupported(
      `objective "${objectiveName}" is not supported (${[...OBJECTIVES].join(', ')})`,
      'objective',
    );
  const objective = objectiveName as XgboostObjective;
  const params = object(learner.learner_model_param, 'learner.learner_model_param');
  // XGBoost 3 writes a vector, "[5E-1]"; one value is all a single-target model has
  const baseText = params.base_score;
  const baseScore = numberOf(
    typeof baseText === 'string' && /^\[[^,\]]*\]$/.test(baseText) ? baseText.slice(1, -1) : baseText,
    'learner_model_param.base_score',
  );
  const numFeature = numberOf(params.num_feature, 'learner_model_param.num_feature');
  const numClass = numberOf(params.num_class ?? '0', 'learner_model_param.num_class');
  const numTarget = numberOf(params.num_target ?? '1', 'learner_model_param.num_target');
  if (numTarget !== 1) throw unsupported(`multi-target models (num_target=${numTarget})`, 'num_target');
  if (!Number.isInteger(numFeature) || numFeature < 1 || numFeature > MAX_FEATURES)
    throw invalid(`num_feature ${numFeature} is not an integer in 1..${MAX_FEATURES}`, 'num_feature');
  if (objective === 'binary:logistic' && !(baseScore > 0 && baseScore < 1))
    throw invalid(`base_score ${baseScore} is not a probability`, 'base_score');
  const groups = objective === 'multi:softprob' ? numClass : 1;
  if (objective === 'multi:softprob' && !(Number.isInteger(numClass) && numClass >= 2))
    throw invalid(`multi:softprob with num_class=${numClass}`, 'num_class');

  const names =
    learner.feature_names === undefined ? [] : array(learner.feature_names, 'learner.feature_names');
  const featureNames = names.length === 0 ? undefined : names.map(String);
  if (featureNames !== undefined && featureNames.length !== numFeature)
    throw invalid(`${featureNames.length} feature names for num_feature=${numFeature}`, 'feature_names');
  const types =
    learner.feature_types === undefined ? [] : array(learner.feature_types, 'learner.feature_types');
  if (types.some((t) => t === 'c'))
    throw unsupported('categorical features are not supported', 'feature_types');

  const model = object(booster.model, 'gradient_booster.model');
  const treesJson = array(model.trees, 'gradient_booster.model.trees');
  const treeInfo = array(model.tree_info, 'gradient_booster.model.tree_info').map((g, i) =>
    numberOf(g, `tree_info[${i}]`),
  );
  if (treeInfo.length !== treesJson.length)
    throw invalid(`tree_info has ${treeInfo.length} entries for ${treesJson.length} trees`, 'tree_info');
  if (treesJson.length === 0) throw invalid('the model has no trees', 'trees');
  treeInfo.forEach((g, i) => {
    if (!Number.isInteger(g) || g < 0 || g >= groups)
      throw invalid(`tree ${i} belongs to output group ${g}, outside 0..${groups - 1}`, 'tree_info');
  });
  const trees = treesJson.map((value, t) => {
    const tree = object(value, `trees[${t}]`);
    const param = object(tree.tree_param, `trees[${t}].tree_param`);
    if (numberOf(param.size_leaf_vector ?? '0', 'size_leaf_vector') > 1)
      throw unsupported(`tree ${t} has vector leaves`, 'size_leaf_vector');
    const ints = (key: string): number[] =>
      array(tree[key], `trees[${t}].${key}`).map((v, i) => {
        const n = numberOf(v, `trees[${t}].${key}[${i}]`);
        if (!Number.isInteger(n)) throw invalid(`tree ${t}: ${key}[${i}] is not an integer`, key);
        return n;
      });
    const left = ints('left_children');
    const right = ints('right_children');
    const feature = ints('split_indices');
    const defaultLeft = ints('default_left');
    const condition = array(tree.split_conditions, `trees[${t}].split_conditions`).map((v, i) =>
      numberOf(v, `trees[${t}].split_conditions[${i}]`),
    );
    const n = left.length;
    if (n === 0) throw invalid(`tree ${t} has no nodes`, 'left_children');
    for (const [key, list] of [
      ['right_children', right],
      ['split_indices', feature],
      ['default_left', defaultLeft],
      ['split_conditions', condition],
    ] as const)
      if (list.length !== n)
        throw invalid(`tree ${t}: ${key} has ${list.length} entries, expected ${n}`, key);
    if (tree.split_type !== undefined && array(tree.split_type, 'split_type').some((s) => s !== 0))
      throw unsupported(`tree ${t} has categorical splits`, 'split_type');
    for (let i = 0; i < n; i++) {
      if (left[i] === -1) continue;
      // a child always has a larger id than its parent in XGBoost's node numbering: rules out cycles
      if (left[i]! <= i || left[i]! >= n || right[i]! <= i || right[i]! >= n)
        throw invalid(`tree ${t} node ${i}: children ${left[i]}, ${right[i]} out of range`);
      if (feature[i]! < 0 || feature[i]! >= numFeature)
        throw invalid(`tree ${t} node ${i}: split_indices ${feature[i]} outside 0..${numFeature - 1}`);
    }
    return {
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      feature: Int32Array.from(feature),
      condition: Float32Array.from(condition),
      defaultLeft: Uint8Array.from(defaultLeft),
    };
  });
  return {
    version,
    objective,
    baseScore,
    numClass,
    numFeature,
    featureNames,
    treeInfo,
    trees,
  };
}

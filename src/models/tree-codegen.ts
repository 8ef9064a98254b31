// Compiles decision trees into JavaScript source (nested ifs with the thresholds and leaf values as
// literals), which V8 turns into straight compare-and-branch code: ~4x the speed of walking typed arrays.
// The source holds only numbers printed by this module (validated finite or infinite doubles, integers).

/** One tree in a neutral layout: node 0 is the root; a leaf has `leaf[n] = 1` and its value in `value[n]`. */
export interface CodegenTree {
  /** which accumulator (class / output group) the tree adds to */
  output: number;
  leaf: ArrayLike<number>;
  value: ArrayLike<number>;
  feature: ArrayLike<number>;
  threshold: ArrayLike<number>;
  left: ArrayLike<number>;
  right: ArrayLike<number>;
  /** 1 when a missing value (NaN) takes the left branch */
  missingLeft: ArrayLike<number>;
  /** SPLIT_* per node */
  split: ArrayLike<number>;
  /** categorical nodes: start and length (in 32-bit words) of the bitset in the shared word array */
  catStart?: ArrayLike<number>;
  catLength?: ArrayLike<number>;
}

/** `x <= t` goes left (LightGBM); NaN goes where missingLeft says */
export const SPLIT_LEQ = 0;
/** `x < t` goes left (XGBoost); NaN goes where missingLeft says */
export const SPLIT_LT = 1;
/** LightGBM missing type Zero: 0 and NaN take the missing side, else `x <= t` */
export const SPLIT_LEQ_ZERO_MISSING = 2;
/** LightGBM categorical bitset: left when the category's bit is set */
export const SPLIT_CATEGORICAL = 3;

export type CompiledTrees = (row: ArrayLike<number>, acc: Float64Array, offset: number) => void;

export interface CodegenOptions {
  /** XGBoost adds each leaf into a float32 margin */
  float32Sum: boolean;
  /** bitset words for SPLIT_CATEGORICAL nodes */
  catWords?: Uint32Array;
}

/** Nodes per generated function: keeps each under V8's size limit for optimising compilation. */
const MAX_NODES_PER_FUNCTION = 1000;
/** Deeper trees are left to the interpreter (the generator recurses once per level). */
const MAX_DEPTH = 400;
const MAX_INT32 = 2147483647;

function literal(value: number): string {
  if (Number.isNaN(value)) throw new RangeError('NaN literal');
  if (value === 0) return '0';
  return String(value);
}

/**
 * Compiles trees (summed in the given order into `acc[offset + tree.output]`) into functions; returns
 * undefined when a tree is too deep to compile (the caller then interprets).
 */
export function compileTrees(
  trees: readonly CodegenTree[],
  options: CodegenOptions,
): CompiledTrees | undefined {
  const chunks: string[] = [];
  let body: string[] = [];
  let nodes = 0;
  for (const tree of trees) {
    const lines: string[] = [];
    if (!emitNode(tree, 0, 0, lines, options)) return undefined;
    body.push(lines.join('\n'));
    nodes += tree.leaf.length;
    if (nodes >= MAX_NODES_PER_FUNCTION) {
      chunks.push(body.join('\n'));
      body = [];
      nodes = 0;
    }
  }
  if (body.length > 0) chunks.push(body.join('\n'));
  const words = options.catWords ?? new Uint32Array(0);
  const inBitset = (v: number, start: number, length: number): boolean => {
    // NaN, negatives and values past int32 (C++ static_cast<int> gives INT_MIN there) are not members
    if (!(v > -1 && v < MAX_INT32 + 1)) return false;
    const category = Math.trunc(v);
    const word = category >>> 5;
    return word < length && ((words[start + word]! >>> (category & 31)) & 1) === 1;
  };
  const functions = chunks.map(
    (source) =>
      new Function('inBitset', 'fround', `'use strict'; return function trees(x, acc, o) {\n${source}\n};`)(
        inBitset,
        Math.fround,
      ) as CompiledTrees,
  );
  if (functions.length === 1) return functions[0];
  return (row, acc, offset) => {
    for (let i = 0; i < functions.length; i++) functions[i]!(row, acc, offset);
  };
}

function emitNode(
  tree: CodegenTree,
  node: number,
  depth: number,
  out: string[],
  options: CodegenOptions,
): boolean {
  if (depth > MAX_DEPTH) return false;
  if (tree.leaf[node] === 1) {
    const at = `acc[o + ${tree.output}]`;
    const value = literal(tree.value[node]!);
    out.push(options.float32Sum ? `${at} = fround(${at} + ${value});` : `${at} += ${value};`);
    return true;
  }
  const x = `x[${tree.feature[node]!}]`;
  const t = literal(tree.threshold[node]!);
  const missingLeft = tree.missingLeft[node] === 1;
  let condition: string;
  switch (tree.split[node]) {
    case SPLIT_LEQ:
      // NaN fails every comparison: negate the opposite test to send it left
      condition = missingLeft ? `!(${x} > ${t})` : `${x} <= ${t}`;
      break;
    case SPLIT_LT:
      condition = missingLeft ? `!(${x} >= ${t})` : `${x} < ${t}`;
      break;
    case SPLIT_LEQ_ZERO_MISSING:
      condition = missingLeft ? `${x} === 0 || ${x} !== ${x} || ${x} <= ${t}` : `${x} !== 0 && ${x} <= ${t}`;
      break;
    case SPLIT_CATEGORICAL:
      condition = `inBitset(${x}, ${tree.catStart![node]!}, ${tree.catLength![node]!})`;
      break;
    default:
      throw new RangeError(`unknown split kind ${tree.split[node]}`);
  }
  out.push(`if (${condition}) {`);
  if (!emitNode(tree, tree.left[node]!, depth + 1, out, options)) return false;
  out.push('} else {');
  if (!emitNode(tree, tree.right[node]!, depth + 1, out, options)) return false;
  out.push('}');
  return true;
}

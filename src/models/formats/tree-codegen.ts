// Compiles decision trees into JavaScript source (nested ifs with the thresholds and leaf values as
// literals), which V8 turns into straight compare-and-branch code: ~4x the speed of walking typed arrays.
// The source holds only numbers printed by this module (validated finite or infinite doubles, integers).
//
// V8 optimises each generated function from the type feedback its comparisons gathered; a comparison
// never run before has none, so optimised code that first reaches it deoptimises, and back in the
// interpreter every double is boxed (measured: ~2 MB of garbage per 1,000 rows scored, 8+ deoptimisation
// cycles per function). compileTrees therefore runs every function once over rows that reach every leaf
// of every tree (exerciseTrees) before handing it out, and each tree adds its leaf value at one site.

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
  /** the row array the caller passes (warm-up rows use the same kind, so the feedback stays monomorphic) */
  rowType?: 'float64' | 'float32';
  /** the row width (features); warm-up rows are this long */
  width?: number;
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
  /** features each chunk reads: loaded into locals once at its start (one load site per feature) */
  const chunkFeatures: Set<number>[] = [];
  let features = new Set<number>();
  /** the trees of each chunk */
  const chunkTrees: CodegenTree[][] = [];
  let body: string[] = [];
  let members: CodegenTree[] = [];
  let nodes = 0;
  for (const tree of trees) {
    // one accumulation site per tree: the leaves only pick the value
    const lines: string[] = ['{', 'let v = 0;'];
    if (!emitNode(tree, 0, 0, lines, options)) return undefined;
    const at = `acc[o + ${tree.output}]`;
    lines.push(options.float32Sum ? `${at} = fround(${at} + v);` : `${at} += v;`, '}');
    body.push(lines.join('\n'));
    members.push(tree);
    for (let n = 0; n < tree.leaf.length; n++) if (tree.leaf[n] !== 1) features.add(tree.feature[n]!);
    nodes += tree.leaf.length;
    if (nodes >= MAX_NODES_PER_FUNCTION) {
      chunks.push(body.join('\n'));
      chunkTrees.push(members);
      chunkFeatures.push(features);
      body = [];
      members = [];
      features = new Set();
      nodes = 0;
    }
  }
  if (body.length > 0) {
    chunks.push(body.join('\n'));
    chunkTrees.push(members);
    chunkFeatures.push(features);
  }
  const words = options.catWords ?? new Uint32Array(0);
  const inBitset = (v: number, start: number, length: number): boolean => {
    // NaN, negatives and values past int32 (C++ static_cast<int> gives INT_MIN there) are not members
    if (!(v > -1 && v < MAX_INT32 + 1)) return false;
    const category = Math.trunc(v);
    const word = category >>> 5;
    return word < length && ((words[start + word]! >>> (category & 31)) & 1) === 1;
  };
  const functions = chunks.map(
    (source, c) =>
      new Function(
        'inBitset',
        'fround',
        `'use strict'; return function trees(x, acc, o) {\n${[...chunkFeatures[c]!].map((f) => `const x${f} = x[${f}];`).join('\n')}\n${source}\n};`,
      )(
        inBitset,
        Math.fround,
      ) as CompiledTrees,
  );
  // bounded load time: a model with many chunks gets fewer warm-up rows per chunk (partial coverage)
  const maxRows = Math.max(64, Math.floor(MAX_WARM_UP_ROWS_PER_MODEL / functions.length));
  functions.forEach((fn, c) => exerciseTrees(fn, chunkTrees[c]!, options, maxRows));
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
    out.push(`v = ${literal(tree.value[node]!)};`);
    return true;
  }
  const x = `x${tree.feature[node]!}`;
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

/**
 * Most warm-up rows per model: ~20 µs each while the code is still interpreted, so at most ~0.3 s of
 * load time. A chunk (≤ ~1,000 nodes) needs about one row per leaf plus two per missing-value split;
 * up to ~8 chunks (~8,000 nodes: the demo models have 4 and 2) are covered completely, larger models
 * partly (their remaining paths gather feedback live, at the cost of some deoptimisation then).
 */
const MAX_WARM_UP_ROWS_PER_MODEL = 16_384;

/**
 * Runs `fn` (the code of `trees`) over rows that reach every leaf of every tree, both sides of every
 * split (and, for missing-value splits, a 0 and a NaN), so each comparison has type feedback before V8
 * optimises the function. A row is built per leaf from the bounds its path puts on each feature; where
 * bounds leave no double between them the leaf is skipped (the warm-up is best effort, never wrong:
 * the outputs are thrown away).
 */
export function exerciseTrees(
  fn: CompiledTrees,
  trees: readonly CodegenTree[],
  options: CodegenOptions,
  maxRows = MAX_WARM_UP_ROWS_PER_MODEL,
): void {
  let width = options.width ?? 0;
  for (const tree of trees)
    for (let n = 0; n < tree.leaf.length; n++) if (tree.leaf[n] !== 1) width = Math.max(width, tree.feature[n]! + 1);
  if (width === 0) return;
  const row = options.rowType === 'float32' ? new Float32Array(width) : new Float64Array(width);
  const acc = new Float64Array(64);
  const groups = trees.reduce((m, t) => Math.max(m, t.output + 1), 1);
  const offset = 0;
  const scratch = groups <= acc.length ? acc : new Float64Array(groups);
  const lo = new Float64Array(width);
  const hi = new Float64Array(width);
  const loIn = new Uint8Array(width);
  const hiIn = new Uint8Array(width);
  // a feature pinned to one value (a category, or 0 / NaN on a missing side) instead of its bounds
  const special = new Float64Array(width);
  const pinned = new Uint8Array(width);
  const words = options.catWords ?? new Uint32Array(0);
  /** the feature of each node on the current path, by depth */
  const path = new Int32Array(MAX_DEPTH + 2);
  let rows = 0;
  const run = (): void => {
    if (rows++ >= maxRows) return;
    fn(row, scratch, offset);
  };
  for (const fill of [0, Number.NaN, 1, -1]) {
    row.fill(fill);
    run();
  }
  row.fill(0.5);
  for (const tree of trees) {
    // iterative DFS over paths; each frame: node, and the bounds to restore when leaving it
    // explore: both sides of every split; otherwise only the left-most path (one row, for a missing side)
    const walk = (node: number, depth: number, explore = true): void => {
      if (rows >= maxRows || depth > MAX_DEPTH) return;
      if (tree.leaf[node] === 1) {
        // only the features on the path are bounded; the others may keep any value
        for (let i = 0; i < depth; i++) {
          const f = path[i]!;
          row[f] = pinned[f] === 1 ? special[f]! : pick(lo[f]!, loIn[f] === 1, hi[f]!, hiIn[f] === 1);
        }
        run();
        return;
      }
      const f = tree.feature[node]!;
      path[depth] = f;
      const t = tree.threshold[node]!;
      const saved = [lo[f]!, loIn[f]!, hi[f]!, hiIn[f]!, special[f]!, pinned[f]!] as const;
      const restore = (): void => {
        lo[f] = saved[0];
        loIn[f] = saved[1];
        hi[f] = saved[2];
        hiIn[f] = saved[3];
        special[f] = saved[4];
        pinned[f] = saved[5];
      };
      const split = tree.split[node];
      if (split === SPLIT_CATEGORICAL) {
        // left: a category whose bit is set; right: one past the bitset
        const start = tree.catStart![node]!;
        const length = tree.catLength![node]!;
        let category = -1;
        for (let w = 0; w < length && category < 0; w++)
          for (let b = 0; b < 32; b++)
            if (((words[start + w]! >>> b) & 1) === 1) {
              category = w * 32 + b;
              break;
            }
        pinned[f] = 1;
        if (category >= 0) {
          special[f] = category;
          walk(tree.left[node]!, depth + 1, explore);
        }
        if (explore || category < 0) {
          special[f] = length * 32;
          walk(tree.right[node]!, depth + 1, explore);
        }
        restore();
        return;
      }
      const inclusiveLeft = split !== SPLIT_LT; // LEQ kinds: x <= t goes left; LT: x < t goes left
      // left: hi = min(hi, t)
      if (t < hi[f]! || (t === hi[f]! && !inclusiveLeft)) {
        hi[f] = t;
        hiIn[f] = inclusiveLeft ? 1 : 0;
      }
      walk(tree.left[node]!, depth + 1, explore);
      restore();
      if (!explore) return;
      // right: lo = max(lo, t)
      if (t > lo[f]! || (t === lo[f]! && inclusiveLeft)) {
        lo[f] = t;
        loIn[f] = inclusiveLeft ? 0 : 1;
      }
      walk(tree.right[node]!, depth + 1);
      restore();
      if (split === SPLIT_LEQ_ZERO_MISSING || tree.missingLeft[node] === 1) {
        // the missing side: 0 (LightGBM's Zero type) and NaN
        const side = tree.missingLeft[node] === 1 ? tree.left[node]! : tree.right[node]!;
        pinned[f] = 1;
        special[f] = 0;
        walk(side, depth + 1, false);
        special[f] = Number.NaN;
        walk(side, depth + 1, false);
        restore();
      }
    };
    lo.fill(Number.NEGATIVE_INFINITY);
    hi.fill(Number.POSITIVE_INFINITY);
    loIn.fill(0);
    hiIn.fill(0);
    pinned.fill(0);
    walk(0, 0);
  }
}

/** A double within the bounds (nonzero where it can be: 0 is a missing value for some splits). */
function pick(lo: number, loInclusive: boolean, hi: number, hiInclusive: boolean): number {
  const loFinite = lo > Number.NEGATIVE_INFINITY;
  const hiFinite = hi < Number.POSITIVE_INFINITY;
  if (!loFinite && !hiFinite) return 0.5;
  if (!hiFinite) return loInclusive && lo !== 0 ? lo : lo + Math.max(1, Math.abs(lo));
  if (!loFinite) return hiInclusive && hi !== 0 ? hi : hi - Math.max(1, Math.abs(hi));
  const mid = lo + (hi - lo) / 2;
  if (mid > lo && mid < hi && mid !== 0) return mid;
  return hiInclusive ? hi : loInclusive ? lo : mid;
}

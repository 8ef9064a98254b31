// The metric maths of model performance monitoring, shared by the streaming PerformanceTracker and the batch
// reference batchPerformance so that both give the same doubles: sklearn's classification scores
// (zero_division=0), MAE/RMSE, and the equity curve of a sign-following position. Sums are numpy's pairwise
// sums, so the numbers also match numpy/sklearn to the last bits or nearly.

import type { LabelRecord, ModelKind } from '../../domain/types.js';

/** The class indexes a classifier's sign-following position reads as long (+1) and short (−1). */
export interface SignClasses {
  up: number;
  down: number;
}

/**
 * "up"/"down" by name when the classes are exactly that pair (in either order); otherwise the last class is
 * up (close[t+h] > close[t]) and the first is down (≤), and any class between them takes no position.
 */
export function signClassesOf(classes: readonly string[]): SignClasses {
  if (classes.length === 2 && classes.includes('up') && classes.includes('down'))
    return { up: classes.indexOf('up'), down: classes.indexOf('down') };
  return { up: classes.length - 1, down: 0 };
}

/** Position −1, 0 or +1 of a prediction: a classifier's class index, or a regressor's value (numpy.sign). */
export function positionOf(isClassifier: boolean, predicted: number, sign: SignClasses): number {
  if (!isClassifier) return Math.sign(predicted);
  return predicted === sign.up ? 1 : predicted === sign.down ? -1 : 0;
}

const PAIRWISE_BLOCK = 128;

/**
 * Σ values[start..start+n) exactly as numpy's `add.reduce` sums a contiguous float64 array (pairwise: blocks of
 * up to 128 summed with 8 accumulators, halves split on multiples of 8), so means match numpy bit for bit.
 */
export function pairwiseSum(values: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[start + i] as number;
    return sum;
  }
  if (n <= PAIRWISE_BLOCK) {
    let r0 = values[start] as number;
    let r1 = values[start + 1] as number;
    let r2 = values[start + 2] as number;
    let r3 = values[start + 3] as number;
    let r4 = values[start + 4] as number;
    let r5 = values[start + 5] as number;
    let r6 = values[start + 6] as number;
    let r7 = values[start + 7] as number;
    const whole = n - (n % 8);
    let i = 8;
    for (; i < whole; i += 8) {
      r0 += values[start + i] as number;
      r1 += values[start + i + 1] as number;
      r2 += values[start + i + 2] as number;
      r3 += values[start + i + 3] as number;
      r4 += values[start + i + 4] as number;
      r5 += values[start + i + 5] as number;
      r6 += values[start + i + 6] as number;
      r7 += values[start + i + 7] as number;
    }
    let sum = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) sum += values[start + i] as number;
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, n - half);
}

const SAME_SIGN = 1;
const TRADED = 2;
const HIT = 4;

/**
 * Labelled outcomes by slot, each label's metric terms computed once when it is set (|error|, error², the
 * strategy's return, the same-sign / traded / hit flags) with running integer counts of the flags and of the
 * confusion matrix, so that a report reads only the float sums and the equity curve over the window. The
 * float terms are mirrored (slot and slot + capacity hold the same value), so any window of a ring that wraps
 * is one contiguous run for the pairwise sums. A plain list is a ring that starts at 0 and never wraps.
 */
export class MetricRing {
  readonly isClassifier: boolean;
  readonly sign: SignClasses;
  /** classifier: predicted class index; regressor: predicted value */
  readonly predicted: Float64Array;
  /** classifier: realised class index; regressor: realised value */
  readonly actual: Float64Array;
  /** realised return close[t+h]/close[t] − 1 */
  readonly returns: Float64Array;
  /** classifier counts of the labels set: `confusion[actual·K + predicted]` */
  private readonly confusion: Int32Array;
  private readonly absolute: Float64Array;
  private readonly squared: Float64Array;
  private readonly strategy: Float64Array;
  private readonly flags: Uint8Array;
  private sameSign = 0;
  private traded = 0;
  private hits = 0;
  /** per class: `precision_<c>`, `recall_<c>`, `f1_<c>` */
  private readonly classKeys: readonly (readonly [string, string, string])[];
  private readonly perClass: Float64Array;
  private readonly deviations: Float64Array;

  constructor(
    kind: ModelKind,
    readonly classes: readonly string[],
    readonly capacity: number,
  ) {
    this.isClassifier = kind === 'classifier';
    this.sign = signClassesOf(classes);
    this.predicted = new Float64Array(capacity);
    this.actual = new Float64Array(capacity);
    this.returns = new Float64Array(capacity);
    this.confusion = new Int32Array(classes.length * classes.length);
    this.absolute = new Float64Array(this.isClassifier ? 0 : 2 * capacity);
    this.squared = new Float64Array(this.isClassifier ? 0 : 2 * capacity);
    this.strategy = new Float64Array(2 * capacity);
    this.flags = new Uint8Array(capacity);
    this.classKeys = classes.map((c) => [`precision_${c}`, `recall_${c}`, `f1_${c}`] as const);
    this.perClass = new Float64Array(Math.max(1, classes.length) * 3);
    this.deviations = new Float64Array(capacity);
  }

  /** Sets a free slot (or one just unset) to a label's outcome and counts its terms. */
  set(slot: number, predicted: number, actual: number, realisedReturn: number): void {
    const capacity = this.capacity;
    this.predicted[slot] = predicted;
    this.actual[slot] = actual;
    this.returns[slot] = realisedReturn;
    let flags = 0;
    if (this.isClassifier) {
      const at = actual * this.classes.length + predicted;
      this.confusion[at] = (this.confusion[at] as number) + 1;
    } else {
      const error = predicted - actual;
      this.absolute[slot] = this.absolute[slot + capacity] = Math.abs(error);
      this.squared[slot] = this.squared[slot + capacity] = error * error;
      if (Math.sign(predicted) === Math.sign(actual)) flags = SAME_SIGN;
    }
    // the sign-following strategy: x = position · realised return per label
    const position = positionOf(this.isClassifier, predicted, this.sign);
    const x = position * realisedReturn;
    this.strategy[slot] = this.strategy[slot + capacity] = x;
    if (position !== 0) flags |= x > 0 ? TRADED | HIT : TRADED;
    this.flags[slot] = flags;
    this.sameSign += flags & SAME_SIGN;
    this.traded += (flags & TRADED) >> 1;
    this.hits += (flags & HIT) >> 2;
  }

  /** Takes a set slot's terms out of the counts (before it is set again). */
  unset(slot: number): void {
    if (this.isClassifier) {
      const at = (this.actual[slot] as number) * this.classes.length + (this.predicted[slot] as number);
      this.confusion[at] = (this.confusion[at] as number) - 1;
    }
    const flags = this.flags[slot] as number;
    this.sameSign -= flags & SAME_SIGN;
    this.traded -= (flags & TRADED) >> 1;
    this.hits -= (flags & HIT) >> 2;
    this.flags[slot] = 0;
  }

  /**
   * Every metric (names as in PerformanceRecord.metrics) of the `count` labels set from slot `start` on, in
   * ring order; the counts must be those of exactly these labels. O(count).
   */
  compute(start: number, count: number): Record<string, number> {
    const metrics: Record<string, number> = {};
    const n = count;
    if (n === 0) return metrics;
    if (this.isClassifier) this.classification(n, metrics);
    else {
      metrics['mae'] = pairwiseSum(this.absolute, start, n) / n;
      metrics['rmse'] = Math.sqrt(pairwiseSum(this.squared, start, n) / n);
      metrics['directional_accuracy'] = this.sameSign / n;
    }
    // equity Π(1 + x) from 1, its drawdown, and the spread of x, in one pass
    const strategy = this.strategy;
    const deviations = this.deviations;
    const mean = pairwiseSum(strategy, start, n) / n;
    let equity = 1;
    let peak = 1;
    // under one peak the drawdown 1 − equity / peak (rounded) only grows as equity falls: the trough decides it
    let trough = 1;
    let maxDrawdown = 0;
    for (let i = 0; i < n; i++) {
      const x = strategy[start + i] as number;
      equity *= 1 + x;
      if (equity > peak) peak = trough = equity;
      else if (equity < trough) {
        trough = equity;
        const drawdown = 1 - equity / peak;
        if (drawdown > maxDrawdown) maxDrawdown = drawdown;
      }
      const d = x - mean;
      deviations[i] = d * d;
    }
    const std = Math.sqrt(pairwiseSum(deviations, 0, n) / n);
    metrics['hit_rate'] = this.traded === 0 ? 0 : this.hits / this.traded;
    metrics['cumulative_return'] = equity - 1;
    metrics['max_drawdown'] = maxDrawdown;
    metrics['sharpe'] = std > 0 ? mean / std : 0;
    return metrics;
  }

  /** sklearn's accuracy_score and precision_recall_fscore_support(labels=classes, zero_division=0). */
  private classification(n: number, metrics: Record<string, number>): void {
    const confusion = this.confusion;
    const k = this.classes.length;
    const perClass = this.perClass;
    let correct = 0;
    for (let c = 0; c < k; c++) {
      const tp = confusion[c * k + c] as number;
      correct += tp;
      let predictedSum = 0;
      let trueSum = 0;
      for (let j = 0; j < k; j++) {
        predictedSum += confusion[j * k + c] as number;
        trueSum += confusion[c * k + j] as number;
      }
      const precision = predictedSum === 0 ? 0 : tp / predictedSum;
      const recall = trueSum === 0 ? 0 : tp / trueSum;
      const denominator = precision + recall;
      perClass[c] = precision;
      perClass[k + c] = recall;
      perClass[2 * k + c] = denominator === 0 ? 0 : (2 * precision * recall) / denominator;
    }
    metrics['accuracy'] = correct / n;
    for (let c = 0; c < k; c++) {
      const [precisionKey, recallKey, f1Key] = this.classKeys[c] as readonly [string, string, string];
      metrics[precisionKey] = perClass[c] as number;
      metrics[recallKey] = perClass[k + c] as number;
      metrics[f1Key] = perClass[2 * k + c] as number;
    }
    metrics['macro_precision'] = pairwiseSum(perClass, 0, k) / k;
    metrics['macro_recall'] = pairwiseSum(perClass, k, k) / k;
    metrics['macro_f1'] = pairwiseSum(perClass, 2 * k, k) / k;
  }
}

/**
 * The metrics of a list of labels in order, computed in one go: the reference the streaming tracker equals
 * exactly, and what an offline report uses. Expired records are left out; so are labels the metrics cannot
 * read (a class not in `classes`, a non-finite value or return), as the tracker skips them. `classes`
 * defaults to the sorted distinct classes of the list (sklearn's unique_labels). An empty object when no
 * label is left. A 'sequence' model is scored as a regressor.
 */
export function batchPerformance(
  labels: readonly LabelRecord[],
  kind: ModelKind,
  classes?: readonly string[],
): Record<string, number> {
  const isClassifier = kind === 'classifier';
  const names = isClassifier ? (classes ?? distinctClasses(labels)) : [];
  const index = new Map(names.map((name, i) => [name, i]));
  const ring = new MetricRing(kind, names, Math.max(1, labels.length));
  let count = 0;
  for (const label of labels) {
    if (label.state !== 'labelled' || !Number.isFinite(label.realisedReturn)) continue;
    let p: number | undefined;
    let a: number | undefined;
    if (isClassifier) {
      p = index.get(label.predicted as string);
      a = index.get(label.actual as string);
    } else if (typeof label.predicted === 'number' && typeof label.actual === 'number') {
      p = Number.isFinite(label.predicted) ? label.predicted : undefined;
      a = Number.isFinite(label.actual) ? label.actual : undefined;
    }
    if (p === undefined || a === undefined) continue;
    ring.set(count++, p, a, label.realisedReturn);
  }
  return ring.compute(0, count);
}

function distinctClasses(labels: readonly LabelRecord[]): string[] {
  const seen = new Set<string>();
  for (const label of labels) {
    if (label.state !== 'labelled') continue;
    if (typeof label.predicted === 'string') seen.add(label.predicted);
    if (typeof label.actual === 'string') seen.add(label.actual);
  }
  return [...seen].sort();
}

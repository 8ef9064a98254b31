// Kolmogorov–Smirnov distance of a sliding window (default 1,000 values, evaluated every 50 once it holds
// 500) from a reference, with a cut on √(n·m/(n+m))·D that calibration.ts sets for an expected run length
// under no drift (bootstrap of no-drift history), not a raw p-value: the window's values are autocorrelated
// and successive evaluations overlap, so the textbook p-value is wrong twice over.
//
// Two references:
// - `KsReference.fromHistogram` (the default, what the manifest carries): the reference CDF is known exactly
//   at the decile edges only, so D is taken at the inner edges, max |F_window(e⁻) − F_ref(e)|. Nothing is
//   interpolated inside a decile (that would invent a shape the deciles do not give, worst in the open tails)
//   and memory is O(bins) per detector, which matters at features × symbols × timeframes detectors.
// - `KsReference.fromSample` (when a reference sample is kept, e.g. from calibration history): the true
//   two-sample statistic, sup over all x, ties included; more power against changes inside a decile, memory
//   about 100 to 200 bytes per distinct reference value per detector (the segment tree below).
// Per value: one binary search (none through `updateBucket`, when the caller binned the value already) and
// two O(1) bucket-count updates, no allocation; an evaluation (every `every` values) scans the buckets,
// O(buckets). A reference of more than SCAN_MAX_BUCKETS buckets (a large sample) keeps a prefix-extreme
// segment tree instead: two O(log buckets) updates per value, O(1) per evaluation of a full window.

import { SnapshotReader, encodeNumber, type SnapshotNumber } from '../../indicators/snapshot-codec.js';
import { MlfpError } from '../../errors.js';
import { checkInteger, checkNumber, readWindowSnapshot, restoredWith } from './checks.js';
import { fingerprint, indexRing, type BinnedReference } from './reference.js';

/** What a KS window is compared with: buckets where the reference CDF is constant, and each bucket's mass. */
export class KsReference {
  /** buckets: for a sample, 2K+1 (below, at and between its K distinct values); for a histogram, its bins */
  readonly buckets: number;
  /** each bucket's reference mass: counts for a sample (G·m), shares for a histogram */
  readonly weights: Float64Array;
  /** m for a sample (so window counts and reference counts share a unit), 1 for a histogram */
  readonly countScale: number;
  readonly fingerprint: string;

  private constructor(
    readonly kind: 'sample' | 'histogram',
    /** reference sample size m; Infinity for a histogram (its CDF taken as exact) */
    readonly size: number,
    weights: Float64Array,
    countScale: number,
    private readonly distinct: Float64Array | undefined,
    private readonly binned: BinnedReference | undefined,
    hashed: string,
  ) {
    this.buckets = weights.length;
    this.weights = weights;
    this.countScale = countScale;
    this.fingerprint = hashed;
  }

  /** A reference sample (copied, sorted; finite values only). */
  static fromSample(values: ArrayLike<number>, field = 'ks.reference'): KsReference {
    const sorted = Float64Array.from(values).sort();
    if (sorted.length < 2 || sorted.length > 1_000_000)
      throw new MlfpError('config_invalid', `${field} needs 2 to 1,000,000 values`, {
        field,
        value: sorted.length,
      });
    for (let i = 0; i < sorted.length; i++)
      if (!Number.isFinite(sorted[i]))
        throw new MlfpError('config_invalid', `${field} holds a non-finite value`, {
          field,
          value: sorted[i],
        });
    const distinct: number[] = [];
    const multiplicity: number[] = [];
    for (let i = 0; i < sorted.length; i++) {
      const x = sorted[i] as number;
      if (distinct.length > 0 && distinct[distinct.length - 1] === x)
        multiplicity[multiplicity.length - 1]!++;
      else {
        distinct.push(x);
        multiplicity.push(1);
      }
    }
    // bucket 2j: strictly between distinct values j−1 and j; bucket 2j+1: equal to distinct value j
    const weights = new Float64Array(2 * distinct.length + 1);
    for (let j = 0; j < distinct.length; j++) weights[2 * j + 1] = multiplicity[j] as number;
    return new KsReference(
      'sample',
      sorted.length,
      weights,
      sorted.length,
      Float64Array.from(distinct),
      undefined,
      fingerprint(sorted),
    );
  }

  /** The manifest histogram: D at the inner edges, against its exact CDF there. */
  static fromHistogram(reference: BinnedReference): KsReference {
    return new KsReference(
      'histogram',
      Number.POSITIVE_INFINITY,
      Float64Array.from(reference.expected),
      1,
      undefined,
      reference,
      reference.fingerprint,
    );
  }

  /** The bucket of a finite x, O(log buckets). */
  bucketOf(x: number): number {
    const distinct = this.distinct;
    if (distinct === undefined) return (this.binned as BinnedReference).binOf(x);
    let low = 0;
    let high = distinct.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((distinct[middle] as number) <= x) low = middle + 1;
      else high = middle;
    }
    // low = number of distinct values ≤ x
    return low > 0 && distinct[low - 1] === x ? 2 * low - 1 : 2 * low;
  }

  /** √(n·m/(n+m)) (√n for a histogram): D times this has a null law that barely depends on n. */
  scale(n: number): number {
    return Number.isFinite(this.size) ? Math.sqrt((n * this.size) / (n + this.size)) : Math.sqrt(n);
  }

  /** Batch D of values[0..length) (non-finite ones skipped), for calibration. */
  statistic(values: ArrayLike<number>, length = values.length): number {
    const counts = new Int32Array(this.buckets);
    let n = 0;
    for (let i = 0; i < length; i++) {
      const x = values[i] as number;
      if (!Number.isFinite(x)) continue;
      const bucket = this.bucketOf(x);
      counts[bucket] = (counts[bucket] as number) + 1;
      n++;
    }
    return distanceByScan(counts, n, this.weights, this.countScale);
  }
}

/** max over buckets of |countScale·C(≤b) − n·W(≤b)| / (countScale·n): D, as every bucket's end is a candidate. */
function distanceByScan(
  counts: ArrayLike<number>,
  n: number,
  weights: Float64Array,
  countScale: number,
): number {
  if (n === 0) return Number.NaN;
  let prefix = 0;
  let extreme = 0;
  for (let b = 0; b < weights.length; b++) {
    prefix += countScale * (counts[b] as number) - n * (weights[b] as number);
    const magnitude = prefix < 0 ? -prefix : prefix;
    if (magnitude > extreme) extreme = magnitude;
  }
  return Math.min(1, extreme / (countScale * n));
}

export interface KsOptions {
  /** cut on the scaled statistic √(n·m/(n+m))·D, from calibration (bootstrapCut): required */
  cut: number;
  /** values in the sliding window (default 1,000) */
  window?: number;
  /** values the window must hold before the first evaluation (default 500) */
  minCount?: number;
  /** evaluate after every `every`-th value (default 50) */
  every?: number;
}

export type KsStatus = 'warming' | 'ok' | 'alarm';
const STATUSES: readonly KsStatus[] = ['warming', 'ok', 'alarm'];

export const KS_DEFAULTS = { window: 1_000, minCount: 500, every: 50 } as const;
const MAX_WINDOW = 1_000_000;
/**
 * Most buckets evaluated by a scan: below it a scan every `every` values costs less than a segment-tree update
 * per value (a histogram's 10 deciles: 10 additions every 50 values against 8 tree nodes per value).
 */
export const SCAN_MAX_BUCKETS = 64;

export interface KsSnapshot {
  kind: 'mlfp.drift.ks';
  version: 1;
  reference: string;
  window: number;
  minCount: number;
  every: number;
  cut: number;
  seen: number;
  skipped: number;
  /** the window's reference buckets, oldest first */
  buckets: number[];
  status: KsStatus;
  statistic: SnapshotNumber;
  scaled: SnapshotNumber;
  evaluatedAtMs: SnapshotNumber;
  lastTimeMs: SnapshotNumber;
}

/**
 * Sliding-window KS. The window is kept as a ring of bucket indexes and per-bucket counts; D is the largest
 * prefix |countScale·C(≤b) − n·W(≤b)| over buckets, scanned at each evaluation (the arithmetic of
 * `KsReference.statistic` and of the calibration bootstrap, so a window's D equals theirs bit for bit). Over
 * SCAN_MAX_BUCKETS buckets, a segment tree holds per node the sum of leaf weights w_b = countScale·count_b −
 * window·W_b and the largest and smallest prefix sum inside it, so the root gives D of a full window at once.
 * Counts and reference masses of a sample are integers, so D is exact there.
 */
export class KsDetector {
  readonly window: number;
  readonly minCount: number;
  readonly every: number;
  readonly cut: number;

  status: KsStatus = 'warming';
  /** D at the last evaluation */
  statistic = Number.NaN;
  /** √(n·m/(n+m))·D at the last evaluation: what the cut applies to */
  scaled = Number.NaN;
  evaluatedAtMs = Number.NaN;
  lastTimeMs = Number.NaN;
  /** non-finite values passed and not used */
  skipped = 0;

  private readonly ring: Uint8Array | Uint16Array | Int32Array;
  private readonly counts: Int32Array;
  /** whether the segment tree is kept (more than SCAN_MAX_BUCKETS buckets) */
  private readonly tree: boolean;
  private readonly leaves: number;
  private readonly treeSum: Float64Array;
  private readonly treeMax: Float64Array;
  private readonly treeMin: Float64Array;
  private head = 0;
  private count = 0;
  private seen = 0;
  /** values to the next evaluation point, every - seen % every (a countdown: no division per value) */
  private untilEvaluation: number;

  constructor(
    readonly reference: KsReference,
    options: KsOptions,
  ) {
    this.cut = checkNumber('ks.cut', options.cut, 0, 1e6, true);
    this.window = checkInteger('ks.window', options.window ?? KS_DEFAULTS.window, 2, MAX_WINDOW);
    this.minCount = checkInteger('ks.minCount', options.minCount ?? KS_DEFAULTS.minCount, 2, this.window);
    this.every = checkInteger('ks.every', options.every ?? KS_DEFAULTS.every, 1, MAX_WINDOW);
    this.untilEvaluation = this.every;
    this.ring = indexRing(reference.buckets, this.window);
    this.counts = new Int32Array(reference.buckets);
    this.tree = reference.buckets > SCAN_MAX_BUCKETS;
    let leaves = 1;
    while (this.tree && leaves < reference.buckets) leaves *= 2;
    this.leaves = leaves;
    const nodes = this.tree ? 2 * leaves : 0;
    this.treeSum = new Float64Array(nodes);
    this.treeMax = new Float64Array(nodes);
    this.treeMin = new Float64Array(nodes);
    this.rebuildTree();
  }

  /** Values in the window now. */
  get size(): number {
    return this.count;
  }

  /** Adds one value observed at `timeMs`; true when this value triggered an evaluation (read `status`). */
  update(x: number, timeMs: number): boolean {
    if (!Number.isFinite(x)) {
      this.skipped++;
      return false;
    }
    return this.updateBucket(this.reference.bucketOf(x), timeMs);
  }

  /**
   * `update` of a finite value whose bucket the caller already has (`reference.bucketOf(x)`, which for a
   * histogram reference is its BinnedReference's `binOf(x)`): one binning per value shared with PSI.
   */
  updateBucket(bucket: number, timeMs: number): boolean {
    const ring = this.ring;
    const counts = this.counts;
    let head = this.head;
    if (this.count === this.window) {
      const oldest = ring[head] as number;
      if (oldest !== bucket) {
        counts[oldest] = (counts[oldest] as number) - 1;
        counts[bucket] = (counts[bucket] as number) + 1;
        if (this.tree) {
          this.setLeaf(oldest);
          this.setLeaf(bucket);
        }
      }
    } else {
      counts[bucket] = (counts[bucket] as number) + 1;
      if (this.tree) this.setLeaf(bucket);
      this.count++;
    }
    ring[head] = bucket;
    if (++head === this.window) head = 0;
    this.head = head;
    this.lastTimeMs = timeMs;
    this.seen++;
    if (--this.untilEvaluation !== 0) return false;
    this.untilEvaluation = this.every;
    if (this.count < this.minCount) return false;
    this.evaluate(timeMs);
    return true;
  }

  /** D of the window now (NaN when empty). */
  currentDistance(): number {
    const n = this.count;
    if (this.tree && n === this.window) {
      const high = this.treeMax[1] as number;
      const low = -(this.treeMin[1] as number);
      const extreme = Math.max(high, low, 0);
      return Math.min(1, extreme / (this.reference.countScale * n));
    }
    return distanceByScan(this.counts, n, this.reference.weights, this.reference.countScale);
  }

  reset(): void {
    this.counts.fill(0);
    this.ring.fill(0);
    this.head = 0;
    this.count = 0;
    this.seen = 0;
    this.untilEvaluation = this.every;
    this.skipped = 0;
    this.status = 'warming';
    this.statistic = Number.NaN;
    this.scaled = Number.NaN;
    this.evaluatedAtMs = Number.NaN;
    this.lastTimeMs = Number.NaN;
    this.rebuildTree();
  }

  snapshot(): KsSnapshot {
    const buckets: number[] = [];
    let slot = this.head - this.count;
    if (slot < 0) slot += this.window;
    for (let i = 0; i < this.count; i++, slot = (slot + 1) % this.window)
      buckets.push(this.ring[slot] as number);
    return {
      kind: 'mlfp.drift.ks',
      version: 1,
      reference: this.reference.fingerprint,
      window: this.window,
      minCount: this.minCount,
      every: this.every,
      cut: this.cut,
      seen: this.seen,
      skipped: this.skipped,
      buckets,
      status: this.status,
      statistic: encodeNumber(this.statistic),
      scaled: encodeNumber(this.scaled),
      evaluatedAtMs: encodeNumber(this.evaluatedAtMs),
      lastTimeMs: encodeNumber(this.lastTimeMs),
    };
  }

  /** Rebuilds a detector from `snapshot()` taken against the same reference; snapshot_invalid names the bad field. */
  static restore(snapshot: unknown, reference: KsReference): KsDetector {
    const reader: SnapshotReader = new SnapshotReader(snapshot, 'mlfp.drift.ks', 1);
    const record = snapshot as Record<string, unknown>;
    const base = readWindowSnapshot(reader, snapshot, reference.fingerprint, MAX_WINDOW);
    const window = base.window;
    const options: KsOptions = {
      ...base,
      cut: reader.finite('cut', 0, 1e6),
    };
    const detector = restoredWith('mlfp.drift.ks', () => new KsDetector(reference, options));
    const seen = reader.integer('seen', 0);
    const count = Math.min(seen, window);
    const raw = record['buckets'];
    if (!Array.isArray(raw) || raw.length !== count)
      reader.fail('buckets', `expected ${count} bucket indexes (min(seen, window))`);
    for (let i = 0; i < count; i++) {
      const bucket = raw[i] as unknown;
      if (
        typeof bucket !== 'number' ||
        !Number.isInteger(bucket) ||
        bucket < 0 ||
        bucket >= reference.buckets
      )
        reader.fail('buckets', `element ${i} is not a bucket in [0, ${reference.buckets})`);
      detector.ring[i] = bucket;
      detector.counts[bucket] = (detector.counts[bucket] as number) + 1;
    }
    detector.count = count;
    detector.head = count % window;
    detector.seen = seen;
    detector.untilEvaluation = detector.every - (seen % detector.every);
    detector.skipped = reader.integer('skipped', 0);
    detector.rebuildTree();
    detector.status = reader.choice('status', STATUSES);
    detector.statistic = reader.number('statistic');
    detector.scaled = reader.number('scaled');
    detector.evaluatedAtMs = reader.number('evaluatedAtMs');
    detector.lastTimeMs = reader.number('lastTimeMs');
    return detector;
  }

  private evaluate(timeMs: number): void {
    const distance = this.currentDistance();
    const scaled = distance * this.reference.scale(this.count);
    this.statistic = distance;
    this.scaled = scaled;
    this.evaluatedAtMs = timeMs;
    this.status = scaled > this.cut ? 'alarm' : 'ok';
  }

  private setLeaf(bucket: number): void {
    const sum = this.treeSum;
    const high = this.treeMax;
    const low = this.treeMin;
    let node = this.leaves + bucket;
    const weight =
      this.reference.countScale * (this.counts[bucket] as number) -
      this.window * (this.reference.weights[bucket] as number);
    sum[node] = weight;
    high[node] = weight;
    low[node] = weight;
    node >>>= 1;
    while (node >= 1) {
      const left = 2 * node;
      const right = left + 1;
      const leftSum = sum[left] as number;
      sum[node] = leftSum + (sum[right] as number);
      high[node] = Math.max(high[left] as number, leftSum + (high[right] as number));
      low[node] = Math.min(low[left] as number, leftSum + (low[right] as number));
      node >>>= 1;
    }
  }

  private rebuildTree(): void {
    if (!this.tree) return;
    const sum = this.treeSum;
    const high = this.treeMax;
    const low = this.treeMin;
    const buckets = this.reference.buckets;
    for (let b = 0; b < this.leaves; b++) {
      const weight =
        b < buckets
          ? this.reference.countScale * (this.counts[b] as number) -
            this.window * (this.reference.weights[b] as number)
          : 0;
      const node = this.leaves + b;
      sum[node] = weight;
      high[node] = weight;
      low[node] = weight;
    }
    for (let node = this.leaves - 1; node >= 1; node--) {
      const left = 2 * node;
      const right = left + 1;
      const leftSum = sum[left] as number;
      sum[node] = leftSum + (sum[right] as number);
      high[node] = Math.max(high[left] as number, leftSum + (high[right] as number));
      low[node] = Math.min(low[left] as number, leftSum + (low[right] as number));
    }
  }
}

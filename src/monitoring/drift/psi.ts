// Population stability index of a sliding window against a manifest reference (decile edges frozen, outer
// bins open, empty-bin floor 1e-4), gated by the window's effective sample size n·(1−ρ₁)/(1+ρ₁): an
// autocorrelated window holds fewer independent values than it has, and PSI read from it over-fires.
// O(log bins) per value (one bin search, none through `updateBinned` when the caller binned the value; the
// window keeps each value's bin, so the evicted one is not searched again), no allocation; the caller passes
// each value's time.

import { SnapshotReader, encodeNumber, type SnapshotNumber } from '../../indicators/snapshot-codec.js';
import { MlfpError } from '../../errors.js';
import { checkInteger, checkNumber, readWindowSnapshot, restoredWith } from './checks.js';
import { indexRing, type BinnedReference } from './reference.js';

export interface PsiOptions {
  /** values in the sliding window (default 1,000) */
  window?: number;
  /** values the window must hold before the first evaluation (default 500, at most `window`) */
  minCount?: number;
  /** evaluate after every `every`-th value (default 50) */
  every?: number;
  /** PSI is evaluated only when the window's effective sample size reaches this (default 500) */
  minEss?: number;
  /** PSI at or above which the status is `warn` (default 0.1) */
  warn?: number;
  /** PSI at or above which the status is `alert` (default 0.25) */
  alert?: number;
  /** share that replaces an empty bin's (actual or expected) share, so the logarithm stays finite (default 1e-4) */
  floor?: number;
  /**
   * keep the window's lag-1 autocorrelation for the ESS gate (default true). false: the caller gates (ModelDrift
   * pools dependence per symbol), minEss must be 0, the window keeps bins only (no values, no running sums) and
   * ρ₁ and ESS are NaN
   */
  autocorrelation?: boolean;
}

/** `warming`: too few values yet; `gated`: effective sample size below minEss, PSI not read. */
export type PsiStatus = 'warming' | 'gated' | 'ok' | 'warn' | 'alert';
const STATUSES: readonly PsiStatus[] = ['warming', 'gated', 'ok', 'warn', 'alert'];

export interface PsiSnapshot {
  kind: 'mlfp.drift.psi';
  version: 2;
  /** fingerprint of the reference the state was built against */
  reference: string;
  window: number;
  minCount: number;
  every: number;
  minEss: number;
  warn: number;
  alert: number;
  floor: number;
  autocorrelation: boolean;
  /** finite values since the start (or the last reset) */
  seen: number;
  /** non-finite values passed and not used */
  skipped: number;
  /** the window, oldest first (empty without autocorrelation) */
  values: number[];
  /** without autocorrelation, the window's bins, oldest first (empty with it: the values give them) */
  bins: number[];
  /** running sums: fresh block, previous block, evicted part of the previous block (each S, Q, P) */
  sums: number[];
  /** centred value just before the oldest one in the window (0 when none) */
  beforeOldest: number;
  status: PsiStatus;
  psi: SnapshotNumber;
  ess: SnapshotNumber;
  rho1: SnapshotNumber;
  evaluatedAtMs: SnapshotNumber;
  lastTimeMs: SnapshotNumber;
}

export const PSI_DEFAULTS = {
  window: 1_000,
  minCount: 500,
  every: 50,
  minEss: 500,
  warn: 0.1,
  alert: 0.25,
  floor: 1e-4,
} as const;

const MAX_WINDOW = 1_000_000;
// accumulator layout: [fresh S, Q, P, previous block S, Q, P, evicted S, Q, P]
const FRESH = 0;
const OLD = 3;
const EVICTED = 6;

/**
 * Sliding-window PSI with an ESS gate. Running sums of the centred values d = x − centre (S = Σd, Q = Σd²,
 * P = Σ d_{t−1}·d_t) give ρ₁ in O(1). They are kept without drift: a fresh block sums the newest values by
 * additions only; once it holds a whole window it replaces the previous block, whose evicted values are
 * summed in the same order, so window sum = fresh + (previous − evicted) and rounding never outlives a window.
 */
export class PsiDetector {
  readonly window: number;
  readonly minCount: number;
  readonly every: number;
  readonly minEss: number;
  readonly warn: number;
  readonly alert: number;
  readonly floor: number;
  readonly autocorrelation: boolean;

  /** status of the last evaluation (`warming` before the first) */
  status: PsiStatus = 'warming';
  /** PSI at the last evaluation (NaN before it, or when the gate held it back) */
  psi = Number.NaN;
  /** effective sample size at the last evaluation */
  ess = Number.NaN;
  /** lag-1 autocorrelation at the last evaluation */
  rho1 = Number.NaN;
  /** time of the value that triggered the last evaluation */
  evaluatedAtMs = Number.NaN;
  /** time of the last value passed */
  lastTimeMs = Number.NaN;
  /** non-finite values passed (not drift data: data quality counts missing values) */
  skipped = 0;

  /** the window's values (empty without autocorrelation: only the running sums need them) */
  private readonly values: Float64Array;
  /** the bin of each value in the window, same slots as `values` */
  private readonly bins: Uint8Array | Uint16Array | Int32Array;
  private readonly binCounts: Int32Array;
  private readonly sums = new Float64Array(9);
  private readonly expectedFloored: Float64Array;
  private head = 0;
  private count = 0;
  private seen = 0;
  /** values to the next evaluation point, every - seen % every (a countdown: no division per value) */
  private untilEvaluation: number;
  private blockFill = 0;
  private beforeOldest = 0;
  private lastCentred = 0;

  constructor(
    readonly reference: BinnedReference,
    options: PsiOptions = {},
  ) {
    this.window = checkInteger('psi.window', options.window ?? PSI_DEFAULTS.window, 2, MAX_WINDOW);
    this.minCount = checkInteger('psi.minCount', options.minCount ?? PSI_DEFAULTS.minCount, 2, this.window);
    this.every = checkInteger('psi.every', options.every ?? PSI_DEFAULTS.every, 1, MAX_WINDOW);
    this.minEss = checkNumber('psi.minEss', options.minEss ?? PSI_DEFAULTS.minEss, 0, MAX_WINDOW);
    this.warn = checkNumber('psi.warn', options.warn ?? PSI_DEFAULTS.warn, 0, 100, true);
    this.alert = checkNumber('psi.alert', options.alert ?? PSI_DEFAULTS.alert, this.warn, 100);
    this.floor = checkNumber('psi.floor', options.floor ?? PSI_DEFAULTS.floor, 0, 0.01, true);
    this.autocorrelation = options.autocorrelation ?? true;
    if (!this.autocorrelation && this.minEss !== 0)
      throw new MlfpError(
        'config_invalid',
        'psi.minEss must be 0 without autocorrelation (the caller gates)',
        {
          field: 'psi.minEss',
          value: this.minEss,
        },
      );
    this.untilEvaluation = this.every;
    this.values = new Float64Array(this.autocorrelation ? this.window : 0);
    this.bins = indexRing(reference.bins, this.window);
    this.binCounts = new Int32Array(reference.bins);
    this.expectedFloored = reference.expected.map((e) => Math.max(e, this.floor));
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
    return this.updateBinned(x, this.reference.binOf(x), timeMs);
  }

  /** `update` of a finite x whose bin the caller already has (`reference.binOf(x)`): one binning shared with KS. */
  updateBinned(x: number, bin: number, timeMs: number): boolean {
    const bins = this.bins;
    const binCounts = this.binCounts;
    const window = this.window;
    let head = this.head;
    const full = this.count === window;
    if (this.autocorrelation) this.addToSums(x, head, full);
    if (full) {
      const evictedBin = bins[head] as number;
      binCounts[evictedBin] = (binCounts[evictedBin] as number) - 1;
    } else this.count++;
    bins[head] = bin;
    binCounts[bin] = (binCounts[bin] as number) + 1;
    if (++head === window) head = 0;
    this.head = head;
    this.lastTimeMs = timeMs;
    this.seen++;
    if (--this.untilEvaluation !== 0) return false;
    this.untilEvaluation = this.every;
    if (this.count < this.minCount) return false;
    this.evaluate(timeMs);
    return true;
  }

  /**
   * The window's lag-1 autocorrelation Σ(x_t−x̄)(x_{t+1}−x̄) / Σ(x_t−x̄)², O(1); 0 for a constant window, NaN
   * without autocorrelation.
   */
  lag1Autocorrelation(): number {
    const n = this.count;
    if (n < 2 || !this.autocorrelation) return Number.NaN;
    const sums = this.sums;
    const s = (sums[FRESH] as number) + ((sums[OLD] as number) - (sums[EVICTED] as number));
    const q = (sums[FRESH + 1] as number) + ((sums[OLD + 1] as number) - (sums[EVICTED + 1] as number));
    const pairsWithOldest =
      (sums[FRESH + 2] as number) + ((sums[OLD + 2] as number) - (sums[EVICTED + 2] as number));
    const first = (this.values[this.oldestSlot()] as number) - this.reference.centre;
    // the oldest value's pair links it to the value evicted before it: not a pair of this window
    const pairs = pairsWithOldest - this.beforeOldest * first;
    const mean = s / n;
    const denominator = q - s * mean;
    if (!(denominator > 1e-12 * q)) return 0;
    const numerator = pairs - mean * (2 * s - first - this.lastCentred) + (n - 1) * mean * mean;
    const rho = numerator / denominator;
    return rho > 1 ? 1 : rho < -1 ? -1 : rho;
  }

  /** n·(1−ρ₁)/(1+ρ₁), at most n (negative ρ₁ is no evidence of more information about the histogram). */
  effectiveSampleSize(): number {
    return effectiveSampleSize(this.count, this.lag1Autocorrelation());
  }

  /** PSI of the window now, whatever the gate says, O(bins). */
  currentPsi(): number {
    return psiOfCounts(this.binCounts, this.count, this.expectedFloored, this.floor);
  }

  reset(): void {
    this.values.fill(0);
    this.bins.fill(0);
    this.binCounts.fill(0);
    this.sums.fill(0);
    this.head = 0;
    this.count = 0;
    this.seen = 0;
    this.untilEvaluation = this.every;
    this.blockFill = 0;
    this.beforeOldest = 0;
    this.lastCentred = 0;
    this.skipped = 0;
    this.status = 'warming';
    this.psi = Number.NaN;
    this.ess = Number.NaN;
    this.rho1 = Number.NaN;
    this.evaluatedAtMs = Number.NaN;
    this.lastTimeMs = Number.NaN;
  }

  snapshot(): PsiSnapshot {
    const values: number[] = [];
    const bins: number[] = [];
    for (let i = 0, slot = this.oldestSlot(); i < this.count; i++, slot = (slot + 1) % this.window)
      if (this.autocorrelation) values.push(this.values[slot] as number);
      else bins.push(this.bins[slot] as number);
    return {
      kind: 'mlfp.drift.psi',
      version: 2,
      reference: this.reference.fingerprint,
      window: this.window,
      minCount: this.minCount,
      every: this.every,
      minEss: this.minEss,
      warn: this.warn,
      alert: this.alert,
      floor: this.floor,
      autocorrelation: this.autocorrelation,
      seen: this.seen,
      skipped: this.skipped,
      values,
      bins,
      sums: Array.from(this.sums),
      beforeOldest: this.beforeOldest,
      status: this.status,
      psi: encodeNumber(this.psi),
      ess: encodeNumber(this.ess),
      rho1: encodeNumber(this.rho1),
      evaluatedAtMs: encodeNumber(this.evaluatedAtMs),
      lastTimeMs: encodeNumber(this.lastTimeMs),
    };
  }

  /** Rebuilds a detector from `snapshot()` taken against the same reference; snapshot_invalid names the bad field. */
  static restore(snapshot: unknown, reference: BinnedReference): PsiDetector {
    const reader: SnapshotReader = new SnapshotReader(snapshot, 'mlfp.drift.psi', 2);
    const record = snapshot as Record<string, unknown>;
    const base = readWindowSnapshot(reader, snapshot, reference.fingerprint, MAX_WINDOW);
    const window = base.window;
    const options: PsiOptions = {
      ...base,
      minEss: reader.finite('minEss', 0, MAX_WINDOW),
      warn: reader.finite('warn', 0, 100),
      alert: reader.finite('alert', 0, 100),
      floor: reader.finite('floor', 0, 0.01),
      autocorrelation: reader.boolean('autocorrelation'),
    };
    const detector = restoredWith('mlfp.drift.psi', () => new PsiDetector(reference, options));
    const seen = reader.integer('seen', 0);
    const count = Math.min(seen, window);
    const tracked = detector.autocorrelation;
    const raw = record['values'];
    const rawBins = record['bins'];
    if (!Array.isArray(raw) || raw.length !== (tracked ? count : 0))
      reader.fail(
        'values',
        `expected ${tracked ? count : 0} finite numbers (min(seen, window) with autocorrelation)`,
      );
    if (!Array.isArray(rawBins) || rawBins.length !== (tracked ? 0 : count))
      reader.fail('bins', `expected ${tracked ? 0 : count} bins (min(seen, window) without autocorrelation)`);
    for (let i = 0; i < count; i++) {
      let bin: number;
      if (tracked) {
        const x = raw[i] as unknown;
        if (typeof x !== 'number' || !Number.isFinite(x)) reader.fail('values', `element ${i} is not finite`);
        detector.values[i] = x;
        bin = reference.binOf(x);
      } else {
        const b = rawBins[i] as unknown;
        if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b >= reference.bins)
          reader.fail('bins', `element ${i} is not a bin in [0, ${reference.bins})`);
        bin = b;
      }
      detector.bins[i] = bin;
      detector.binCounts[bin] = (detector.binCounts[bin] as number) + 1;
    }
    detector.count = count;
    detector.head = count % window;
    detector.seen = seen;
    detector.untilEvaluation = detector.every - (seen % detector.every);
    detector.blockFill = tracked ? seen % window : 0;
    detector.skipped = reader.integer('skipped', 0);
    reader.numbers('sums', 9, detector.sums);
    for (let i = 0; i < 9; i++)
      if (!Number.isFinite(detector.sums[i])) reader.fail('sums', `element ${i} is not finite`);
    detector.beforeOldest = reader.finite('beforeOldest', -Number.MAX_VALUE, Number.MAX_VALUE);
    detector.lastCentred =
      count === 0 || !tracked ? 0 : (detector.values[count - 1] as number) - reference.centre;
    if (!tracked && (detector.beforeOldest !== 0 || detector.sums.some((v) => v !== 0)))
      reader.fail('sums', 'must be 0 without autocorrelation');
    if (seen <= window && detector.beforeOldest !== 0)
      reader.fail('beforeOldest', 'must be 0 while nothing was evicted');
    if (seen < window && detector.sums.some((v, i) => i >= OLD && v !== 0))
      reader.fail('sums', 'a window never filled has no previous block');
    if (tracked && !detector.sumsMatchWindow()) reader.fail('sums', 'do not match the window values');
    detector.status = reader.choice('status', STATUSES);
    detector.psi = reader.number('psi');
    detector.ess = reader.number('ess');
    detector.rho1 = reader.number('rho1');
    detector.evaluatedAtMs = reader.number('evaluatedAtMs');
    detector.lastTimeMs = reader.number('lastTimeMs');
    return detector;
  }

  /** The running sums' part of an update: x enters at `head`, the value there leaves when the window is full. */
  private addToSums(x: number, head: number, full: boolean): void {
    const values = this.values;
    const sums = this.sums;
    const centre = this.reference.centre;
    if (full) {
      const centredOldest = (values[head] as number) - centre;
      sums[EVICTED] = (sums[EVICTED] as number) + centredOldest;
      sums[EVICTED + 1] = (sums[EVICTED + 1] as number) + centredOldest * centredOldest;
      sums[EVICTED + 2] = (sums[EVICTED + 2] as number) + this.beforeOldest * centredOldest;
      this.beforeOldest = centredOldest;
    }
    const centred = x - centre;
    values[head] = x;
    sums[FRESH] = (sums[FRESH] as number) + centred;
    sums[FRESH + 1] = (sums[FRESH + 1] as number) + centred * centred;
    sums[FRESH + 2] = (sums[FRESH + 2] as number) + this.lastCentred * centred;
    this.lastCentred = centred;
    if (++this.blockFill === this.window) {
      // the fresh block is exactly the window now: it becomes the previous block, nothing of it evicted yet
      sums[OLD] = sums[FRESH] as number;
      sums[OLD + 1] = sums[FRESH + 1] as number;
      sums[OLD + 2] = sums[FRESH + 2] as number;
      sums.fill(0, FRESH, OLD);
      sums.fill(0, EVICTED, EVICTED + 3);
      this.blockFill = 0;
    }
  }

  private oldestSlot(): number {
    const slot = this.head - this.count;
    return slot < 0 ? slot + this.window : slot;
  }

  private evaluate(timeMs: number): void {
    const rho = this.lag1Autocorrelation();
    const ess = effectiveSampleSize(this.count, rho);
    this.rho1 = rho;
    this.ess = ess;
    this.evaluatedAtMs = timeMs;
    if (this.autocorrelation && !(ess >= this.minEss)) {
      this.psi = Number.NaN;
      this.status = 'gated';
      return;
    }
    const psi = psiOfCounts(this.binCounts, this.count, this.expectedFloored, this.floor);
    this.psi = psi;
    this.status = psi >= this.alert ? 'alert' : psi >= this.warn ? 'warn' : 'ok';
  }

  /** Restore's consistency check: the stored sums equal a recomputation from the window (to rounding). */
  private sumsMatchWindow(): boolean {
    const centre = this.reference.centre;
    let s = 0;
    let q = 0;
    let p = 0;
    let previous = this.beforeOldest;
    for (let i = 0; i < this.count; i++) {
      const d = (this.values[i] as number) - centre;
      s += d;
      q += d * d;
      p += previous * d;
      previous = d;
    }
    const sums = this.sums;
    const close = (stored: number, exact: number, scale: number): boolean =>
      Math.abs(stored - exact) <= 1e-9 * (scale + 1);
    return (
      close((sums[FRESH] as number) + (sums[OLD] as number) - (sums[EVICTED] as number), s, q) &&
      close((sums[FRESH + 1] as number) + (sums[OLD + 1] as number) - (sums[EVICTED + 1] as number), q, q) &&
      close((sums[FRESH + 2] as number) + (sums[OLD + 2] as number) - (sums[EVICTED + 2] as number), p, q)
    );
  }
}

/** n·(1−ρ₁)/(1+ρ₁), capped at n; NaN for n < 2. */
export function effectiveSampleSize(n: number, rho1: number): number {
  if (!(n >= 2) || Number.isNaN(rho1)) return Number.NaN;
  if (rho1 <= 0) return n;
  return (n * (1 - rho1)) / (1 + rho1);
}

/** Σ (a−e)·ln(a/e) over bins, a = max(count/n, floor), e = the (already floored) expected share. */
export function psiOfCounts(
  counts: ArrayLike<number>,
  n: number,
  expectedFloored: ArrayLike<number>,
  floor: number,
): number {
  let psi = 0;
  for (let i = 0; i < counts.length; i++) {
    const actual = Math.max((counts[i] as number) / n, floor);
    const expected = expectedFloored[i] as number;
    psi += (actual - expected) * Math.log(actual / expected);
  }
  return psi;
}

/** Batch PSI of values[0..length) against a reference (for calibration), same arithmetic as the detector. */
export function psiStatistic(
  reference: BinnedReference,
  values: ArrayLike<number>,
  length = values.length,
  floor: number = PSI_DEFAULTS.floor,
): number {
  const counts = new Int32Array(reference.bins);
  let n = 0;
  for (let i = 0; i < length; i++) {
    const x = values[i] as number;
    if (!Number.isFinite(x)) continue;
    const bin = reference.binOf(x);
    counts[bin] = (counts[bin] as number) + 1;
    n++;
  }
  return psiOfCounts(
    counts,
    n,
    reference.expected.map((e) => Math.max(e, floor)),
    floor,
  );
}

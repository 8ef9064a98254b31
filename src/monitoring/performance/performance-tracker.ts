// Rolling performance of one model version over its last `window` labelled predictions (every symbol of the
// stream): sklearn's classification scores or MAE/RMSE, and the equity curve of a sign-following position,
// reported every `every` labels, with Page-Hinkley on the prediction error to alarm on decay.
// Per label O(1), no object kept or made (its metric terms and counts in one ring slot, an open-addressing
// key → slot index, one Page-Hinkley step); per report O(window): the floating-point sums and the equity curve
// are recomputed over the window in order, so that a report equals batchPerformance over the same labels
// exactly (running float sums would drift from it).

import type { LabelRecord, ModelKind, PerformanceRecord, Timeframe } from '../../domain/types.js';
import { TIMEFRAMES } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { SnapshotReader } from '../../indicators/snapshot-codec.js';
import { CircularBlockSampler, automaticBlockLength, type RandomSource } from '../drift/calibration.js';
import { checkInteger, checkNumber } from '../drift/checks.js';
import {
  PageHinkley,
  runLengthTable,
  thresholdForRunLength,
  type PageHinkleySnapshot,
} from '../drift/page-hinkley.js';
import { MetricRing } from './performance-metrics.js';
import { SlotIndex, hashOf } from './slot-index.js';
import { ItemReader, arrayField } from './snapshot-items.js';

export { batchPerformance } from './performance-metrics.js';

/** The model version a tracker scores (its manifest's identity; monitoring does not import src/models). */
export interface PerformanceModel {
  model: string;
  version: string;
  /** 'sequence' models are scored as regressors */
  kind: ModelKind;
  timeframe: Timeframe;
  /** a classifier's classes (the manifest's output.labels, in order) */
  classes?: readonly string[];
}

export interface PerformanceTrackerOptions {
  /** labelled predictions in the rolling window (default 500) */
  window?: number;
  /**
   * a record after every `every`-th accepted label, new or revised (default: the window, so that each label
   * is in one record and a label costs O(1) amortised; 50 with the window of 500 made 200 records per model
   * per 5m bar at 10,000 symbols)
   */
  every?: number;
  /** mean labels between false error-drift alarms under no change, the calibration's target (default 100,000) */
  errorRunLength?: number;
  /** a regressor's |error| is divided by this before Page-Hinkley (default 1) */
  errorScale?: number;
  /**
   * Page-Hinkley's tolerated increase of the mean error, in scaled error units (default 0.1 × the standard
   * deviation of the calibration errors; 0.05 with a fixed `errorThreshold`)
   */
  errorDelta?: number;
  /** a fixed Page-Hinkley threshold λ: no calibration */
  errorThreshold?: number;
  /** the first labels' errors, taken as the no-drift history the threshold is calibrated on (default 500) */
  errorCalibration?: number;
  /** Page-Hinkley's warm-up (default 30) */
  errorMinCount?: number;
  /** draws the block bootstrap of the calibration errors; required unless `errorThreshold` is given */
  random?: RandomSource;
}

export const PERFORMANCE_DEFAULTS = {
  window: 500,
  errorScale: 1,
  errorRunLength: 100_000,
  errorCalibration: 500,
  errorMinCount: 30,
  /** errorDelta as a share of the calibration errors' standard deviation */
  errorDeltaShare: 0.1,
  /** errorDelta with a fixed threshold */
  errorDelta: 0.05,
} as const;

/**
 * Thresholds tabulated for calibration, in standard deviations of the calibration errors. Rows whose runs all
 * alarm within RUN_LENGTH_MAX values are read; a target past them (100,000 by default) is extrapolated along
 * ln(run length) ~ λ, which Page-Hinkley with δ > 0 approaches from above, so the extrapolated threshold errs
 * low: on Bernoulli errors (rates 0.1 and 0.45) the default target gave measured mean run lengths of about
 * 75,000 and 90,000. The calibration costs RUN_LENGTH_RUNS × RUN_LENGTH_MAX steps once (about 0.2 s).
 */
const THRESHOLD_GRID = [
  0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128,
];
const RUN_LENGTH_RUNS = 100;
const RUN_LENGTH_MAX = 50_000;
const MAX_WINDOW = 1_000_000;
const MAX_CALIBRATION = 100_000;
const KIND = 'mlfp.performance-tracker';
const MODEL_KINDS: readonly ModelKind[] = ['classifier', 'regressor', 'sequence'];

export interface PerformanceTrackerSnapshot {
  kind: 'mlfp.performance-tracker';
  version: 1;
  model: string;
  modelVersion: string;
  modelKind: ModelKind;
  timeframe: Timeframe;
  classes: string[];
  accepted: number;
  expired: number;
  skipped: number;
  stale: number;
  /** the window, oldest first; classifier values are class names */
  entries: {
    symbol: string;
    ts: number;
    labelTs: number;
    revision: number;
    predicted: number | string;
    actual: number | string;
    realisedReturn: number;
  }[];
  /** errors (and their label times) kept for calibration, until the threshold is calibrated */
  calibrationValues: number[];
  calibrationTimes: number[];
  /** constant calibration batches discarded (no spread to calibrate on) */
  calibrationRetries: number;
  pageHinkley: PageHinkleySnapshot | null;
}

/** Error drift while the threshold is still being calibrated: unknown, not "no drift". */
const UNCALIBRATED = { statistic: Number.NaN, threshold: Number.NaN, alarm: false } as const;

/**
 * Per model version: feed every LabelRecord of the model (`onLabel`), get a PerformanceRecord every `every`
 * labels. Expired labels are counted (`expired`), not scored. A revision (same symbol and bar, higher
 * revision) replaces its entry while it is in the window and counts towards `every`; one for an entry no
 * longer in the window, or not higher than the one held, is counted in `stale`. Page-Hinkley sees each
 * label's first error only (it cannot take a value back).
 */
export class PerformanceTracker {
  readonly model: string;
  readonly version: string;
  readonly kind: ModelKind;
  readonly timeframe: Timeframe;
  readonly classes: readonly string[];
  readonly window: number;
  readonly every: number;
  readonly errorScale: number;
  readonly errorRunLength: number;
  readonly errorCalibration: number;
  readonly errorMinCount: number;

  /** labels accepted into the window (new or revised) */
  accepted = 0;
  /** expired labels seen (never scored) */
  expired = 0;
  /** labelled records the metrics cannot read: a class not in `classes`, a non-finite value or return */
  skipped = 0;
  /** revisions for entries no longer in the window, and repeats of a revision already held */
  stale = 0;
  /** constant calibration batches discarded (no spread to calibrate on) */
  calibrationRetries = 0;

  private readonly isClassifier: boolean;
  private readonly classIndex: Map<string, number>;
  /** the window's outcomes and metric terms, by slot */
  private readonly ring: MetricRing;
  private readonly symbols: string[];
  private readonly keyTs: Float64Array;
  private readonly labelTs: Float64Array;
  private readonly revisions: Float64Array;
  private readonly slots: SlotIndex;
  private head = 0;
  private count = 0;

  private readonly errorDelta: number | undefined;
  private readonly random: RandomSource | undefined;
  private detector: PageHinkley | undefined;
  private readonly calibrationValues: Float64Array;
  private readonly calibrationTimes: Float64Array;
  private calibrationFill = 0;

  constructor(identity: PerformanceModel, options: PerformanceTrackerOptions = {}) {
    if (typeof identity.model !== 'string' || identity.model.length === 0)
      throw new MlfpError('config_invalid', 'performance.model must be a name', {
        field: 'performance.model',
        value: identity.model,
      });
    if (typeof identity.version !== 'string' || identity.version.length === 0)
      throw new MlfpError('config_invalid', 'performance.version must be a version', {
        field: 'performance.version',
        value: identity.version,
      });
    if (!MODEL_KINDS.includes(identity.kind))
      throw new MlfpError('config_invalid', `performance.kind must be one of ${MODEL_KINDS.join(', ')}`, {
        field: 'performance.kind',
        value: identity.kind,
      });
    if (!TIMEFRAMES.includes(identity.timeframe))
      throw new MlfpError('config_invalid', `performance.timeframe must be one of ${TIMEFRAMES.join(', ')}`, {
        field: 'performance.timeframe',
        value: identity.timeframe,
      });
    this.model = identity.model;
    this.version = identity.version;
    this.kind = identity.kind;
    this.timeframe = identity.timeframe;
    this.isClassifier = identity.kind === 'classifier';
    if (this.isClassifier) {
      const classes = identity.classes;
      if (
        !Array.isArray(classes) ||
        classes.length < 2 ||
        !classes.every((c) => typeof c === 'string' && c.length > 0) ||
        new Set(classes).size !== classes.length
      )
        throw new MlfpError('config_invalid', 'performance.classes must be at least 2 distinct class names', {
          field: 'performance.classes',
          value: classes,
        });
      this.classes = [...(classes as string[])];
    } else this.classes = [];
    this.classIndex = new Map(this.classes.map((c, i) => [c, i]));
    this.window = checkInteger(
      'performance.window',
      options.window ?? PERFORMANCE_DEFAULTS.window,
      1,
      MAX_WINDOW,
    );
    this.every = checkInteger('performance.every', options.every ?? this.window, 1, MAX_WINDOW);
    this.errorScale = checkNumber(
      'performance.errorScale',
      options.errorScale ?? PERFORMANCE_DEFAULTS.errorScale,
      0,
      1e15,
      true,
    );
    this.errorRunLength = checkNumber(
      'performance.errorRunLength',
      options.errorRunLength ?? PERFORMANCE_DEFAULTS.errorRunLength,
      10,
      1e12,
    );
    this.errorCalibration = checkInteger(
      'performance.errorCalibration',
      options.errorCalibration ?? PERFORMANCE_DEFAULTS.errorCalibration,
      50,
      MAX_CALIBRATION,
    );
    this.errorMinCount = checkInteger(
      'performance.errorMinCount',
      options.errorMinCount ?? PERFORMANCE_DEFAULTS.errorMinCount,
      1,
    );
    this.errorDelta =
      options.errorDelta === undefined
        ? undefined
        : checkNumber('performance.errorDelta', options.errorDelta, 0, 1e12, true);
    this.random = options.random;
    if (options.errorThreshold !== undefined) {
      const threshold = checkNumber('performance.errorThreshold', options.errorThreshold, 0, 1e15, true);
      this.detector = new PageHinkley({
        delta: this.errorDelta ?? PERFORMANCE_DEFAULTS.errorDelta,
        threshold,
        minCount: this.errorMinCount,
      });
    } else if (options.random === undefined || typeof options.random.uniform !== 'function')
      throw new MlfpError(
        'config_invalid',
        'performance.random is needed to calibrate the error drift threshold (or give performance.errorThreshold)',
        { field: 'performance.random' },
      );
    this.ring = new MetricRing(this.kind, this.classes, this.window);
    this.symbols = new Array<string>(this.window).fill('');
    this.keyTs = new Float64Array(this.window);
    this.labelTs = new Float64Array(this.window);
    this.revisions = new Float64Array(this.window);
    this.slots = new SlotIndex(this.window, this.symbols, this.keyTs);
    const calibrating = this.detector === undefined;
    this.calibrationValues = new Float64Array(calibrating ? this.errorCalibration : 0);
    this.calibrationTimes = new Float64Array(calibrating ? this.errorCalibration : 0);
  }

  /** Labelled predictions in the window now. */
  get size(): number {
    return this.count;
  }

  /** Whether Page-Hinkley runs (a fixed threshold, or calibration done). */
  get errorCalibrated(): boolean {
    return this.detector !== undefined;
  }

  /** Takes one label of this model version; a record every `every` accepted labels, else undefined. */
  onLabel(label: LabelRecord): PerformanceRecord | undefined {
    if (label.model !== this.model || label.version !== this.version || label.timeframe !== this.timeframe)
      throw new MlfpError(
        'internal',
        `a label of ${label.model}@${label.version} (${label.timeframe}) reached the tracker of ${this.model}@${this.version} (${this.timeframe})`,
        { field: 'model', value: `${label.model}@${label.version}` },
      );
    if (label.state !== 'labelled') {
      this.expired++;
      return undefined;
    }
    let p: number | undefined;
    let a: number | undefined;
    if (this.isClassifier) {
      p = this.classIndex.get(label.predicted as string);
      a = this.classIndex.get(label.actual as string);
    } else if (
      typeof label.predicted === 'number' &&
      Number.isFinite(label.predicted) &&
      typeof label.actual === 'number' &&
      Number.isFinite(label.actual)
    ) {
      p = label.predicted;
      a = label.actual;
    }
    if (p === undefined || a === undefined || !Number.isFinite(label.realisedReturn)) {
      this.skipped++;
      return undefined;
    }
    const hash = hashOf(label.symbol, label.ts);
    const slot = this.slots.find(hash, label.symbol, label.ts);
    if (slot >= 0) {
      if (!(label.revision > (this.revisions[slot] as number))) {
        this.stale++;
        return undefined;
      }
      this.ring.unset(slot);
      this.write(slot, label, p, a);
    } else {
      if (label.revision > 0) {
        this.stale++;
        return undefined;
      }
      this.add(label, hash, p, a);
      const error = this.isClassifier ? (p === a ? 0 : 1) : Math.abs(p - a) / this.errorScale;
      this.observeError(error, label.labelTs);
    }
    if (++this.accepted % this.every !== 0) return undefined;
    return this.report();
  }

  /** The record of the window now (O(window)); undefined when the window is empty. */
  report(): PerformanceRecord | undefined {
    const n = this.count;
    if (n === 0) return undefined;
    const metrics = this.ring.compute(n < this.window ? 0 : this.head, n);
    let newest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) if ((this.labelTs[i] as number) > newest) newest = this.labelTs[i] as number;
    const detector = this.detector;
    return {
      model: this.model,
      version: this.version,
      kind: this.kind,
      timeframe: this.timeframe,
      ts: newest,
      count: n,
      metrics,
      errorDrift:
        detector === undefined
          ? { ...UNCALIBRATED }
          : {
              statistic: detector.statistic,
              threshold: detector.threshold,
              alarm: detector.status === 'alarm',
            },
    };
  }

  snapshot(): PerformanceTrackerSnapshot {
    const entries: PerformanceTrackerSnapshot['entries'] = [];
    const n = this.count;
    let slot = n < this.window ? 0 : this.head;
    for (let i = 0; i < n; i++) {
      entries.push({
        symbol: this.symbols[slot] as string,
        ts: this.keyTs[slot] as number,
        labelTs: this.labelTs[slot] as number,
        revision: this.revisions[slot] as number,
        predicted: this.valueOut(this.ring.predicted[slot] as number),
        actual: this.valueOut(this.ring.actual[slot] as number),
        realisedReturn: this.ring.returns[slot] as number,
      });
      if (++slot === this.window) slot = 0;
    }
    return {
      kind: KIND,
      version: 1,
      model: this.model,
      modelVersion: this.version,
      modelKind: this.kind,
      timeframe: this.timeframe,
      classes: [...this.classes],
      accepted: this.accepted,
      expired: this.expired,
      skipped: this.skipped,
      stale: this.stale,
      entries,
      calibrationValues: Array.from(this.calibrationValues.subarray(0, this.calibrationFill)),
      calibrationTimes: Array.from(this.calibrationTimes.subarray(0, this.calibrationFill)),
      calibrationRetries: this.calibrationRetries,
      pageHinkley: this.detector?.snapshot() ?? null,
    };
  }

  /**
   * Rebuilds a tracker from `snapshot()` with the options in force now: the model's identity (model,
   * version, kind, timeframe, classes) must match the snapshot's; a smaller window keeps the newest entries. The
   * snapshot's Page-Hinkley state (threshold included) wins over a new `errorThreshold`.
   */
  static restore(
    snapshot: unknown,
    identity: PerformanceModel,
    options: PerformanceTrackerOptions = {},
  ): PerformanceTracker {
    const reader: SnapshotReader = new SnapshotReader(snapshot, KIND, 1);
    const record = snapshot as Record<string, unknown>;
    const hasDetector = record['pageHinkley'] !== null && record['pageHinkley'] !== undefined;
    const tracker = new PerformanceTracker(
      identity,
      hasDetector ? { ...options, errorThreshold: options.errorThreshold ?? 1 } : options,
    );
    if (record['model'] !== tracker.model) reader.fail('model', `not ${tracker.model}`);
    if (record['modelVersion'] !== tracker.version) reader.fail('modelVersion', `not ${tracker.version}`);
    if (record['modelKind'] !== tracker.kind) reader.fail('modelKind', `not ${tracker.kind}`);
    if (record['timeframe'] !== tracker.timeframe) reader.fail('timeframe', `not ${tracker.timeframe}`);
    const classes = arrayField(reader, snapshot, 'classes', 10_000);
    if (classes.length !== tracker.classes.length || classes.some((c, i) => c !== tracker.classes[i]))
      reader.fail('classes', `not [${tracker.classes.join(', ')}]`);
    tracker.accepted = reader.integer('accepted', 0);
    tracker.expired = reader.integer('expired', 0);
    tracker.skipped = reader.integer('skipped', 0);
    tracker.stale = reader.integer('stale', 0);
    tracker.calibrationRetries = reader.integer('calibrationRetries', 0);
    const seen = new Map<string, Set<number>>();
    arrayField(reader, snapshot, 'entries', MAX_WINDOW).forEach((raw, i) => {
      const item: ItemReader = new ItemReader(KIND, raw, `entries[${i}]`);
      const symbol = item.string('symbol');
      const ts = item.finite('ts', -Number.MAX_VALUE, Number.MAX_VALUE);
      let keys = seen.get(symbol);
      if (keys === undefined) seen.set(symbol, (keys = new Set()));
      if (keys.has(ts)) item.fail('ts', 'repeats an earlier entry of the same symbol');
      keys.add(ts);
      const labelTs = item.finite('labelTs', -Number.MAX_VALUE, Number.MAX_VALUE);
      const revision = item.integer('revision', 0);
      const p = tracker.valueIn(item, 'predicted');
      const a = tracker.valueIn(item, 'actual');
      const realisedReturn = item.finite('realisedReturn', -1, Number.MAX_VALUE);
      tracker.add({ symbol, ts, labelTs, revision, realisedReturn } as LabelRecord, hashOf(symbol, ts), p, a);
    });
    if (hasDetector) {
      try {
        tracker.detector = PageHinkley.restore(record['pageHinkley']);
      } catch (error) {
        const cause = error as MlfpError;
        throw new MlfpError('snapshot_invalid', `${KIND} snapshot: pageHinkley: ${cause.message}`, {
          field: `pageHinkley.${cause.field ?? ''}`,
          value: cause.value,
          cause: error,
        });
      }
    } else if (tracker.detector === undefined) {
      const values = arrayField(reader, snapshot, 'calibrationValues', tracker.errorCalibration - 1);
      const times = arrayField(reader, snapshot, 'calibrationTimes', tracker.errorCalibration - 1);
      if (times.length !== values.length) reader.fail('calibrationTimes', 'not as long as calibrationValues');
      values.forEach((value, i) => {
        if (
          typeof value !== 'number' ||
          !(value >= 0) ||
          !Number.isFinite(value) ||
          (tracker.isClassifier && value !== 0 && value !== 1)
        )
          reader.fail('calibrationValues', `element ${i} is not an error (0 or 1, or |error| ≥ 0)`);
        const time = times[i];
        if (typeof time !== 'number' || !Number.isFinite(time))
          reader.fail('calibrationTimes', `element ${i} is not a finite time`);
        tracker.calibrationValues[i] = value;
        tracker.calibrationTimes[i] = time;
      });
      tracker.calibrationFill = values.length;
    }
    return tracker;
  }

  private valueOut(value: number): number | string {
    return this.isClassifier ? (this.classes[value] as string) : value;
  }

  private valueIn(item: ItemReader, field: string): number {
    const raw = item.raw(field);
    if (this.isClassifier) {
      const index = this.classIndex.get(raw as string);
      if (typeof raw !== 'string' || index === undefined) item.fail(field, 'not one of the classes');
      return index;
    }
    if (typeof raw !== 'number' || !Number.isFinite(raw)) item.fail(field, 'not a finite number');
    return raw;
  }

  /** Appends a new entry, evicting the oldest when the window is full. */
  private add(label: LabelRecord, hash: number, p: number, a: number): void {
    const slot = this.head;
    if (this.count === this.window) {
      this.ring.unset(slot);
      this.slots.remove(slot);
    } else this.count++;
    this.head = slot + 1 === this.window ? 0 : slot + 1;
    this.symbols[slot] = label.symbol;
    this.keyTs[slot] = label.ts;
    this.slots.insert(slot, hash);
    this.write(slot, label, p, a);
  }

  private write(slot: number, label: LabelRecord, p: number, a: number): void {
    this.labelTs[slot] = label.labelTs;
    this.revisions[slot] = label.revision;
    this.ring.set(slot, p, a, label.realisedReturn);
  }

  private observeError(error: number, timeMs: number): void {
    if (this.detector !== undefined) {
      this.detector.update(error, timeMs);
      return;
    }
    this.calibrationValues[this.calibrationFill] = error;
    this.calibrationTimes[this.calibrationFill] = timeMs;
    if (++this.calibrationFill === this.errorCalibration) this.calibrate();
  }

  /**
   * Page-Hinkley's threshold for the target run length, from a run-length table simulated on a circular block
   * bootstrap of the calibration errors (taken as the no-drift history); the detector then takes those
   * errors as its first values. Errors without spread are discarded and the next batch is tried. Once per
   * tracker: RUN_LENGTH_RUNS runs of at most RUN_LENGTH_MAX values.
   */
  private calibrate(): void {
    const values = this.calibrationValues;
    const n = values.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += values[i] as number;
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += ((values[i] as number) - mean) ** 2;
    const std = Math.sqrt(variance / n);
    this.calibrationFill = 0;
    if (!(std > 1e-12 * Math.max(1, mean))) {
      this.calibrationRetries++;
      return;
    }
    const delta = this.errorDelta ?? PERFORMANCE_DEFAULTS.errorDeltaShare * std;
    // strongly autocorrelated errors ask for blocks longer than the history: a block is at most all of it
    const sampler = new CircularBlockSampler(
      values,
      Math.min(n, automaticBlockLength(values, RUN_LENGTH_MAX).blockLength),
      this.random as RandomSource,
    );
    const table = runLengthTable(() => sampler.next(), {
      delta,
      thresholds: THRESHOLD_GRID.map((k) => k * std),
      runs: RUN_LENGTH_RUNS,
      maxLength: RUN_LENGTH_MAX,
      minCount: this.errorMinCount,
    });
    let threshold: number;
    try {
      threshold = thresholdForRunLength(table, this.errorRunLength);
    } catch (error) {
      throw new MlfpError(
        'config_invalid',
        `performance.errorDelta ${delta} leaves Page-Hinkley no threshold to calibrate (errors' spread ${std})`,
        { field: 'performance.errorDelta', value: delta, cause: error },
      );
    }
    const detector = new PageHinkley({ delta, threshold, minCount: this.errorMinCount });
    for (let i = 0; i < n; i++) detector.update(values[i] as number, this.calibrationTimes[i] as number);
    this.detector = detector;
  }
}

// All drift detectors of one model version: per input and per output with a reference histogram, one PSI
// (the fixed 0.1/0.25 thresholds behind an effective-sample-size gate) and one KS (cut calibrated
// from this stream's own no-drift history for the model's false-alarm budget). Values of the model's
// timeframe are pooled into one window per series, from a stable hash-chosen sample of at most `maxSymbols`
// symbols (sampling.ts): a vector or prediction of a symbol outside it costs one Map lookup. A sampled one
// costs O(series): one bin search per value, shared by PSI and KS; no allocation.
//
// Pooling makes a window interleave symbols, so a lag-1 autocorrelation of the window sees neighbours from
// different symbols and calls a dependent stream independent. Dependence is therefore measured per symbol:
// the ESS gate pairs each value with its own symbol's previous one, and the KS bootstrap runs on the history
// regrouped symbol by symbol (series/blocks of one symbol), with blocks at most a window's share per symbol.

import { DAY_MS, TIMEFRAME_MS } from '../../domain/time.js';
import {
  FEATURE_COUNT,
  TIMEFRAMES,
  type FeatureVector,
  type Prediction,
  type Timeframe,
} from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { encodeNumber, SnapshotReader, type SnapshotNumber } from '../../indicators/snapshot-codec.js';
import {
  automaticBlockLength,
  bootstrapCut,
  lag1Autocorrelation,
  splitFalseAlarmBudget,
  type RandomSource,
} from './calibration.js';
import { checkInteger, checkNumber } from './checks.js';
import { KS_DEFAULTS, KsDetector, KsReference, type KsSnapshot } from './ks.js';
import { PSI_DEFAULTS, PsiDetector, type PsiSnapshot } from './psi.js';
import { BinnedReference, fingerprint, type ReferenceHistogram } from './reference.js';
import { SymbolSample, symbolHash, type SampledSymbol } from './sampling.js';

/** What ModelDrift needs of a model manifest (monitoring may not import src/models: the caller maps it). */
export interface ModelDriftSpec {
  model: string;
  version: string;
  /** the manifest's timeframe: vectors and predictions of other timeframes are ignored */
  timeframe: Timeframe;
  /** feature names in the model's input order (the manifest's inputs.features) */
  inputs: readonly string[];
  /** FEATURE_COLUMNS index of each input: vector.values[featureIndex[i]] is inputs[i] */
  featureIndex: readonly number[];
  /** numeric output keys of a prediction to watch (`value`, `p_up`…): outputNamesOf(manifest) */
  outputs: readonly string[];
  /** the manifest's reference; absent: every series is skipped (and listed in `skipped`) */
  reference?:
    | {
        inputs: Readonly<Record<string, ReferenceHistogram>>;
        outputs: Readonly<Record<string, ReferenceHistogram>>;
      }
    | undefined;
}

/** Config `monitoring.drift.*`, key for key. */
export interface ModelDriftOptions {
  /** false alarms per model per week the KS cuts are calibrated for (default 1) */
  alarmsPerWeek?: number;
  /**
   * symbols feeding this model: evaluations per week = bars per week × min(expectedSymbols, maxSymbols) /
   * ks.every (default 1)
   */
  expectedSymbols?: number;
  /**
   * most symbols whose values feed the detectors: the sampled ones, of lowest symbol hash among those seen
   * (default 500); the others' vectors and predictions are counted (`sampled`) and ignored
   */
  maxSymbols?: number;
  psi?: {
    window?: number;
    minCount?: number;
    every?: number;
    minEss?: number;
    warn?: number;
    alert?: number;
    floor?: number;
  };
  ks?: { window?: number; minCount?: number; every?: number };
  calibration?: {
    /** no-drift values per series the KS cut is bootstrapped from (default 5,000; at least ks.window) */
    values?: number;
    /** bootstrap windows per series (default 2,000) */
    replicates?: number;
    /** seed of the bootstrap (each series draws from its own stream derived from it; default 19) */
    seed?: number;
  };
}

/** Wiring, not config: the project's PRNG (src/streams/random.ts `Random`) and who hears state changes. */
export interface ModelDriftDependencies {
  random: (seed: number) => RandomSource;
  /** called when a detector's state changes (never per value otherwise); must not throw */
  onChange?: ((change: DriftChange) => void) | undefined;
}

export type DriftKey = `input:${string}` | `output:${string}`;
export type DriftDetectorName = 'psi' | 'ks';
/**
 * calibrating: KS waits for its no-drift history; warming: too few values in the window; gated: PSI's
 * window holds too few independent values to be read; ok / warn (PSI only) / alert.
 */
export type DriftState = 'calibrating' | 'warming' | 'gated' | 'ok' | 'warn' | 'alert';
const STATES: readonly DriftState[] = ['calibrating', 'warming', 'gated', 'ok', 'warn', 'alert'];

export interface DriftStatusRow {
  key: DriftKey;
  detector: DriftDetectorName;
  /** PSI, or √n·D for KS, at the last evaluation (NaN before it, or while gated) */
  value: number;
  /** PSI: the alert threshold (warn is `psiWarn`); KS: the calibrated cut (NaN while calibrating) */
  cut: number;
  state: DriftState;
  /** time passed with the value that triggered the last evaluation (NaN before it) */
  evaluatedAtMs: number;
}

export interface DriftChange {
  model: string;
  version: string;
  key: DriftKey;
  detector: DriftDetectorName;
  from: DriftState;
  to: DriftState;
  value: number;
  cut: number;
  timeMs: number;
}

export interface DriftSkip {
  key: DriftKey;
  detectors: readonly DriftDetectorName[];
  reason: string;
}

export interface DriftCalibration {
  key: DriftKey;
  /** cut on √n·D */
  cut: number;
  beta: number;
  method: 'empirical' | 'extrapolated';
  blockLength: number;
  /**
   * `automatic`: the longer Politis–White length of the values and of their distance from the median (at
   * most the window's share per symbol); `window share`: that share, as Politis–White found no length
   */
  blockRule: 'automatic' | 'window share';
  /** symbols the history held (blocks are at most ks.window / symbols long) */
  symbols: number;
  /** history values used */
  values: number;
  /** lag-1 autocorrelation of the regrouped history */
  rho1: number;
  source: 'live' | 'history';
}

export interface DriftBudget {
  /** d: KS and PSI of every watched series (PSI's half is reserved: its thresholds are fixed) */
  detectors: number;
  /** symbols whose values are evaluated: min(expectedSymbols, maxSymbols) */
  symbols: number;
  /** evaluation rounds per week: bars per week (7 × 24 h) × symbols / ks.every */
  evaluationsPerWeek: number;
  requestedAlarmsPerWeek: number;
  /** what the cuts use: the request, or fewer when it would leave under MIN_RUN_LENGTH rounds between alarms */
  alarmsPerWeek: number;
  /** expected evaluation rounds to a false alarm of the whole model */
  ert: number;
  /** false-alarm probability of one KS detector per evaluation */
  beta: number;
}

export const MODEL_DRIFT_DEFAULTS = {
  alarmsPerWeek: 1,
  expectedSymbols: 1,
  maxSymbols: 500,
  psi: PSI_DEFAULTS,
  ks: KS_DEFAULTS,
  calibration: { values: 5_000, replicates: 2_000, seed: 19 },
} as const;

/** Fewest evaluation rounds between two false alarms of a model a budget may ask for (1d bars of one symbol). */
export const MIN_RUN_LENGTH = 20;
const STATISTICS_PER_SERIES = 2;
const MAX_WINDOW = 1_000_000;
const MAX_HISTORY = 10_000_000;
const BARS_PER_WEEK: Readonly<Record<Timeframe, number>> = {
  '5m': (7 * DAY_MS) / TIMEFRAME_MS['5m'],
  '1h': (7 * DAY_MS) / TIMEFRAME_MS['1h'],
  '1d': (7 * DAY_MS) / TIMEFRAME_MS['1d'],
};

// exponentially weighted sums over pairs (value, same symbol's previous value), centred on the reference
// median: [weight, Σx, Σy, Σx², Σy², Σxy, Σgap]; gap = this series' values between the two
const GATE_SUMS = 7;

interface NormalisedOptions {
  alarmsPerWeek: number;
  expectedSymbols: number;
  maxSymbols: number;
  psi: Required<NonNullable<ModelDriftOptions['psi']>>;
  ks: Required<NonNullable<ModelDriftOptions['ks']>>;
  calibration: Required<NonNullable<ModelDriftOptions['calibration']>>;
}

type Stage = 'collecting' | 'pending' | 'calibrated' | 'failed';
const STAGES: readonly Stage[] = ['collecting', 'pending', 'calibrated', 'failed'];

/** One watched input or output: its PSI and KS, the ESS gate's sums and, until calibrated, its history. */
class Series {
  psi: PsiDetector;
  ks: KsDetector | undefined = undefined;
  readonly gate = new Float64Array(GATE_SUMS);
  psiState: DriftState = 'warming';
  ksState: DriftState = 'calibrating';
  psiValue = Number.NaN;
  /** pooled effective sample size at the last PSI evaluation */
  psiEss = Number.NaN;
  stage: Stage = 'collecting';
  /** ring of the latest no-drift values (and their symbols) until calibrated */
  history: Float64Array | undefined;
  historySymbols: Int32Array | undefined;
  historyCount = 0;
  historyHead = 0;
  calibration: DriftCalibration | undefined = undefined;
  failure: string | undefined = undefined;
  /** finite values fed */
  seq = 0;
  /** non-finite values (warm-up, missing) and non-numeric outputs, not fed */
  skipped = 0;
  lastTimeMs = Number.NaN;

  constructor(
    readonly key: DriftKey,
    /** FEATURE_COLUMNS index (inputs) or −1 (outputs) */
    readonly column: number,
    /** output key (outputs) */
    readonly outputName: string,
    /** position among the watched series (per-symbol arrays) */
    readonly slot: number,
    readonly binned: BinnedReference,
    readonly ksReference: KsReference,
    options: NormalisedOptions,
  ) {
    // the ESS gate is pooled per symbol here (`gate`): the PSI keeps bins only
    this.psi = new PsiDetector(binned, { ...options.psi, minEss: 0, autocorrelation: false });
    this.history = new Float64Array(options.calibration.values);
    this.historySymbols = new Int32Array(options.calibration.values);
  }
}

/** A symbol the sample admitted at some time (`admitted`: in it now), or OUT_OF_SAMPLE. */
interface SymbolState extends SampledSymbol {
  /** index in `tracked` (−1: OUT_OF_SAMPLE) */
  readonly id: number;
  lastFeatureTs: number;
  lastPredictionTs: number;
  /** each series' last value of this symbol (NaN: none) and the series' value count then */
  readonly last: Float64Array;
  readonly lastSeq: Float64Array;
}

/** What the symbol map holds for every symbol the sample never admitted: one shared state, never admitted. */
const OUT_OF_SAMPLE: SymbolState = {
  name: '',
  hash: 0,
  admitted: false,
  id: -1,
  lastFeatureTs: Number.NaN,
  lastPredictionTs: Number.NaN,
  last: new Float64Array(0),
  lastSeq: new Float64Array(0),
};

/** Symbol sampling at a glance (gauges): how many symbols feed the detectors, how many were left out. */
export interface DriftSampling {
  maxSymbols: number;
  /** symbols whose values feed the detectors now */
  admitted: number;
  /** symbols admitted once, displaced later by symbols of lower hash (their values stay until they age out) */
  displaced: number;
  /** symbols never admitted */
  excluded: number;
  /** vectors and predictions of symbols outside the sample, ignored */
  outOfSample: number;
}

export interface ModelDriftSnapshot {
  kind: 'mlfp.drift.model';
  version: 2;
  model: string;
  modelVersion: string;
  /** hash of the spec's shape, references and options: restore refuses a snapshot of another configuration */
  configuration: string;
  otherTimeframe: number;
  repeated: number;
  otherModel: number;
  outOfSample: number;
  /** series keys waiting for calibration, in order */
  pending: string[];
  /** every symbol the sample admitted at some time, in order of arrival (history symbol ids index it) */
  symbols: SymbolSnapshot[];
  /** symbols seen and never admitted (restore checks that the sample would still refuse them) */
  excluded: string[];
  series: SeriesSnapshot[];
}

interface SymbolSnapshot {
  kind: 'mlfp.drift.model.symbol';
  version: 2;
  symbol: string;
  /** in the sample now (false: displaced) */
  admitted: boolean;
  lastFeatureTs: SnapshotNumber;
  lastPredictionTs: SnapshotNumber;
  last: SnapshotNumber[];
  lastSeq: number[];
}

interface SeriesSnapshot {
  kind: 'mlfp.drift.model.series';
  version: 1;
  key: string;
  seq: number;
  skipped: number;
  lastTimeMs: SnapshotNumber;
  gate: number[];
  psiState: DriftState;
  ksState: DriftState;
  psiValue: SnapshotNumber;
  psiEss: SnapshotNumber;
  stage: Stage;
  psi: PsiSnapshot;
  ks: KsSnapshot | null;
  /** the history ring, oldest first, and the symbol id of each value */
  history: number[];
  historySymbols: number[];
  calibration: DriftCalibration | null;
  failure: string | null;
}

/**
 * The drift detectors of one model version. Feed `onFeatures` and `onPrediction`; read `status()` for gauges;
 * hear state changes through `dependencies.onChange`. The KS of a series is calibrated once its first
 * `calibration.values` finite values arrived (or from `calibrate(history)`): one series per later call, so
 * no call pays for more than one bootstrap.
 */
export class ModelDrift {
  readonly model: string;
  readonly version: string;
  readonly timeframe: Timeframe;
  readonly budget: DriftBudget;
  /** PSI's warn threshold (status rows carry the alert threshold as `cut`) */
  readonly psiWarn: number;
  /** vectors or predictions of another timeframe, ignored */
  otherTimeframe = 0;
  /** vectors or predictions not newer than the symbol's last one (revisions, replays), ignored */
  repeated = 0;
  /** predictions of another model or version, ignored */
  otherModel = 0;
  /** vectors and predictions of symbols outside the sample, ignored */
  outOfSample = 0;

  private readonly options: NormalisedOptions;
  private readonly random: (seed: number) => RandomSource;
  private readonly onChange: ((change: DriftChange) => void) | undefined;
  private readonly skips: DriftSkip[];
  private readonly configuration: string;
  private series: Series[];
  private inputs: Series[];
  private outputs: Series[];
  /** a prediction's numeric outputs, one per output series (NaN: not a number), so `add` reads them unboxed */
  private readonly outputValues: Float64Array;
  /** every symbol seen: its state (admitted now or once) or OUT_OF_SAMPLE */
  private symbols = new Map<string, SymbolState>();
  /** every symbol admitted at some time, by id */
  private tracked: SymbolState[] = [];
  private sample: SymbolSample<SymbolState>;
  private pending: Series[] = [];

  constructor(spec: ModelDriftSpec, options: ModelDriftOptions = {}, dependencies: ModelDriftDependencies) {
    if (typeof dependencies?.random !== 'function')
      throw new MlfpError('config_invalid', 'dependencies.random must be a function (seed) => RandomSource', {
        field: 'dependencies.random',
      });
    this.random = dependencies.random;
    this.onChange = dependencies.onChange;
    this.options = normaliseOptions(options);
    checkSpec(spec);
    this.model = spec.model;
    this.version = spec.version;
    this.timeframe = spec.timeframe;
    this.psiWarn = this.options.psi.warn;
    this.sample = new SymbolSample(this.options.maxSymbols);
    this.skips = [];
    const watched: Array<{ key: DriftKey; column: number; name: string; binned: BinnedReference }> = [];
    const consider = (kind: 'input' | 'output', name: string, column: number): void => {
      const key: DriftKey = `${kind}:${name}`;
      const table = kind === 'input' ? spec.reference?.inputs : spec.reference?.outputs;
      const histogram = table !== undefined && Object.hasOwn(table, name) ? table[name] : undefined;
      if (histogram === undefined) {
        this.skips.push({
          key,
          detectors: ['psi', 'ks'],
          reason:
            spec.reference === undefined
              ? 'the manifest has no reference'
              : `no reference histogram for ${kind} "${name}" in the manifest`,
        });
        return;
      }
      if (Array.isArray(histogram.edges) && histogram.edges.length < 3) {
        this.skips.push({
          key,
          detectors: ['psi', 'ks'],
          reason: 'the reference has one bin: nothing to compare',
        });
        return;
      }
      const binned = new BinnedReference(histogram, `spec.reference.${kind}s.${name}`);
      watched.push({ key, column, name, binned });
    };
    spec.inputs.forEach((name, i) => consider('input', name, spec.featureIndex[i] as number));
    for (const name of spec.outputs) consider('output', name, -1);
    this.series = watched.map(
      (w, slot) =>
        new Series(
          w.key,
          w.column,
          w.name,
          slot,
          w.binned,
          KsReference.fromHistogram(w.binned),
          this.options,
        ),
    );
    this.inputs = this.series.filter((s) => s.column >= 0);
    this.outputs = this.series.filter((s) => s.column < 0);
    this.outputValues = new Float64Array(this.outputs.length);
    this.budget = budgetOf(this.series.length, this.timeframe, this.options);
    this.configuration = fingerprintText(
      JSON.stringify({
        model: spec.model,
        version: spec.version,
        timeframe: spec.timeframe,
        series: watched.map((w) => [w.key, w.column, w.binned.fingerprint]),
        skipped: this.skips.map((s) => s.key),
        options: this.options,
      }),
    );
  }

  /** Series left out, and why (no reference, a one-bin reference, a failed KS calibration). */
  get skipped(): readonly DriftSkip[] {
    const failed: DriftSkip[] = [];
    for (const s of this.series)
      if (s.stage === 'failed') failed.push({ key: s.key, detectors: ['ks'], reason: s.failure ?? '' });
    return [...this.skips, ...failed];
  }

  /** Symbol sampling: symbols in, displaced and excluded, and the vectors and predictions left out. */
  get sampled(): DriftSampling {
    return {
      maxSymbols: this.options.maxSymbols,
      admitted: this.sample.size,
      displaced: this.tracked.length - this.sample.size,
      excluded: this.symbols.size - this.tracked.length,
      outOfSample: this.outOfSample,
    };
  }

  /** Series whose KS waits for its bootstrap (history full). */
  get pendingCalibrations(): number {
    return this.pending.length;
  }

  /**
   * Feeds one feature vector (other timeframes, symbols outside the sample and repeats of a symbol's bar are
   * ignored); O(inputs).
   */
  onFeatures(vector: FeatureVector, timeMs: number): void {
    if (vector.timeframe !== this.timeframe) {
      this.otherTimeframe++;
      return;
    }
    const symbol = this.symbols.get(vector.symbol) ?? this.enter(vector.symbol);
    if (!symbol.admitted) {
      this.outOfSample++;
      return;
    }
    if (!(vector.ts > symbol.lastFeatureTs)) {
      this.repeated++;
      return;
    }
    symbol.lastFeatureTs = vector.ts;
    const values = vector.values;
    const inputs = this.inputs;
    for (let i = 0; i < inputs.length; i++) {
      const series = inputs[i] as Series;
      this.add(series, values, series.column, symbol, timeMs);
    }
    if (this.pending.length > 0) this.calibrateNext();
  }

  /**
   * Feeds one prediction's numeric outputs (other models, versions, timeframes, symbols outside the sample and
   * repeats ignored).
   */
  onPrediction(prediction: Prediction, timeMs: number): void {
    if (prediction.model !== this.model || prediction.version !== this.version) {
      this.otherModel++;
      return;
    }
    if (prediction.timeframe !== this.timeframe) {
      this.otherTimeframe++;
      return;
    }
    const symbol = this.symbols.get(prediction.symbol) ?? this.enter(prediction.symbol);
    if (!symbol.admitted) {
      this.outOfSample++;
      return;
    }
    if (!(prediction.ts > symbol.lastPredictionTs)) {
      this.repeated++;
      return;
    }
    symbol.lastPredictionTs = prediction.ts;
    const output = prediction.output;
    const outputs = this.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const series = outputs[i] as Series;
      const value = output[series.outputName];
      this.outputValues[i] = typeof value === 'number' ? value : Number.NaN;
      this.add(series, this.outputValues, i, symbol, timeMs);
    }
    if (this.pending.length > 0) this.calibrateNext();
  }

  /** Runs the next waiting KS calibration now (feeding runs one per call by itself); false when none waits. */
  calibrateNext(): boolean {
    const series = this.pending.shift();
    if (series === undefined) return false;
    const count = series.historyCount;
    const capacity = (series.history as Float64Array).length;
    const values = new Float64Array(count);
    const ids = new Int32Array(count);
    for (let i = 0, slot = (series.historyHead - count + capacity) % capacity; i < count; i++) {
      values[i] = (series.history as Float64Array)[slot] as number;
      ids[i] = (series.historySymbols as Int32Array)[slot] as number;
      if (++slot === capacity) slot = 0;
    }
    const { regrouped, symbols } = regroupBySymbol(values, ids, this.tracked.length);
    this.calibrateSeries(series, regrouped, symbols, 'live');
    // the KS window starts from the latest live values, so it is warm at once
    const ks = series.ks;
    if (ks !== undefined)
      for (let i = Math.max(0, count - ks.window); i < count; i++)
        if (ks.update(values[i] as number, series.lastTimeMs)) this.ksEvaluated(series, series.lastTimeMs);
    return true;
  }

  /**
   * Calibrates the KS of the given series now from no-drift history (e.g. warm-up bars), instead of waiting
   * for live values: key → one series in time order, or one array per symbol. Non-finite values are dropped;
   * each needs at least ks.window finite values. Synchronous (one bootstrap per key); the KS window then
   * fills from live values. A key already calibrated is refused.
   */
  calibrate(history: Readonly<Record<string, Float64Array | readonly Float64Array[]>>): DriftCalibration[] {
    const jobs: Array<{ series: Series; values: Float64Array; symbols: number }> = [];
    for (const [key, raw] of Object.entries(history)) {
      const field = `history.${key}`;
      const series = this.series.find((s) => s.key === key);
      if (series === undefined)
        throw new MlfpError(
          'config_invalid',
          `${field}: not a watched series of ${this.model}@${this.version}`,
          {
            field,
            value: key,
          },
        );
      if (series.stage === 'calibrated' || series.stage === 'failed')
        throw new MlfpError('config_invalid', `${field}: already calibrated`, { field, value: key });
      const parts = raw instanceof Float64Array ? [raw] : raw;
      let total = 0;
      let symbols = 0;
      for (const part of parts) {
        let finite = 0;
        for (let i = 0; i < part.length; i++) if (Number.isFinite(part[i])) finite++;
        total += finite;
        if (finite > 0) symbols++;
      }
      if (total < this.options.ks.window)
        throw new MlfpError(
          'config_invalid',
          `${field} holds ${total} finite values, fewer than one KS window (${this.options.ks.window})`,
          { field, value: total },
        );
      const values = new Float64Array(total);
      let at = 0;
      for (const part of parts)
        for (let i = 0; i < part.length; i++) if (Number.isFinite(part[i])) values[at++] = part[i] as number;
      jobs.push({ series, values, symbols });
    }
    const done: DriftCalibration[] = [];
    for (const job of jobs) {
      const queued = this.pending.indexOf(job.series);
      if (queued >= 0) this.pending.splice(queued, 1);
      this.calibrateSeries(job.series, job.values, job.symbols, 'history');
      if (job.series.calibration !== undefined) done.push(job.series.calibration);
    }
    return done;
  }

  /** One row per detector of every watched series (a failed KS calibration is in `skipped`, not here). */
  status(): DriftStatusRow[] {
    const rows: DriftStatusRow[] = [];
    for (const s of this.series) {
      rows.push({
        key: s.key,
        detector: 'psi',
        value: s.psiValue,
        cut: this.options.psi.alert,
        state: s.psiState,
        evaluatedAtMs: s.psi.evaluatedAtMs,
      });
      if (s.stage === 'failed') continue;
      rows.push({
        key: s.key,
        detector: 'ks',
        value: s.ks?.scaled ?? Number.NaN,
        cut: s.ks?.cut ?? Number.NaN,
        state: s.ksState,
        evaluatedAtMs: s.ks?.evaluatedAtMs ?? Number.NaN,
      });
    }
    return rows;
  }

  /** The KS calibrations done so far. */
  calibrations(): DriftCalibration[] {
    const out: DriftCalibration[] = [];
    for (const s of this.series) if (s.calibration !== undefined) out.push({ ...s.calibration });
    return out;
  }

  /** Pooled effective sample size of a series' PSI window at its last evaluation (NaN before it). */
  effectiveSampleSize(key: DriftKey): number {
    return this.series.find((s) => s.key === key)?.psiEss ?? Number.NaN;
  }

  snapshot(): ModelDriftSnapshot {
    const symbols: SymbolSnapshot[] = this.tracked.map((state) => {
      return {
        kind: 'mlfp.drift.model.symbol',
        version: 2,
        symbol: state.name,
        admitted: state.admitted,
        lastFeatureTs: encodeNumber(state.lastFeatureTs),
        lastPredictionTs: encodeNumber(state.lastPredictionTs),
        last: Array.from(state.last, encodeNumber),
        lastSeq: Array.from(state.lastSeq),
      };
    });
    const series: SeriesSnapshot[] = this.series.map((s) => {
      const history: number[] = [];
      const historySymbols: number[] = [];
      if (s.history !== undefined && s.historySymbols !== undefined) {
        const capacity = s.history.length;
        for (
          let i = 0, slot = (s.historyHead - s.historyCount + capacity) % capacity;
          i < s.historyCount;
          i++
        ) {
          history.push(s.history[slot] as number);
          historySymbols.push(s.historySymbols[slot] as number);
          if (++slot === capacity) slot = 0;
        }
      }
      return {
        kind: 'mlfp.drift.model.series',
        version: 1,
        key: s.key,
        seq: s.seq,
        skipped: s.skipped,
        lastTimeMs: encodeNumber(s.lastTimeMs),
        gate: Array.from(s.gate),
        psiState: s.psiState,
        ksState: s.ksState,
        psiValue: encodeNumber(s.psiValue),
        psiEss: encodeNumber(s.psiEss),
        stage: s.stage,
        psi: s.psi.snapshot(),
        ks: s.ks?.snapshot() ?? null,
        history,
        historySymbols,
        calibration: s.calibration === undefined ? null : { ...s.calibration },
        failure: s.failure ?? null,
      };
    });
    const excluded: string[] = [];
    for (const [name, state] of this.symbols) if (state === OUT_OF_SAMPLE) excluded.push(name);
    return {
      kind: 'mlfp.drift.model',
      version: 2,
      model: this.model,
      modelVersion: this.version,
      configuration: this.configuration,
      otherTimeframe: this.otherTimeframe,
      repeated: this.repeated,
      otherModel: this.otherModel,
      outOfSample: this.outOfSample,
      pending: this.pending.map((s) => s.key),
      symbols,
      excluded,
      series,
    };
  }

  /**
   * Replaces all state with a snapshot of a ModelDrift built from the same spec and options. Validates all
   * of it first (snapshot_invalid naming the field), so a bad snapshot leaves this one unchanged. No change
   * is announced: the restored states are where the snapshot's were.
   */
  restore(snapshot: unknown): void {
    const reader: SnapshotReader = new SnapshotReader(snapshot, 'mlfp.drift.model', 2);
    const record = snapshot as Record<string, unknown>;
    if (record['model'] !== this.model || record['modelVersion'] !== this.version)
      reader.fail('model', `taken for another model (expected ${this.model}@${this.version})`);
    if (record['configuration'] !== this.configuration)
      reader.fail('configuration', 'taken with another spec, reference or options');
    const otherTimeframe = reader.integer('otherTimeframe', 0);
    const repeated = reader.integer('repeated', 0);
    const otherModel = reader.integer('otherModel', 0);
    const outOfSample = reader.integer('outOfSample', 0);
    const width = this.series.length;

    const rawSymbols = record['symbols'];
    if (!Array.isArray(rawSymbols)) reader.fail('symbols', 'not an array');
    const tracked: SymbolState[] = [];
    const symbols = new Map<string, SymbolState>();
    const sample = new SymbolSample<SymbolState>(this.options.maxSymbols);
    for (const raw of rawSymbols) {
      const item: SnapshotReader = new SnapshotReader(raw, 'mlfp.drift.model.symbol', 2);
      const name = (raw as Record<string, unknown>)['symbol'];
      if (typeof name !== 'string' || name === '' || symbols.has(name))
        item.fail('symbol', 'not a unique non-empty string');
      const admitted = (raw as Record<string, unknown>)['admitted'];
      if (typeof admitted !== 'boolean') item.fail('admitted', 'not a boolean');
      const state: SymbolState = {
        name,
        hash: symbolHash(name),
        admitted: false,
        id: tracked.length,
        lastFeatureTs: item.number('lastFeatureTs'),
        lastPredictionTs: item.number('lastPredictionTs'),
        last: new Float64Array(width),
        lastSeq: new Float64Array(width),
      };
      item.numbers('last', width, state.last);
      item.numbers('lastSeq', width, state.lastSeq);
      if (admitted) {
        if (sample.size === sample.capacity)
          reader.fail('symbols', `admits more than maxSymbols (${sample.capacity})`);
        sample.add(state);
      }
      symbols.set(name, state);
      tracked.push(state);
    }
    const rawExcluded = record['excluded'];
    if (!Array.isArray(rawExcluded)) reader.fail('excluded', 'not an array');
    for (const name of rawExcluded) {
      if (typeof name !== 'string' || name === '' || symbols.has(name))
        reader.fail('excluded', 'holds a name that is not a unique non-empty string');
      symbols.set(name, OUT_OF_SAMPLE);
    }
    // the sample keeps the lowest hashes of all symbols seen: every symbol out must rank above all those in
    for (const [name, state] of symbols)
      if (!state.admitted && sample.admits(symbolHash(name), name))
        reader.fail(state === OUT_OF_SAMPLE ? 'excluded' : 'symbols', `"${name}" would be in the sample`);

    const rawSeries = record['series'];
    if (!Array.isArray(rawSeries) || rawSeries.length !== width)
      reader.fail('series', `expected ${width} entries`);
    const restored = this.series.map((template, i) => {
      const raw = rawSeries[i] as unknown;
      const item: SnapshotReader = new SnapshotReader(raw, 'mlfp.drift.model.series', 1);
      const entry = raw as Record<string, unknown>;
      if (entry['key'] !== template.key) item.fail('key', `expected "${template.key}"`);
      const series = new Series(
        template.key,
        template.column,
        template.outputName,
        template.slot,
        template.binned,
        template.ksReference,
        this.options,
      );
      series.seq = item.integer('seq', 0);
      series.skipped = item.integer('skipped', 0);
      series.lastTimeMs = item.number('lastTimeMs');
      item.numbers('gate', GATE_SUMS, series.gate);
      series.psiState = item.choice('psiState', STATES);
      series.ksState = item.choice('ksState', STATES);
      series.psiValue = item.number('psiValue');
      series.psiEss = item.number('psiEss');
      series.stage = item.choice('stage', STAGES);
      series.psi = PsiDetector.restore(entry['psi'], template.binned);
      const psiOptions = this.options.psi;
      const psi = series.psi;
      if (
        psi.minEss !== 0 ||
        psi.autocorrelation ||
        psi.window !== psiOptions.window ||
        psi.minCount !== psiOptions.minCount ||
        psi.every !== psiOptions.every ||
        psi.warn !== psiOptions.warn ||
        psi.alert !== psiOptions.alert ||
        psi.floor !== psiOptions.floor
      )
        item.fail(
          'psi',
          'taken with other PSI options (minEss 0, no autocorrelation: the gate is pooled, in ModelDrift)',
        );
      const ks = entry['ks'];
      const calibrated = series.stage === 'calibrated';
      if (calibrated !== (ks !== null)) item.fail('ks', `must be ${calibrated ? 'a KS snapshot' : 'null'}`);
      if (calibrated) {
        const detector = KsDetector.restore(ks, template.ksReference);
        const ksOptions = this.options.ks;
        if (
          detector.window !== ksOptions.window ||
          detector.minCount !== ksOptions.minCount ||
          detector.every !== ksOptions.every
        )
          item.fail('ks', 'taken with other KS options');
        series.ks = detector;
      }
      const calibration = entry['calibration'];
      if (calibrated !== (calibration !== null && typeof calibration === 'object'))
        item.fail('calibration', `must be ${calibrated ? 'an object' : 'null'}`);
      series.calibration = calibrated ? { ...(calibration as DriftCalibration) } : undefined;
      const failure = entry['failure'];
      if ((series.stage === 'failed') !== (typeof failure === 'string'))
        item.fail('failure', 'does not match stage');
      series.failure = typeof failure === 'string' ? failure : undefined;
      const history = entry['history'];
      const historySymbols = entry['historySymbols'];
      const collecting = series.stage === 'collecting' || series.stage === 'pending';
      const capacity = this.options.calibration.values;
      if (
        !Array.isArray(history) ||
        !Array.isArray(historySymbols) ||
        history.length !== historySymbols.length
      )
        item.fail('history', 'history and historySymbols must be arrays of one length');
      if (history.length > (collecting ? capacity : 0))
        item.fail('history', `holds more than ${collecting ? capacity : 0} values`);
      if (series.stage === 'pending' && history.length !== capacity)
        item.fail('history', 'a pending series has a full history');
      if (collecting) {
        for (let k = 0; k < history.length; k++) {
          const x = history[k] as unknown;
          const id = historySymbols[k] as unknown;
          if (typeof x !== 'number' || !Number.isFinite(x))
            item.fail('history', `element ${k} is not finite`);
          if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= tracked.length)
            item.fail('historySymbols', `element ${k} is not a symbol index`);
          (series.history as Float64Array)[k] = x;
          (series.historySymbols as Int32Array)[k] = id;
        }
        series.historyCount = history.length;
        series.historyHead = history.length % capacity;
      } else {
        series.history = undefined;
        series.historySymbols = undefined;
      }
      return series;
    });
    const rawPending = record['pending'];
    if (!Array.isArray(rawPending)) reader.fail('pending', 'not an array');
    const pending: Series[] = [];
    for (const key of rawPending) {
      const series = restored.find((s) => s.key === key);
      if (series === undefined || series.stage !== 'pending' || pending.includes(series))
        reader.fail('pending', `"${String(key)}" is not a pending series`);
      pending.push(series);
    }
    if (pending.length !== restored.filter((s) => s.stage === 'pending').length)
      reader.fail('pending', 'does not list every pending series');

    this.otherTimeframe = otherTimeframe;
    this.repeated = repeated;
    this.otherModel = otherModel;
    this.outOfSample = outOfSample;
    this.symbols = symbols;
    this.tracked = tracked;
    this.sample = sample;
    this.series = restored;
    this.inputs = restored.filter((s) => s.column >= 0);
    this.outputs = restored.filter((s) => s.column < 0);
    this.pending = pending;
  }

  /** A symbol seen for the first time: admitted (perhaps displacing one) or OUT_OF_SAMPLE, for good. */
  private enter(name: string): SymbolState {
    const hash = symbolHash(name);
    if (!this.sample.admits(hash, name)) {
      this.symbols.set(name, OUT_OF_SAMPLE);
      return OUT_OF_SAMPLE;
    }
    const width = this.series.length;
    const state: SymbolState = {
      name,
      hash,
      admitted: false,
      id: this.tracked.length,
      lastFeatureTs: Number.NEGATIVE_INFINITY,
      lastPredictionTs: Number.NEGATIVE_INFINITY,
      last: new Float64Array(width).fill(Number.NaN),
      lastSeq: new Float64Array(width),
    };
    this.sample.add(state);
    this.symbols.set(name, state);
    this.tracked.push(state);
    return state;
  }

  /**
   * One value of one series, values[index]: gate sums, PSI, then KS or its calibration history. No allocation
   * (the value is read here, not passed: a double argument of a call not inlined would be boxed).
   */
  private add(
    series: Series,
    values: Float64Array,
    index: number,
    symbol: SymbolState,
    timeMs: number,
  ): void {
    const x = values[index] as number;
    if (!Number.isFinite(x)) {
      series.skipped++;
      return;
    }
    const slot = series.slot;
    const seq = ++series.seq;
    const previous = symbol.last[slot] as number;
    const gap = seq - (symbol.lastSeq[slot] as number);
    const window = series.psi.window;
    // a previous value that has left the window says nothing about this window's dependence
    if (!Number.isNaN(previous) && gap <= window) {
      const centre = series.binned.centre;
      const dx = x - centre;
      const dy = previous - centre;
      const gate = series.gate;
      const keep = 1 - 1 / window;
      gate[0] = keep * (gate[0] as number) + 1;
      gate[1] = keep * (gate[1] as number) + dx;
      gate[2] = keep * (gate[2] as number) + dy;
      gate[3] = keep * (gate[3] as number) + dx * dx;
      gate[4] = keep * (gate[4] as number) + dy * dy;
      gate[5] = keep * (gate[5] as number) + dx * dy;
      gate[6] = keep * (gate[6] as number) + gap;
    }
    symbol.last[slot] = x;
    symbol.lastSeq[slot] = seq;
    series.lastTimeMs = timeMs;
    // the KS reference is this histogram too (KsReference.fromHistogram): its bucket is the PSI bin
    const bin = series.binned.binOf(x);
    if (series.psi.updateBinned(x, bin, timeMs)) this.psiEvaluated(series, timeMs);
    const ks = series.ks;
    if (ks !== undefined) {
      if (ks.updateBucket(bin, timeMs)) this.ksEvaluated(series, timeMs);
    } else if (series.stage === 'collecting' || series.stage === 'pending') {
      const history = series.history as Float64Array;
      const capacity = history.length;
      history[series.historyHead] = x;
      (series.historySymbols as Int32Array)[series.historyHead] = symbol.id;
      if (++series.historyHead === capacity) series.historyHead = 0;
      if (series.historyCount < capacity) series.historyCount++;
      if (series.stage === 'collecting' && series.historyCount === capacity) {
        series.stage = 'pending';
        this.pending.push(series);
      }
    }
  }

  private psiEvaluated(series: Series, timeMs: number): void {
    const ess = pooledEffectiveSampleSize(series.psi.size, series.gate);
    series.psiEss = ess;
    const status = series.psi.status;
    const readable = ess >= this.options.psi.minEss && status !== 'gated' && status !== 'warming';
    series.psiValue = readable ? series.psi.psi : Number.NaN;
    this.transition(
      series,
      'psi',
      readable ? status : 'gated',
      series.psiValue,
      this.options.psi.alert,
      timeMs,
    );
  }

  private ksEvaluated(series: Series, timeMs: number): void {
    const ks = series.ks as KsDetector;
    this.transition(series, 'ks', ks.status === 'alarm' ? 'alert' : 'ok', ks.scaled, ks.cut, timeMs);
  }

  private transition(
    series: Series,
    detector: DriftDetectorName,
    to: DriftState,
    value: number,
    cut: number,
    timeMs: number,
  ): void {
    const from = detector === 'psi' ? series.psiState : series.ksState;
    if (from === to) return;
    if (detector === 'psi') series.psiState = to;
    else series.ksState = to;
    this.onChange?.({
      model: this.model,
      version: this.version,
      key: series.key,
      detector,
      from,
      to,
      value,
      cut,
      timeMs,
    });
  }

  /** Bootstraps the KS cut of one series from no-drift history regrouped by symbol; a failure is recorded. */
  private calibrateSeries(
    series: Series,
    history: Float64Array,
    symbols: number,
    source: DriftCalibration['source'],
  ): void {
    const { window, minCount, every } = this.options.ks;
    const reference = series.ksReference;
    series.history = undefined;
    series.historySymbols = undefined;
    series.historyCount = 0;
    series.historyHead = 0;
    try {
      // a window holds about window / symbols consecutive values of each symbol: blocks no longer than that
      const perSymbol = Math.max(1, Math.min(window, Math.round(window / Math.max(1, symbols))));
      // the KS sees a value through its bin: dependence in the level (x) and in the distance from the
      // median (|x − m|: volatility clustering, invisible in the autocorrelation of returns) both matter
      let blockLength = 1;
      let oscillating = false;
      for (const transform of ['level', 'spread'] as const) {
        if (blockLength >= perSymbol) break; // already the longest allowed: spare the second pass
        const centre = series.binned.centre;
        const values =
          transform === 'level' ? history : Float64Array.from(history, (x) => Math.abs(x - centre));
        const choice = automaticBlockLength(values, perSymbol);
        // Politis–White has no length when the autocorrelations oscillate (Σk·ρ(k) ≤ 0: MACD histogram)
        // and falls back to 1, an i.i.d. bootstrap of a dependent series: draw whole per-symbol shares
        const noLength = choice.lags > 0 && !(choice.weightedLagSum > 0 && choice.longRunRatio > 0);
        if (noLength) oscillating = true;
        blockLength = Math.max(blockLength, noLength ? perSymbol : choice.blockLength);
      }
      // KS against a histogram sees a value only through its bin: bootstrap bins (one index each), not values
      const bins = Float64Array.from(history, (x) => series.binned.binOf(x));
      const counts = new Int32Array(series.binned.bins);
      const result = bootstrapCut({
        history: bins,
        windowSize: window,
        statistic: (sample) => scaledHistogramDistance(sample, counts, reference.weights),
        beta: this.budget.beta,
        random: this.random(seedOf(this.options.calibration.seed, series.key)),
        replicates: this.options.calibration.replicates,
        blockLength,
        tail: 'gaussian',
      });
      series.calibration = {
        key: series.key,
        cut: result.cut,
        beta: result.beta,
        method: result.method,
        blockLength: result.blockLength,
        blockRule: oscillating && blockLength === perSymbol ? 'window share' : 'automatic',
        symbols: Math.max(1, symbols),
        values: history.length,
        rho1: lag1Autocorrelation(history),
        source,
      };
      series.ks = new KsDetector(reference, { cut: result.cut, window, minCount, every });
      series.stage = 'calibrated';
      this.transition(series, 'ks', 'warming', Number.NaN, result.cut, series.lastTimeMs);
    } catch (error) {
      if (!(error instanceof MlfpError)) throw error;
      series.stage = 'failed';
      series.failure = `KS calibration failed: ${error.message}`;
    }
  }
}

/** Checks every option once (config_invalid naming the key) and fills the defaults. */
function normaliseOptions(options: ModelDriftOptions): NormalisedOptions {
  const psi = options.psi ?? {};
  const ks = options.ks ?? {};
  const calibration = options.calibration ?? {};
  const psiWindow = checkInteger('psi.window', psi.window ?? PSI_DEFAULTS.window, 2, MAX_WINDOW);
  const psiWarn = checkNumber('psi.warn', psi.warn ?? PSI_DEFAULTS.warn, 0, 100, true);
  const ksWindow = checkInteger('ks.window', ks.window ?? KS_DEFAULTS.window, 2, MAX_WINDOW);
  return {
    alarmsPerWeek: checkNumber(
      'alarmsPerWeek',
      options.alarmsPerWeek ?? MODEL_DRIFT_DEFAULTS.alarmsPerWeek,
      0,
      1e9,
      true,
    ),
    expectedSymbols: checkInteger(
      'expectedSymbols',
      options.expectedSymbols ?? MODEL_DRIFT_DEFAULTS.expectedSymbols,
      1,
      10_000_000,
    ),
    maxSymbols: checkInteger(
      'maxSymbols',
      options.maxSymbols ?? MODEL_DRIFT_DEFAULTS.maxSymbols,
      1,
      10_000_000,
    ),
    psi: {
      window: psiWindow,
      minCount: checkInteger('psi.minCount', psi.minCount ?? PSI_DEFAULTS.minCount, 2, psiWindow),
      every: checkInteger('psi.every', psi.every ?? PSI_DEFAULTS.every, 1, MAX_WINDOW),
      minEss: checkNumber('psi.minEss', psi.minEss ?? PSI_DEFAULTS.minEss, 0, MAX_WINDOW),
      warn: psiWarn,
      alert: checkNumber('psi.alert', psi.alert ?? PSI_DEFAULTS.alert, psiWarn, 100),
      floor: checkNumber('psi.floor', psi.floor ?? PSI_DEFAULTS.floor, 0, 0.01, true),
    },
    ks: {
      window: ksWindow,
      minCount: checkInteger('ks.minCount', ks.minCount ?? KS_DEFAULTS.minCount, 2, ksWindow),
      every: checkInteger('ks.every', ks.every ?? KS_DEFAULTS.every, 1, MAX_WINDOW),
    },
    calibration: {
      values: checkInteger(
        'calibration.values',
        calibration.values ?? MODEL_DRIFT_DEFAULTS.calibration.values,
        Math.max(ksWindow, 8),
        MAX_HISTORY,
      ),
      replicates: checkInteger(
        'calibration.replicates',
        calibration.replicates ?? MODEL_DRIFT_DEFAULTS.calibration.replicates,
        50,
        10_000_000,
      ),
      seed: checkInteger(
        'calibration.seed',
        calibration.seed ?? MODEL_DRIFT_DEFAULTS.calibration.seed,
        0,
        0xffffffff,
      ),
    },
  };
}

function checkSpec(spec: ModelDriftSpec): void {
  const fail = (field: string, message: string, value: unknown): never => {
    throw new MlfpError('config_invalid', `spec.${field} ${message}`, { field: `spec.${field}`, value });
  };
  if (typeof spec !== 'object' || spec === null) fail('', 'must be an object', spec);
  if (typeof spec.model !== 'string' || spec.model === '')
    fail('model', 'must be a non-empty string', spec.model);
  if (typeof spec.version !== 'string' || spec.version === '')
    fail('version', 'must be a non-empty string', spec.version);
  if (!TIMEFRAMES.includes(spec.timeframe))
    fail('timeframe', `must be one of ${TIMEFRAMES.join(', ')}`, spec.timeframe);
  const names = (field: string, list: unknown): readonly string[] => {
    if (!Array.isArray(list)) return fail(field, 'must be an array of names', list);
    list.forEach((name, i) => {
      if (typeof name !== 'string' || name === '') fail(`${field}[${i}]`, 'must be a non-empty string', name);
    });
    if (new Set(list).size !== list.length) fail(field, 'has a repeated name', list);
    return list as readonly string[];
  };
  const inputs = names('inputs', spec.inputs);
  names('outputs', spec.outputs);
  if (!Array.isArray(spec.featureIndex) || spec.featureIndex.length !== inputs.length)
    fail('featureIndex', `must hold one column index per input (${inputs.length})`, spec.featureIndex);
  spec.featureIndex.forEach((column, i) => {
    if (!(Number.isInteger(column) && column >= 0 && column < FEATURE_COUNT))
      fail(`featureIndex[${i}]`, `must be a column index in [0, ${FEATURE_COUNT})`, column);
  });
  const reference = spec.reference;
  if (reference !== undefined) {
    if (typeof reference !== 'object' || reference === null)
      fail('reference', 'must be an object', reference);
    for (const part of ['inputs', 'outputs'] as const)
      if (typeof reference[part] !== 'object' || reference[part] === null)
        fail(`reference.${part}`, 'must be a record of histograms', reference[part]);
  }
}

function budgetOf(series: number, timeframe: Timeframe, options: NormalisedOptions): DriftBudget {
  const detectors = STATISTICS_PER_SERIES * series;
  // values come from the sampled symbols only: that is what the detectors evaluate
  const symbols = Math.min(options.expectedSymbols, options.maxSymbols);
  const evaluationsPerWeek = (BARS_PER_WEEK[timeframe] * symbols) / options.ks.every;
  const alarmsPerWeek = Math.min(options.alarmsPerWeek, evaluationsPerWeek / MIN_RUN_LENGTH);
  if (detectors === 0)
    return {
      detectors,
      symbols,
      evaluationsPerWeek,
      requestedAlarmsPerWeek: options.alarmsPerWeek,
      alarmsPerWeek,
      ert: Number.NaN,
      beta: Number.NaN,
    };
  const [group] = splitFalseAlarmBudget([{ name: timeframe, detectors, evaluationsPerWeek }], alarmsPerWeek);
  return {
    detectors,
    symbols,
    evaluationsPerWeek,
    requestedAlarmsPerWeek: options.alarmsPerWeek,
    alarmsPerWeek,
    ert: group!.ert,
    beta: group!.beta,
  };
}

/**
 * Effective sample size of a pooled window of n values: about n / N̂ consecutive values of each of N̂
 * interleaved symbols (N̂ = mean gap between a symbol's values), each symbol's run AR(1) with the pairs' ρ.
 * The variance of a mean of m such values is inflated by 1 + 2Σ_{k<m}(1 − k/m)ρ^k, so ESS = n / that
 * (n(1−ρ)/(1+ρ) for one symbol and a long window, n when each symbol gave one value). ρ ≤ 0: n.
 */
export function pooledEffectiveSampleSize(n: number, gate: ArrayLike<number>): number {
  const weight = gate[0] as number;
  if (!(n >= 2)) return Number.NaN;
  if (!(weight >= 2)) return n;
  const sx = gate[1] as number;
  const sy = gate[2] as number;
  const varianceX = (gate[3] as number) - (sx * sx) / weight;
  const varianceY = (gate[4] as number) - (sy * sy) / weight;
  const covariance = (gate[5] as number) - (sx * sy) / weight;
  const denominator = Math.sqrt(varianceX * varianceY);
  const rho = denominator > 0 ? Math.min(1, covariance / denominator) : 0;
  const meanGap = Math.max(1, (gate[6] as number) / weight);
  return n / varianceInflation(n / meanGap, rho);
}

/** 1 + 2Σ_{k=1}^{m−1}(1 − k/m)ρ^k in closed form (m may be fractional; at most m). */
export function varianceInflation(m: number, rho: number): number {
  if (!(rho > 0) || !(m > 1)) return 1;
  if (rho >= 1 - 1e-12) return m;
  const q = 1 - rho;
  return 1 + 2 * (rho / q - (rho * (1 - Math.pow(rho, m))) / (m * q * q));
}

/**
 * √n·D of a window of bin indexes against a histogram's shares: ks.ts's scan (KsReference.statistic times
 * scale(n) for a histogram reference), with the bins already known. `counts` is scratch of one per bin.
 */
export function scaledHistogramDistance(
  bins: Float64Array,
  counts: Int32Array,
  shares: Float64Array,
): number {
  counts.fill(0);
  const n = bins.length;
  for (let i = 0; i < n; i++) counts[bins[i] as number]!++;
  let prefix = 0;
  let extreme = 0;
  for (let b = 0; b < shares.length; b++) {
    prefix += (counts[b] as number) - n * (shares[b] as number);
    const magnitude = prefix < 0 ? -prefix : prefix;
    if (magnitude > extreme) extreme = magnitude;
  }
  return Math.min(1, extreme / n) * Math.sqrt(n);
}

/** Stable regrouping of a history by symbol id: each symbol's values in time order, symbol after symbol. */
function regroupBySymbol(
  values: Float64Array,
  ids: Int32Array,
  symbolCount: number,
): { regrouped: Float64Array; symbols: number } {
  const counts = new Int32Array(symbolCount + 1);
  for (let i = 0; i < ids.length; i++) counts[(ids[i] as number) + 1]!++;
  let symbols = 0;
  for (let s = 1; s <= symbolCount; s++) if ((counts[s] as number) > 0) symbols++;
  for (let s = 1; s <= symbolCount; s++) counts[s] = (counts[s] as number) + (counts[s - 1] as number);
  const regrouped = new Float64Array(values.length);
  for (let i = 0; i < ids.length; i++) regrouped[counts[ids[i] as number]!++] = values[i] as number;
  return { regrouped, symbols };
}

/** A seed per series from the configured one (FNV-1a over the key), so calibration order does not matter. */
function seedOf(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function fingerprintText(text: string): string {
  const codes = new Float64Array(text.length);
  for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
  return fingerprint(codes);
}

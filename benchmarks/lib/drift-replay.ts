// ModelDrift on quiet synthetic history (benchmarks/drift-harness.ts, "replays"): reference deciles fitted on one
// long replay, then false alarms and detection delays of the detectors of one model on other replays (other
// seeds: other price scales and paths of the same process). A stand-in scorer gives the model an output.

import { performance } from 'node:perf_hooks';
import { FEATURE_COLUMNS, type FeatureVector, type Prediction } from '../../src/domain/types.js';
import {
  ModelDrift,
  type DriftCalibration,
  type DriftChange,
  type DriftKey,
  type ModelDriftOptions,
  type ModelDriftSpec,
  type ReferenceHistogram,
} from '../../src/monitoring/drift/index.js';
import { Random } from '../../src/streams/random.js';
import { quietReplay } from './quiet-replay.js';

/** Columns whose distribution does not depend on a symbol's price level (returns, oscillators, volume). */
export const SCALE_FREE_INPUTS = [
  'returns',
  'log_returns',
  'rsi_14',
  'historical_vol_21',
  'volume_ma_20',
] as const;
/** What the demo models read: all 16 columns raw (prices, cumulative volume included). */
export const ALL_INPUTS: readonly string[] = FEATURE_COLUMNS;
export const OUTPUT = 'p_up';
/** about 5 ticks per 5m bar: the replay part's cost is mostly ticks */
export const MEAN_TICK_INTERVAL_MS = 60_000;

/** a replay whose detectors are not all calibrated after this many values stops (calibratedAt stays −1) */
const MAX_VALUES_TO_CALIBRATE = 100_000;

export interface FittedReference {
  histograms: Record<string, ReferenceHistogram>;
  /** mean and standard deviation of the finite values, for the size of injected changes */
  moments: Record<string, { mean: number; std: number }>;
  vectors: number;
  symbols: number;
  seed: number;
}

const RSI = FEATURE_COLUMNS.indexOf('rsi_14');
const RETURNS = FEATURE_COLUMNS.indexOf('returns');

/** A fixed logistic score of RSI and the last return: a model output whose drift follows its inputs. */
export function standInScore(values: Float64Array): number {
  const z = 0.08 * ((values[RSI] as number) - 50) + 150 * (values[RETURNS] as number);
  return 1 / (1 + Math.exp(-z));
}

/**
 * Decile histogram as a manifest writes it: edges at the min, the nine deciles (repeats dropped: atoms such
 * as returns of exactly 0) and the max; proportions counted with BinnedReference's rule (a value on an edge
 * belongs to the bin above it); missing = share of NaN.
 */
export function decileHistogram(values: readonly number[]): ReferenceHistogram {
  const finite = Float64Array.from(values.filter(Number.isFinite)).sort();
  const count = finite.length;
  const edges = [finite[0] as number];
  for (let k = 1; k < 10; k++) {
    const edge = finite[Math.floor((k * count) / 10)] as number;
    if (edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  const top = finite[count - 1] as number;
  if (top > (edges[edges.length - 1] as number)) edges.push(top);
  else edges.push((edges[edges.length - 1] as number) + 1e-9 * Math.max(1, Math.abs(top)));
  const inner = edges.slice(1, -1);
  const counts = new Array<number>(edges.length - 1).fill(0);
  let bin = 0;
  for (const x of finite) {
    while (bin < inner.length && (inner[bin] as number) <= x) bin++;
    counts[bin]!++;
  }
  return {
    edges,
    proportions: counts.map((c) => c / values.length),
    missing: (values.length - count) / values.length,
  };
}

/** Fits every column's and the stand-in output's deciles on one long replay. */
export function fitReference(seed: number, symbols: number, barsPerSymbol: number): FittedReference {
  const columns: number[][] = FEATURE_COLUMNS.map(() => []);
  const output: number[] = [];
  const vectors = quietReplay(
    { seed, symbols, barsPerSymbol, meanTickIntervalMs: MEAN_TICK_INTERVAL_MS },
    (vector) => {
      for (let i = 0; i < FEATURE_COLUMNS.length; i++) columns[i]!.push(vector.values[i] as number);
      output.push(standInScore(vector.values));
    },
  );
  const histograms: Record<string, ReferenceHistogram> = {};
  const moments: FittedReference['moments'] = {};
  const describe = (name: string, values: number[]): void => {
    histograms[name] = decileHistogram(values);
    const finite = values.filter(Number.isFinite);
    const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
    const variance = finite.reduce((a, b) => a + (b - mean) ** 2, 0) / (finite.length - 1);
    moments[name] = { mean, std: Math.sqrt(variance) };
  };
  FEATURE_COLUMNS.forEach((name, i) => describe(name, columns[i]!));
  describe(OUTPUT, output);
  return { histograms, moments, vectors, symbols, seed };
}

export function replaySpec(reference: FittedReference, inputs: readonly string[]): ModelDriftSpec {
  return {
    model: 'replay-stand-in',
    version: '1',
    timeframe: '5m',
    inputs,
    featureIndex: inputs.map((name) => FEATURE_COLUMNS.indexOf(name as (typeof FEATURE_COLUMNS)[number])),
    outputs: [OUTPUT],
    reference: {
      inputs: Object.fromEntries(inputs.map((name) => [name, reference.histograms[name]!])),
      outputs: { [OUTPUT]: reference.histograms[OUTPUT]! },
    },
  };
}

/** A change applied to one input's values before ModelDrift (and the stand-in scorer) sees them. */
export interface InjectedChange {
  input: string;
  name: string;
  apply: (x: number, moments: { mean: number; std: number }) => number;
}

export interface ReplayRunOptions {
  reference: FittedReference;
  inputs: readonly string[];
  options: ModelDriftOptions;
  seed: number;
  symbols: number;
  /** stop this many values after every KS detector is calibrated */
  valuesAfterCalibration: number;
  /** values after calibration at which `change` starts (undefined: quiet) */
  changeAfter?: number;
  change?: InjectedChange;
  /** stop at the first alert on the changed input (delay runs) */
  stopOnDetection?: boolean;
  /** sample the PSI gate (status()) every this many values */
  gateSampleEvery?: number;
}

export interface ReplayRunResult {
  seed: number;
  /** values (vectors) fed until every series was calibrated */
  calibratedAt: number;
  /** values after calibration to the first KS alert of any series (−1: none) */
  firstKs: number;
  firstKsKey: string | null;
  /** values after calibration to the first PSI warn / alert of any series (0 when already there; −1: none) */
  firstPsiWarn: number;
  firstPsiAlert: number;
  /** per series, whether its KS / PSI alerted after calibration (and before a change) */
  ksAlerted: string[];
  psiAlerted: string[];
  /** PSI status samples that were readable (not gated), and all samples */
  gateReadable: number;
  gateSamples: number;
  /** the change run: values from the change to the first alert (KS or PSI) on the changed input (−1: none) */
  delay: number;
  delayDetector: 'ks' | 'psi' | null;
  /** a KS alert on any series before the change */
  falseBeforeChange: boolean;
  /** longest single onFeatures/onPrediction call (it includes at most one KS calibration) */
  maxCallMs: number;
  values: number;
}

/** One replay through a ModelDrift: the quiet run, or a change run when `change` is given. */
export function replayRun(run: ReplayRunOptions): ReplayRunResult {
  const spec = replaySpec(run.reference, run.inputs);
  const changes: Array<{ at: number; change: DriftChange }> = [];
  let fed = 0;
  const drift = new ModelDrift(spec, run.options, {
    random: (seed) => new Random(seed),
    onChange: (change) => changes.push({ at: fed, change }),
  });
  const seriesCount = spec.inputs.length + spec.outputs.length;
  const changedColumn = run.change === undefined ? -1 : FEATURE_COLUMNS.indexOf(run.change.input as never);
  const changedKey: DriftKey | null = run.change === undefined ? null : `input:${run.change.input}`;
  const moments = run.change === undefined ? undefined : run.reference.moments[run.change.input];
  const gateEvery = run.gateSampleEvery ?? 50;
  let calibratedAt = -1;
  let changeAt = Number.POSITIVE_INFINITY;
  let gateReadable = 0;
  let gateSamples = 0;
  let maxCallMs = 0;
  let detected = -1;
  let detector: 'ks' | 'psi' | null = null;
  const prediction: Prediction = {
    symbol: '',
    timeframe: '5m',
    ts: 0,
    model: spec.model,
    version: spec.version,
    kind: 'classifier',
    output: { label: 'up', [OUTPUT]: 0 },
    latencyMs: 0,
  };
  quietReplay(
    { seed: run.seed, symbols: run.symbols, barsPerSymbol: 1e9, meanTickIntervalMs: MEAN_TICK_INTERVAL_MS },
    (vector: FeatureVector) => {
      fed++;
      if (fed > changeAt && changedColumn >= 0)
        vector.values[changedColumn] = run.change!.apply(vector.values[changedColumn] as number, moments!);
      prediction.symbol = vector.symbol;
      prediction.ts = vector.ts;
      prediction.output[OUTPUT] = standInScore(vector.values);
      let started = performance.now();
      drift.onFeatures(vector, vector.ts);
      const featuresMs = performance.now() - started;
      started = performance.now();
      drift.onPrediction(prediction, vector.ts);
      maxCallMs = Math.max(maxCallMs, featuresMs, performance.now() - started);
      if (calibratedAt < 0) {
        if (fed > MAX_VALUES_TO_CALIBRATE) return false;
        if (
          drift.pendingCalibrations === 0 &&
          drift.calibrations().length + failedKs(drift) === seriesCount
        ) {
          calibratedAt = fed;
          if (run.changeAfter !== undefined) changeAt = fed + run.changeAfter;
        }
        return true;
      }
      const since = fed - calibratedAt;
      if (since % gateEvery === 0)
        for (const row of drift.status())
          if (row.detector === 'psi' && row.state !== 'warming') {
            gateSamples++;
            if (row.state !== 'gated') gateReadable++;
          }
      if (changedKey !== null && fed > changeAt && detected < 0) {
        const hit = changes.find(
          (c) => c.at > changeAt && c.change.key === changedKey && c.change.to === 'alert',
        );
        if (hit !== undefined) {
          detected = hit.at - changeAt;
          detector = hit.change.detector;
          if (run.stopOnDetection === true) return false;
        }
      }
      return since < run.valuesAfterCalibration;
    },
  );
  // states already reached when calibration completed count from 0
  const after = (predicate: (c: DriftChange) => boolean, until = Number.POSITIVE_INFINITY): number => {
    let first = -1;
    for (const { at, change } of changes)
      if (at >= calibratedAt && at <= until && predicate(change)) {
        first = Math.max(0, at - calibratedAt);
        break;
      }
    return first;
  };
  const stateAtCalibration = (detector: 'psi' | 'ks', states: readonly string[]): string[] => {
    const last = new Map<string, string>();
    for (const { at, change } of changes)
      if (at <= calibratedAt && change.detector === detector) last.set(change.key, change.to);
    return [...last].filter(([, state]) => states.includes(state)).map(([key]) => key);
  };
  const quietUntil = Number.isFinite(changeAt) ? changeAt : Number.POSITIVE_INFINITY;
  const ksAlreadyAlert = stateAtCalibration('ks', ['alert']);
  const psiAlreadyWarn = stateAtCalibration('psi', ['warn', 'alert']);
  const psiAlreadyAlert = stateAtCalibration('psi', ['alert']);
  let firstKs =
    ksAlreadyAlert.length > 0 ? 0 : after((c) => c.detector === 'ks' && c.to === 'alert', quietUntil);
  const firstKsChange = changes.find(
    (c) =>
      c.at >= calibratedAt && c.at <= quietUntil && c.change.detector === 'ks' && c.change.to === 'alert',
  );
  if (calibratedAt < 0) firstKs = -1;
  const alertedKeys = (detector: 'psi' | 'ks', already: string[]): string[] => [
    ...new Set([
      ...already,
      ...changes
        .filter(
          (c) =>
            c.at >= calibratedAt &&
            c.at <= quietUntil &&
            c.change.detector === detector &&
            c.change.to === 'alert',
        )
        .map((c) => c.change.key),
    ]),
  ];
  return {
    seed: run.seed,
    calibratedAt,
    firstKs,
    firstKsKey: ksAlreadyAlert[0] ?? firstKsChange?.change.key ?? null,
    firstPsiWarn:
      psiAlreadyWarn.length > 0
        ? 0
        : after((c) => c.detector === 'psi' && (c.to === 'warn' || c.to === 'alert'), quietUntil),
    firstPsiAlert:
      psiAlreadyAlert.length > 0 ? 0 : after((c) => c.detector === 'psi' && c.to === 'alert', quietUntil),
    ksAlerted: alertedKeys('ks', ksAlreadyAlert),
    psiAlerted: alertedKeys('psi', psiAlreadyAlert),
    gateReadable,
    gateSamples,
    delay: detected,
    delayDetector: detector,
    falseBeforeChange:
      Number.isFinite(changeAt) && (ksAlreadyAlert.length > 0 || firstKsChange !== undefined),
    maxCallMs,
    values: fed,
  };
}

function failedKs(drift: ModelDrift): number {
  return drift.skipped.filter((s) => s.detectors.length === 1 && s.detectors[0] === 'ks').length;
}

export interface CalibrationCost {
  series: number;
  values: number;
  replicates: number;
  window: number;
  /** per series, explicit calibrate() after one warm-up pass */
  medianMs: number;
  maxMs: number;
  totalMs: number;
  /** the cuts and block lengths these calibrations chose (8 symbols, one replay's first 5,000 values) */
  calibrations: DriftCalibration[];
}

/** Times calibrate() of every series of the all-columns model from one replay's first 5,000 values. */
export function measureCalibrationCost(
  reference: FittedReference,
  symbols: number,
  seed: number,
): CalibrationCost {
  const spec = replaySpec(reference, ALL_INPUTS);
  const history: Record<string, number[][]> = {};
  const keys = [...spec.inputs.map((name) => `input:${name}`), `output:${OUTPUT}`];
  for (const key of keys) history[key] = Array.from({ length: symbols }, () => []);
  const perSymbolValues = 5_000 / symbols;
  quietReplay(
    { seed, symbols, barsPerSymbol: perSymbolValues + 60, meanTickIntervalMs: MEAN_TICK_INTERVAL_MS },
    (vector) => {
      const s = Number(vector.symbol.slice(1));
      spec.inputs.forEach((name, i) => {
        const x = vector.values[spec.featureIndex[i]!] as number;
        if (Number.isFinite(x)) history[`input:${name}`]![s]!.push(x);
      });
      history[`output:${OUTPUT}`]![s]!.push(standInScore(vector.values));
    },
  );
  const options: ModelDriftOptions = { expectedSymbols: symbols };
  let times: number[] = [];
  let calibrations: DriftCalibration[] = [];
  for (let pass = 0; pass < 2; pass++) {
    times = [];
    const drift = new ModelDrift(spec, options, { random: (s) => new Random(s) });
    for (const key of keys) {
      const parts = history[key]!.map((values) => Float64Array.from(values.slice(-perSymbolValues)));
      const started = performance.now();
      drift.calibrate({ [key]: parts });
      times.push(performance.now() - started);
    }
    calibrations = drift.calibrations();
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    series: keys.length,
    values: 5_000,
    replicates: 2_000,
    window: 1_000,
    medianMs: sorted[Math.floor(sorted.length / 2)]!,
    maxMs: sorted[sorted.length - 1]!,
    totalMs: times.reduce((a, b) => a + b, 0),
    calibrations,
  };
}

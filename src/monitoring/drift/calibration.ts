// Cuts for drift detectors from one false-alarm budget: the budget (≤ 1 false alarm per model per week by
// default) is split across the d detectors as a per-evaluation false-alarm probability
// β = 1 − (1 − 1/ERT)^(1/d), and each detector's cut is the (1 − β) quantile of its statistic under no
// drift, estimated by a circular block bootstrap of no-drift history (blocks keep the autocorrelation of
// indicator series that an i.i.d. bootstrap, or a textbook p-value, would ignore and so over-fire on).
// Calibration-time code: allocates freely, runs once per (model version, feature), never per value.

import { MlfpError } from '../../errors.js';
import { checkInteger, checkNumber } from './checks.js';

/** Uniform numbers in (0, 1): src/streams/random.ts's `Random` fits (monitoring may not import it). */
export interface RandomSource {
  uniform(): number;
}

/**
 * Per-detector false-alarm probability per evaluation round when d detectors share a round-level expected
 * run length `ert` (independent detectors, Šidák): 1 − (1 − 1/ERT)^(1/d), computed as
 * −expm1(log1p(−1/ERT)/d) so that a β of 1e-9 keeps its digits.
 */
export function detectorBeta(ert: number, detectors: number): number {
  checkNumber('budget.ert', ert, 1, Number.MAX_VALUE);
  checkNumber('budget.detectors', detectors, 1, Number.MAX_VALUE);
  return -Math.expm1(Math.log1p(-1 / ert) / detectors);
}

export interface DetectorCount {
  features: number;
  symbols: number;
  timeframes: number;
  /** drift statistics per series (PSI and KS: 2) */
  statistics: number;
}

/** d = features × symbols × timeframes × statistics. */
export function detectorCount(count: DetectorCount): number {
  for (const [key, value] of Object.entries(count)) checkInteger(`budget.${key}`, value, 1);
  return count.features * count.symbols * count.timeframes * count.statistics;
}

/** Detectors that evaluate together (one timeframe: every detector evaluates after every `every` bars). */
export interface BudgetGroup {
  name: string;
  detectors: number;
  /** evaluation rounds per week of each detector in the group */
  evaluationsPerWeek: number;
}

export interface GroupBudget extends BudgetGroup {
  /** this group's share of the model's weekly false alarms (proportional to its detector-evaluations) */
  alarmsPerWeek: number;
  /** expected run length to a false alarm of the whole group, in evaluation rounds */
  ert: number;
  /** false-alarm probability per evaluation of one detector */
  beta: number;
  /** expected run length to a false alarm of one detector, in its evaluations (1/β) */
  detectorErt: number;
}

/**
 * Splits a model's budget of `alarmsPerWeek` false alarms across groups of detectors (one per timeframe) in
 * proportion to their detector-evaluations per week (detectors × evaluationsPerWeek), so every evaluation of
 * every detector gets about the same β whatever its timeframe; inside a group, ERT = evaluations per week /
 * the group's alarms per week and β = 1 − (1 − 1/ERT)^(1/d). With one group this is exactly that formula.
 */
export function splitFalseAlarmBudget(groups: readonly BudgetGroup[], alarmsPerWeek = 1): GroupBudget[] {
  checkNumber('budget.alarmsPerWeek', alarmsPerWeek, 0, Number.MAX_VALUE, true);
  if (groups.length === 0)
    throw new MlfpError('config_invalid', 'budget needs at least one group of detectors', {
      field: 'budget',
    });
  let total = 0;
  for (const group of groups) {
    checkInteger(`budget.${group.name}.detectors`, group.detectors, 1);
    checkNumber(
      `budget.${group.name}.evaluationsPerWeek`,
      group.evaluationsPerWeek,
      0,
      Number.MAX_VALUE,
      true,
    );
    total += group.detectors * group.evaluationsPerWeek;
  }
  return groups.map((group) => {
    const share = (alarmsPerWeek * group.detectors * group.evaluationsPerWeek) / total;
    const ert = group.evaluationsPerWeek / share;
    if (!(ert >= 1))
      throw new MlfpError(
        'config_invalid',
        `budget.${group.name}: ${share} false alarms per week exceed its ${group.evaluationsPerWeek} evaluations`,
        { field: `budget.${group.name}.evaluationsPerWeek`, value: group.evaluationsPerWeek },
      );
    const beta = detectorBeta(ert, group.detectors);
    return { ...group, alarmsPerWeek: share, ert, beta, detectorErt: 1 / beta };
  });
}

/** Two-pass lag-1 autocorrelation Σ(x_t−x̄)(x_{t+1}−x̄) / Σ(x_t−x̄)² of values[0..length); 0 when constant. */
export function lag1Autocorrelation(values: ArrayLike<number>, length = values.length): number {
  if (length < 2) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < length; i++) sum += values[i] as number;
  const mean = sum / length;
  let denominator = 0;
  let numerator = 0;
  for (let i = 0; i < length; i++) {
    const d = (values[i] as number) - mean;
    denominator += d * d;
    if (i + 1 < length) numerator += d * ((values[i + 1] as number) - mean);
  }
  return denominator > 0 ? numerator / denominator : 0;
}

export interface BlockLengthChoice {
  blockLength: number;
  /** lags M of the flat-top window over the sample autocorrelations (0: no significant dependence) */
  lags: number;
  /** long-run variance over the variance: 1 + 2·Σ λ(k/M)·ρ(k) (≈ (1+φ)/(1−φ) for an AR(1)) */
  longRunRatio: number;
  /** 2·Σ λ(k/M)·k·ρ(k) */
  weightedLagSum: number;
  /** Politis & White's MSE-optimal length */
  optimal: number;
  /** the shortest length whose bootstrap variance is low by at most maxBias */
  biasBound: number;
}

/**
 * Block length for a circular block bootstrap of a statistic over n values, from the history's sample
 * autocorrelations (Politis & White 2004, with Patton, Politis & White 2009's circular-bootstrap constant):
 * M = 2·m̂, m̂ the first lag after which K_N autocorrelations in a row are insignificant; flat-top weights
 * λ; g = 1 + 2Σλρ(k), G = 2Σλ·k·ρ(k); optimal b = (2G²/D)^(1/3)·n^(1/3) with D = (4/3)g².
 * The MSE-optimal b underestimates the long-run variance by about G/(g·b), which matters in the far tail a
 * cut lives in, so b is raised to G/(g·maxBias) (default 5%) when that is longer; at most n (b = n draws
 * whole windows of history: subsampling).
 */
export function automaticBlockLength(
  history: ArrayLike<number>,
  n: number,
  maxBias = 0.05,
): BlockLengthChoice {
  checkInteger('calibration.windowSize', n, 1);
  checkNumber('calibration.maxBias', maxBias, 0, 1, true);
  const size = history.length;
  checkInteger('calibration.history.length', size, 8);
  let mean = 0;
  for (let i = 0; i < size; i++) mean += history[i] as number;
  mean /= size;
  const centred = Float64Array.from(history, (x) => x - mean);
  let variance = 0;
  for (let i = 0; i < size; i++) variance += (centred[i] as number) * (centred[i] as number);
  const none = { blockLength: 1, lags: 0, longRunRatio: 1, weightedLagSum: 0, optimal: 1, biasBound: 1 };
  if (!(variance > 0)) return none;
  const maxLag = Math.max(1, Math.floor(size / 4));
  const autocorrelations: number[] = [1];
  const rho = (k: number): number => {
    while (autocorrelations.length <= k) {
      const lag = autocorrelations.length;
      let sum = 0;
      for (let t = 0; t + lag < size; t++) sum += (centred[t] as number) * (centred[t + lag] as number);
      autocorrelations.push(sum / variance);
    }
    return autocorrelations[k] as number;
  };
  const significance = 2 * Math.sqrt(Math.log10(size) / size);
  const run = Math.max(5, Math.ceil(Math.sqrt(Math.log10(size))));
  let quiet = 0;
  let firstQuiet = maxLag;
  for (let k = 1; k <= maxLag; k++) {
    quiet = Math.abs(rho(k)) < significance ? quiet + 1 : 0;
    if (quiet === run) {
      firstQuiet = k - run;
      break;
    }
  }
  const lags = Math.min(2 * firstQuiet, maxLag);
  let longRunRatio = 1;
  let weightedLagSum = 0;
  for (let k = 1; k <= lags; k++) {
    const t = k / lags;
    const weight = t <= 0.5 ? 1 : 2 * (1 - t);
    longRunRatio += 2 * weight * rho(k);
    weightedLagSum += 2 * weight * k * rho(k);
  }
  if (!(longRunRatio > 0) || !(weightedLagSum > 0)) return { ...none, lags, longRunRatio, weightedLagSum };
  const d = (4 / 3) * longRunRatio * longRunRatio;
  const optimal = Math.ceil(Math.cbrt((2 * weightedLagSum * weightedLagSum) / d) * Math.cbrt(n));
  const biasBound = Math.ceil(weightedLagSum / (longRunRatio * maxBias));
  const blockLength = Math.max(1, Math.min(Math.max(optimal, biasBound), n));
  return { blockLength, lags, longRunRatio, weightedLagSum, optimal, biasBound };
}

/** Endless values drawn as blocks of `blockLength` consecutive history values from random starts, wrapping around. */
export class CircularBlockSampler {
  private position = 0;
  private left = 0;

  constructor(
    private readonly history: Float64Array,
    readonly blockLength: number,
    private readonly random: RandomSource,
  ) {
    checkInteger('calibration.history.length', history.length, 1);
    checkInteger('calibration.blockLength', blockLength, 1, history.length);
  }

  next(): number {
    if (this.left === 0) {
      this.position = Math.min(
        Math.floor(this.random.uniform() * this.history.length),
        this.history.length - 1,
      );
      this.left = this.blockLength;
    }
    const x = this.history[this.position] as number;
    if (++this.position === this.history.length) this.position = 0;
    this.left--;
    return x;
  }

  /** Fills target[0..length) and starts the next call on a fresh block. */
  fill(target: Float64Array, length = target.length): void {
    this.left = 0;
    for (let i = 0; i < length; i++) target[i] = this.next();
    this.left = 0;
  }
}

export interface BootstrapCutOptions {
  /** no-drift history of the feature (finite values), at least one window long */
  history: ArrayLike<number>;
  /** values in the detector's window */
  windowSize: number;
  /** the detector's statistic of one full window (the same scaling the detector's cut applies to) */
  statistic: (window: Float64Array) => number;
  /** false-alarm probability per evaluation (detectorBeta, or 1/ERT for one detector) */
  beta: number;
  random: RandomSource;
  /** bootstrap windows (default 2,000) */
  replicates?: number;
  /** default: automaticBlockLength(history, windowSize).blockLength */
  blockLength?: number;
  /**
   * tail shape used beyond the replicates' resolution: `gaussian` (ln P(S > t) linear in t²: KS-like sup
   * statistics) or `exponential` (linear in t: chi-square-like statistics such as PSI); default gaussian
   */
  tail?: 'gaussian' | 'exponential';
  /** the empirical quantile is used while β·replicates ≥ this (default 10); below, the fitted tail */
  minTailCount?: number;
}

export interface BootstrapCut {
  cut: number;
  beta: number;
  method: 'empirical' | 'extrapolated';
  replicates: number;
  blockLength: number;
  /** lag-1 autocorrelation of the history */
  rho1: number;
  /** how the block length was chosen (absent when given) */
  blockChoice?: BlockLengthChoice;
  /** upper quantiles of the bootstrap statistic */
  quantiles: { p90: number; p99: number; max: number };
  /** ln P(S > t) ≈ intercept + slope·t² (gaussian) or ·t (exponential), fitted on the top 10% of replicates */
  tail: { shape: 'gaussian' | 'exponential'; intercept: number; slope: number; points: number };
}

/**
 * The (1 − β) quantile of a window statistic under no drift: `replicates` windows are drawn from the history
 * by a circular block bootstrap and their statistics sorted. When β·replicates is too small for an empirical
 * quantile, a tail line fitted to the top 10% of the replicates is extrapolated, and the cut is never below
 * the empirical quantile the replicates can still resolve. Marginal per-evaluation β: successive
 * evaluations of a sliding window overlap, alarms cluster, so the run length to a false alarm is longer
 * than 1/β (conservative; benchmarks/drift-harness.ts measures by how much).
 */
export function bootstrapCut(options: BootstrapCutOptions): BootstrapCut {
  const windowSize = checkInteger('calibration.windowSize', options.windowSize, 2);
  const replicates = checkInteger('calibration.replicates', options.replicates ?? 2_000, 50, 10_000_000);
  const beta = checkNumber('calibration.beta', options.beta, 0, 0.5, true);
  const minTailCount = checkInteger('calibration.minTailCount', options.minTailCount ?? 10, 1, replicates);
  const shape = options.tail ?? 'gaussian';
  const history = Float64Array.from(options.history);
  if (history.length < windowSize)
    throw new MlfpError(
      'config_invalid',
      `calibration.history holds ${history.length} values, fewer than one window (${windowSize})`,
      { field: 'calibration.history', value: history.length },
    );
  for (let i = 0; i < history.length; i++)
    if (!Number.isFinite(history[i]))
      throw new MlfpError('config_invalid', `calibration.history has a non-finite value at ${i}`, {
        field: 'calibration.history',
        value: history[i],
      });
  const rho1 = lag1Autocorrelation(history);
  const blockChoice =
    options.blockLength === undefined ? automaticBlockLength(history, windowSize) : undefined;
  const blockLength =
    blockChoice?.blockLength ?? checkInteger('calibration.blockLength', options.blockLength!, 1, windowSize);
  const sampler = new CircularBlockSampler(history, blockLength, options.random);
  const window = new Float64Array(windowSize);
  const statistics: number[] = [];
  for (let r = 0; r < replicates; r++) {
    sampler.fill(window);
    const value = options.statistic(window);
    if (Number.isFinite(value)) statistics.push(value);
  }
  if (statistics.length < 50)
    throw new MlfpError('config_invalid', 'calibration: fewer than 50 replicates gave a finite statistic', {
      field: 'calibration.statistic',
      value: statistics.length,
    });
  const sorted = Float64Array.from(statistics).sort();
  const count = sorted.length;
  const tail = fitTail(sorted, shape);
  const allowed = Math.floor(beta * count);
  // with `allowed` replicates strictly above it, the empirical cut lets through about β of them
  const empirical = sorted[count - 1 - Math.min(allowed, count - 1)] as number;
  let cut = empirical;
  let method: BootstrapCut['method'] = 'empirical';
  if (allowed < minTailCount) {
    const x = (Math.log(beta) - tail.intercept) / tail.slope;
    const extrapolated = shape === 'gaussian' ? Math.sqrt(Math.max(x, 0)) : x;
    cut = Math.max(extrapolated, empirical);
    method = 'extrapolated';
  }
  return {
    cut,
    beta,
    method,
    replicates: count,
    blockLength,
    rho1,
    ...(blockChoice === undefined ? {} : { blockChoice }),
    quantiles: {
      p90: sorted[Math.floor(0.9 * (count - 1))] as number,
      p99: sorted[Math.floor(0.99 * (count - 1))] as number,
      max: sorted[count - 1] as number,
    },
    tail,
  };
}

/** Least-squares line of ln(exceedance) on t² (or t) over the top 10% of sorted statistics. */
function fitTail(sorted: Float64Array, shape: 'gaussian' | 'exponential'): BootstrapCut['tail'] {
  const count = sorted.length;
  const points = Math.max(5, Math.floor(0.1 * count));
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let j = 0; j < points; j++) {
    const t = sorted[count - 1 - j] as number;
    const x = shape === 'gaussian' ? t * t : t;
    // j replicates lie above the (j+1)-th largest: plotting position (j + 0.5)/count
    const y = Math.log((j + 0.5) / count);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const spread = sxx - (sx * sx) / points;
  const slope = spread > 0 ? (sxy - (sx * sy) / points) / spread : Number.NaN;
  if (!(slope < 0))
    throw new MlfpError(
      'config_invalid',
      'calibration: the bootstrap statistics have no decaying upper tail (a constant statistic?)',
      { field: 'calibration.statistic', value: sorted[count - 1] },
    );
  return { shape, intercept: sy / points - slope * (sx / points), slope, points };
}

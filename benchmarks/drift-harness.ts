// Drift-detector harness (issue 19, "Done when"): for i.i.d. and AR(1) inputs (φ ∈ {0, 0.9, 0.98}), the
// measured mean run length to a false alarm of each detector against its configured target, and the detection
// delay after a +0.5σ and +1σ mean shift, variance ×2, and +10 points of error rate (Page-Hinkley).
// Harness targets are small so a run takes minutes: ERT 2,000 evaluations (KS, every 50 values) and 2,000
// values (Page-Hinkley); production budgets give β near 1e-6, reached by the same tail extrapolation.
// Then replays of quiet synthetic history (benchmarks/lib/drift-replay.ts): the synthetic market through the
// engine's bars and FeatureEngine, 8 symbols pooled per model as ModelDrift runs them, reference deciles from
// one long replay; the model-level run length to a false alarm of ModelDrift's calibrated KS detectors
// against a target of --replay-target evaluation rounds (100 by default, about 3.2 alarms a week for 8
// symbols of 5m bars, so 200 replays fit in minutes), PSI's warn/alert rates, and detection delays.
// Run: npm run build && node dist/benchmarks/drift-harness.js [--runs 200] [--target 2000] [--seed 19]
//      [--replays 200] [--replay-target 100]

import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Random } from '../src/streams/random.js';
import {
  automaticBlockLength,
  BinnedReference,
  bootstrapCut,
  CircularBlockSampler,
  detectorCount,
  KsDetector,
  KsReference,
  lag1Autocorrelation,
  PageHinkley,
  PsiDetector,
  runLengthTable,
  splitFalseAlarmBudget,
  thresholdForRunLength,
  type BootstrapCut,
  type RunLengthRow,
} from '../src/monitoring/drift/index.js';
import {
  ALL_INPUTS,
  fitReference,
  measureCalibrationCost,
  replayRun,
  SCALE_FREE_INPUTS,
  type CalibrationCost,
  type FittedReference,
  type InjectedChange,
  type ReplayRunResult,
} from './lib/drift-replay.js';
import { machineInfo } from './lib/machine.js';
import { median } from './lib/measure.js';
import { formatTable, writeResults } from './lib/results.js';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const RUNS = argument('runs', 200);
/** target expected run length to a false alarm: evaluations for KS, values for Page-Hinkley */
const TARGET = argument('target', 2_000);
const SEED = argument('seed', 19);
const PHIS = [0, 0.9, 0.98] as const;
const WINDOW = 1_000;
const MIN_COUNT = 500;
const EVERY = 50;
/** null runs stop at this many times the target (a censored run counts as the cap: the mean is a lower bound) */
const NULL_CAP_FACTOR = 5;
/** values after a change before a run counts as not detected */
const DELAY_CAP = 20_000;
const HISTORY = 200_000;
const REPLICATES = 2_000;
const REFERENCE_SAMPLE = 1_000;
/** error rate before the change, and the change (+10 points) */
const ERROR_RATE = 0.45;
const ERROR_SHIFT = 0.1;
/** Φ⁻¹(0.45) and Φ⁻¹(0.55): the latent AR(1) is thresholded into 0/1 errors */
const ERROR_CUT_BEFORE = -0.12566134685507402;
const ERROR_CUT_AFTER = 0.12566134685507402;
const PH_DELTA = ERROR_SHIFT / 2;
/** replays of quiet synthetic history: how many, and the model-level target run length in evaluation rounds */
const REPLAYS = argument('replays', 200);
const REPLAY_TARGET = argument('replay-target', 100);
const REPLAY_SYMBOLS = 8;
/** delay runs per (input, change) and all-columns runs: an eighth of the quiet replays (minutes, not hours) */
const REPLAY_SIDE_RUNS = Math.max(10, Math.floor(REPLAYS / 8));
const REPLAY_REFERENCE = { symbols: 64, barsPerSymbol: 1_500 };
/** 5m bars: 2,016 per symbol-week (24/7), pooled over the symbols, evaluated every 50 values */
const REPLAY_EVALUATIONS_PER_WEEK = (2_016 * REPLAY_SYMBOLS) / EVERY;
const REPLAY_DELAY_INPUTS = ['returns', 'rsi_14'] as const;
const PH_THRESHOLDS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

const NORMAL_DECILES = [
  -1.2815515655446004, -0.8416212335729143, -0.5244005127080407, -0.2533471031357997, 0,
];
/** the manifest shape: standard normal deciles, outer edges at a training min/max */
const REFERENCE_HISTOGRAM = {
  edges: [
    -4.3,
    ...NORMAL_DECILES,
    ...NORMAL_DECILES.slice(0, 4)
      .map((e) => -e)
      .reverse(),
    4.4,
  ],
  proportions: Array.from({ length: 10 }, () => 0.1),
};

/** Stationary AR(1), unit variance. */
class Ar1 {
  private x: number;
  private readonly innovation: number;
  constructor(
    private readonly random: Random,
    private readonly phi: number,
  ) {
    this.innovation = Math.sqrt(1 - phi * phi);
    this.x = random.normal();
  }
  next(): number {
    this.x = this.phi * this.x + this.innovation * this.random.normal();
    return this.x;
  }
}

function seedOf(...parts: number[]): number {
  let h = SEED >>> 0;
  for (const part of parts) h = Math.imul(h ^ Math.round(part * 1_000_003), 0x9e3779b1) >>> 0;
  return h;
}

interface RunLengthSummary {
  detector: string;
  /** null: a replay configuration */
  phi: number | null;
  target: number | null;
  unit: 'evaluations' | 'values';
  cut: number | null;
  runs: number;
  mean: number;
  standardError: number;
  median: number;
  censored: number;
  /** mean ≥ target (a lower bound when runs were censored, so true stays true) */
  meetsTarget: boolean | null;
  /** PSI with the ESS gate: share of its evaluations that passed the gate */
  gatePassed?: number;
}

function summarise(
  detector: string,
  phi: number | null,
  target: number | null,
  unit: RunLengthSummary['unit'],
  cut: number | null,
  lengths: number[],
  cap: number,
): RunLengthSummary {
  const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  const variance = lengths.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, lengths.length - 1);
  return {
    detector,
    phi,
    target,
    unit,
    cut,
    runs: lengths.length,
    mean,
    standardError: Math.sqrt(variance / lengths.length),
    median: median(lengths),
    censored: lengths.filter((length) => length >= cap).length,
    meetsTarget: target === null ? null : mean >= target,
  };
}

interface DelaySummary {
  detector: string;
  phi: number | null;
  change: string;
  /** runs where the detector alarmed before the change (excluded) */
  falseBefore: number;
  runs: number;
  detected: number;
  meanDelay: number | null;
  medianDelay: number | null;
}

function delaySummary(
  detector: string,
  phi: number | null,
  change: string,
  delays: number[],
  falseBefore: number,
): DelaySummary {
  const detected = delays.filter((d) => d < DELAY_CAP);
  return {
    detector,
    phi,
    change,
    falseBefore,
    runs: delays.length,
    detected: detected.length,
    meanDelay: detected.length === 0 ? null : detected.reduce((a, b) => a + b, 0) / detected.length,
    medianDelay: detected.length === 0 ? null : median(detected),
  };
}

/** The window detectors of one configuration, fed the same stream. */
interface WindowDetectors {
  ksHistogram: KsDetector;
  ksSample: KsDetector;
  psiGated: PsiDetector;
  psiUngated: PsiDetector;
}
const WINDOW_NAMES = [
  'KS deciles',
  'KS sample',
  'PSI ≥0.1 (ESS≥500)',
  'PSI ≥0.25 (ESS≥500)',
  'PSI ≥0.25 no gate',
];

/** PSI evaluations with the ESS gate, and those that passed it. */
const gate = { evaluations: 0, passed: 0 };

/** First alarm index of each window detector, in the order of WINDOW_NAMES; -1 while none. */
function feed(detectors: WindowDetectors, x: number, t: number, firsts: Int32Array): void {
  if (detectors.ksHistogram.update(x, t) && firsts[0]! < 0 && detectors.ksHistogram.status === 'alarm')
    firsts[0] = t;
  if (detectors.ksSample.update(x, t) && firsts[1]! < 0 && detectors.ksSample.status === 'alarm')
    firsts[1] = t;
  if (detectors.psiGated.update(x, t)) {
    const status = detectors.psiGated.status;
    gate.evaluations++;
    if (status !== 'gated') gate.passed++;
    if (firsts[2]! < 0 && (status === 'warn' || status === 'alert')) firsts[2] = t;
    if (firsts[3]! < 0 && status === 'alert') firsts[3] = t;
  }
  if (detectors.psiUngated.update(x, t) && firsts[4]! < 0 && detectors.psiUngated.status === 'alert')
    firsts[4] = t;
}

/** Evaluations before and including the value at index t (every EVERY values once MIN_COUNT are in). */
function evaluationsAt(t: number): number {
  return Math.floor((t + 1) / EVERY) - Math.floor((MIN_COUNT - 1) / EVERY);
}

function calibrateKs(reference: KsReference, phi: number, phiIndex: number): BootstrapCut {
  const history = new Ar1(new Random(seedOf(phiIndex, 1)), phi);
  const values = Float64Array.from({ length: HISTORY }, () => history.next());
  return bootstrapCut({
    history: values,
    windowSize: WINDOW,
    statistic: (window) => reference.statistic(window) * reference.scale(window.length),
    beta: 1 / TARGET,
    replicates: REPLICATES,
    random: new Random(seedOf(phiIndex, 2)),
  });
}

interface ConfigurationResult {
  runLengths: RunLengthSummary[];
  delays: DelaySummary[];
  calibrations: Record<string, unknown>[];
}

/** Everything for one φ: calibration, false-alarm runs, delay runs (one worker thread each). */
function runConfiguration(phiIndex: number): ConfigurationResult {
  const started = Date.now();
  const phi = PHIS[phiIndex] as number;
  const binned = new BinnedReference(REFERENCE_HISTOGRAM);
  const referenceRandom = new Random(seedOf(99));
  const ksHistogramReference = KsReference.fromHistogram(binned);
  const ksSampleReference = KsReference.fromSample(
    Float64Array.from({ length: REFERENCE_SAMPLE }, () => referenceRandom.normal()),
  );
  const nullCap = NULL_CAP_FACTOR * TARGET;
  const nullValueCap = MIN_COUNT - 1 + nullCap * EVERY;

  const runLengths: RunLengthSummary[] = [];
  const delays: DelaySummary[] = [];
  const calibrations: Record<string, unknown>[] = [];
  const changes = [
    { name: '+0.5σ', apply: (x: number) => x + 0.5 },
    { name: '+1σ', apply: (x: number) => x + 1 },
    { name: 'var ×2', apply: (x: number) => x * Math.SQRT2 },
  ];

  {
    const histogramCut = calibrateKs(ksHistogramReference, phi, phiIndex);
    const sampleCut = calibrateKs(ksSampleReference, phi, phiIndex);
    calibrations.push(
      { detector: 'KS deciles', phi, ...histogramCut },
      { detector: 'KS sample', phi, ...sampleCut },
    );
    const detectors: WindowDetectors = {
      ksHistogram: new KsDetector(ksHistogramReference, {
        cut: histogramCut.cut,
        window: WINDOW,
        minCount: MIN_COUNT,
        every: EVERY,
      }),
      ksSample: new KsDetector(ksSampleReference, {
        cut: sampleCut.cut,
        window: WINDOW,
        minCount: MIN_COUNT,
        every: EVERY,
      }),
      psiGated: new PsiDetector(binned, { window: WINDOW, minCount: MIN_COUNT, every: EVERY, minEss: 500 }),
      psiUngated: new PsiDetector(binned, { window: WINDOW, minCount: MIN_COUNT, every: EVERY, minEss: 0 }),
    };
    const resetAll = (): void => {
      detectors.ksHistogram.reset();
      detectors.ksSample.reset();
      detectors.psiGated.reset();
      detectors.psiUngated.reset();
    };
    const firsts = new Int32Array(WINDOW_NAMES.length);

    // false alarms: no change at all
    const lengths: number[][] = WINDOW_NAMES.map(() => []);
    gate.evaluations = 0;
    gate.passed = 0;
    for (let run = 0; run < RUNS; run++) {
      resetAll();
      firsts.fill(-1);
      const source = new Ar1(new Random(seedOf(phiIndex, 3, run)), phi);
      let t = 0;
      for (; t < nullValueCap; t++) {
        feed(detectors, source.next(), t, firsts);
        if (firsts.every((first) => first >= 0)) break;
      }
      for (let i = 0; i < WINDOW_NAMES.length; i++)
        lengths[i]!.push(firsts[i]! < 0 ? nullCap : evaluationsAt(firsts[i]!));
    }
    const cuts = [histogramCut.cut, sampleCut.cut, 0.1, 0.25, 0.25];
    for (const [i, name] of WINDOW_NAMES.entries()) {
      const ertCalibrated = i < 2;
      const summary = summarise(
        name,
        phi,
        ertCalibrated ? TARGET : null,
        'evaluations',
        cuts[i]!,
        lengths[i]!,
        nullCap,
      );
      if (i === 2 || i === 3) summary.gatePassed = gate.passed / gate.evaluations;
      runLengths.push(summary);
    }

    // detection delay
    for (const [changeIndex, change] of changes.entries()) {
      const delayLists: number[][] = WINDOW_NAMES.map(() => []);
      const falseBefore = new Array<number>(WINDOW_NAMES.length).fill(0);
      for (let run = 0; run < RUNS; run++) {
        resetAll();
        firsts.fill(-1);
        const random = new Random(seedOf(phiIndex, 4, changeIndex, run));
        const source = new Ar1(random, phi);
        const changeAt = WINDOW + Math.floor(random.uniform() * WINDOW);
        for (let t = 0; t < changeAt; t++) feed(detectors, source.next(), t, firsts);
        const before = Array.from(firsts, (first) => first >= 0);
        firsts.fill(-1);
        for (let t = changeAt; t < changeAt + DELAY_CAP; t++) {
          feed(detectors, change.apply(source.next()), t, firsts);
          if (firsts.every((first, i) => first >= 0 || before[i])) break;
        }
        for (let i = 0; i < WINDOW_NAMES.length; i++) {
          if (before[i]) falseBefore[i]!++;
          else delayLists[i]!.push(firsts[i]! < 0 ? DELAY_CAP : firsts[i]! - changeAt + 1);
        }
      }
      for (const [i, name] of WINDOW_NAMES.entries())
        delays.push(delaySummary(name, phi, change.name, delayLists[i]!, falseBefore[i]!));
    }

    // Page-Hinkley on 0/1 errors: latent AR(1) below Φ⁻¹(error rate)
    const latentHistory = new Ar1(new Random(seedOf(phiIndex, 5)), phi);
    const errors = Float64Array.from({ length: HISTORY }, () =>
      latentHistory.next() < ERROR_CUT_BEFORE ? 1 : 0,
    );
    const rho1 = lag1Autocorrelation(errors);
    // a run's statistic sums over about its run length: blocks bounded by ten targets, not a window
    const blockChoice = automaticBlockLength(errors, 10 * TARGET);
    const blockLength = blockChoice.blockLength;
    const sampler = new CircularBlockSampler(errors, blockLength, new Random(seedOf(phiIndex, 6)));
    const table: RunLengthRow[] = runLengthTable(() => sampler.next(), {
      delta: PH_DELTA,
      thresholds: PH_THRESHOLDS,
      runs: RUNS,
      maxLength: 10 * TARGET,
    });
    const threshold = thresholdForRunLength(table, TARGET);
    calibrations.push({ detector: 'Page-Hinkley', phi, rho1, blockChoice, threshold, table });
    const ph = new PageHinkley({ delta: PH_DELTA, threshold });
    const phLengths: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      ph.reset();
      const latent = new Ar1(new Random(seedOf(phiIndex, 7, run)), phi);
      let t = 0;
      while (t < nullCap && !ph.update(latent.next() < ERROR_CUT_BEFORE ? 1 : 0, t)) t++;
      phLengths.push(Math.min(t + 1, nullCap));
    }
    runLengths.push(summarise('Page-Hinkley', phi, TARGET, 'values', threshold, phLengths, nullCap));
    const phDelays: number[] = [];
    let phFalseBefore = 0;
    for (let run = 0; run < RUNS; run++) {
      ph.reset();
      const random = new Random(seedOf(phiIndex, 8, run));
      const latent = new Ar1(random, phi);
      const changeAt = WINDOW + Math.floor(random.uniform() * WINDOW);
      let falseAlarm = false;
      for (let t = 0; t < changeAt; t++)
        if (ph.update(latent.next() < ERROR_CUT_BEFORE ? 1 : 0, t)) falseAlarm = true;
      if (falseAlarm) {
        phFalseBefore++;
        continue;
      }
      let delay = DELAY_CAP;
      for (let t = changeAt; t < changeAt + DELAY_CAP; t++)
        if (ph.update(latent.next() < ERROR_CUT_AFTER ? 1 : 0, t)) {
          delay = t - changeAt + 1;
          break;
        }
      phDelays.push(delay);
    }
    delays.push(delaySummary('Page-Hinkley', phi, '+10 pt errors', phDelays, phFalseBefore));
    console.error(`φ = ${phi} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return { runLengths, delays, calibrations };
}

type Job =
  | { kind: 'phi'; phiIndex: number }
  | { kind: 'replay'; part: 'quiet' | 'all-columns'; from: number; to: number }
  | { kind: 'replay-delay'; changeIndex: number; input: string; from: number; to: number };

type JobResult =
  | { kind: 'phi'; result: ConfigurationResult }
  | { kind: 'replay'; part: 'quiet' | 'all-columns'; runs: ReplayRunResult[] }
  | { kind: 'replay-delay'; changeIndex: number; input: string; runs: ReplayRunResult[] };

const REPLAY_CHANGES: ReadonlyArray<{ name: string; apply: InjectedChange['apply'] }> = [
  { name: '+0.5σ', apply: (x, m) => x + 0.5 * m.std },
  { name: '+1σ', apply: (x, m) => x + m.std },
  { name: 'var ×2', apply: (x, m) => m.mean + (x - m.mean) * Math.SQRT2 },
];

function replayOptions(): { alarmsPerWeek: number; expectedSymbols: number } {
  return { alarmsPerWeek: REPLAY_EVALUATIONS_PER_WEEK / REPLAY_TARGET, expectedSymbols: REPLAY_SYMBOLS };
}

function runJob(job: Job, reference: FittedReference | undefined): JobResult {
  if (job.kind === 'phi') return { kind: 'phi', result: runConfiguration(job.phiIndex) };
  const started = Date.now();
  const fitted = reference as FittedReference;
  const runs: ReplayRunResult[] = [];
  for (let run = job.from; run < job.to; run++) {
    if (job.kind === 'replay')
      runs.push(
        replayRun({
          reference: fitted,
          inputs: job.part === 'quiet' ? SCALE_FREE_INPUTS : ALL_INPUTS,
          options: replayOptions(),
          seed: seedOf(job.part === 'quiet' ? 2_000 : 4_000, run),
          symbols: REPLAY_SYMBOLS,
          valuesAfterCalibration: NULL_CAP_FACTOR * REPLAY_TARGET * EVERY,
        }),
      );
    else {
      const seed = seedOf(3_000, job.changeIndex, REPLAY_DELAY_INPUTS.indexOf(job.input as never), run);
      const change = REPLAY_CHANGES[job.changeIndex]!;
      const changeAfter = WINDOW + Math.floor(new Random(seed).uniform() * WINDOW);
      runs.push(
        replayRun({
          reference: fitted,
          inputs: SCALE_FREE_INPUTS,
          options: replayOptions(),
          seed,
          symbols: REPLAY_SYMBOLS,
          valuesAfterCalibration: changeAfter + DELAY_CAP,
          changeAfter,
          change: { input: job.input, name: change.name, apply: change.apply },
          stopOnDetection: true,
        }),
      );
    }
  }
  const label = job.kind === 'replay' ? job.part : `${job.input} ${REPLAY_CHANGES[job.changeIndex]!.name}`;
  console.error(
    `replays ${label} ${job.from}–${job.to} done in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  return job.kind === 'replay'
    ? { kind: 'replay', part: job.part, runs }
    : { kind: 'replay-delay', changeIndex: job.changeIndex, input: job.input, runs };
}

/** The jobs, longest first: the φ configurations, then replay chunks small enough to balance two cores. */
function jobs(): Job[] {
  const list: Job[] = PHIS.map((_, phiIndex) => ({ kind: 'phi' as const, phiIndex }));
  if (REPLAYS === 0) return list;
  const chunk = Math.max(1, Math.ceil(REPLAYS / 8));
  for (let from = 0; from < REPLAYS; from += chunk)
    list.push({ kind: 'replay', part: 'quiet', from, to: Math.min(REPLAYS, from + chunk) });
  const sideChunk = Math.max(1, Math.ceil(REPLAY_SIDE_RUNS / 2));
  for (let from = 0; from < REPLAY_SIDE_RUNS; from += sideChunk)
    list.push({
      kind: 'replay',
      part: 'all-columns',
      from,
      to: Math.min(REPLAY_SIDE_RUNS, from + sideChunk),
    });
  for (const input of REPLAY_DELAY_INPUTS)
    for (let changeIndex = 0; changeIndex < REPLAY_CHANGES.length; changeIndex++)
      list.push({ kind: 'replay-delay', changeIndex, input, from: 0, to: REPLAY_SIDE_RUNS });
  return list;
}

/** Runs the jobs on worker threads, as many at once as there are cores. */
async function runAll(list: readonly Job[], reference: FittedReference | undefined): Promise<JobResult[]> {
  const results: JobResult[] = [];
  const parallel = Math.max(1, Math.min(list.length, availableParallelism()));
  let next = 0;
  const runNext = async (): Promise<void> => {
    while (next < list.length) {
      const index = next++;
      results[index] = await new Promise<JobResult>((resolve, reject) => {
        const worker = new Worker(new URL(import.meta.url), {
          workerData: { job: list[index], reference },
          argv: process.argv.slice(2),
        });
        worker.once('message', (result: JobResult) => resolve(result));
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`drift-harness worker for job ${index} exited with ${code}`));
        });
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, runNext));
  return results;
}

/** Values to rounds of evaluations (every EVERY values), at least 1; −1 (none) counts as the cap. */
function roundsOf(values: number, cap: number): number {
  return values < 0 ? cap : Math.min(cap, Math.max(1, Math.ceil(values / EVERY)));
}

interface ReplaySummary {
  runLengths: RunLengthSummary[];
  delays: DelaySummary[];
  allColumns: Array<{ series: string; ksAlarmShare: number; psiAlertShare: number }>;
  gateReadable: number;
  calibratedAtMedian: number;
  /** per quiet replay, its longest feeding call: median and max over replays */
  longestCallMs: { median: number; max: number };
}

function summariseReplays(results: readonly JobResult[]): ReplaySummary {
  const cap = NULL_CAP_FACTOR * REPLAY_TARGET;
  const quiet = results.flatMap((r) => (r.kind === 'replay' && r.part === 'quiet' ? r.runs : []));
  const wide = results.flatMap((r) => (r.kind === 'replay' && r.part === 'all-columns' ? r.runs : []));
  const label = `ModelDrift ${SCALE_FREE_INPUTS.length + 1} series`;
  const runLengths = [
    summarise(
      `${label}: KS`,
      null,
      REPLAY_TARGET,
      'evaluations',
      null,
      quiet.map((r) => roundsOf(r.firstKs, cap)),
      cap,
    ),
    summarise(
      `${label}: PSI ≥0.1`,
      null,
      null,
      'evaluations',
      0.1,
      quiet.map((r) => roundsOf(r.firstPsiWarn, cap)),
      cap,
    ),
    summarise(
      `${label}: PSI ≥0.25`,
      null,
      null,
      'evaluations',
      0.25,
      quiet.map((r) => roundsOf(r.firstPsiAlert, cap)),
      cap,
    ),
    summarise(
      `all 16 columns + output: KS`,
      null,
      REPLAY_TARGET,
      'evaluations',
      null,
      wide.map((r) => roundsOf(r.firstKs, cap)),
      cap,
    ),
  ];
  const gateSamples = quiet.reduce((a, r) => a + r.gateSamples, 0);
  const gateReadable = gateSamples === 0 ? 0 : quiet.reduce((a, r) => a + r.gateReadable, 0) / gateSamples;
  runLengths[1]!.gatePassed = gateReadable;
  runLengths[2]!.gatePassed = gateReadable;
  const keys = [...ALL_INPUTS.map((name) => `input:${name}`), 'output:p_up'];
  const allColumns = keys.map((series) => ({
    series,
    ksAlarmShare: wide.filter((r) => r.ksAlerted.includes(series)).length / Math.max(1, wide.length),
    psiAlertShare: wide.filter((r) => r.psiAlerted.includes(series)).length / Math.max(1, wide.length),
  }));
  const delays: DelaySummary[] = [];
  for (const result of results) {
    if (result.kind !== 'replay-delay') continue;
    const clean = result.runs.filter((r) => !r.falseBeforeChange);
    const summary = delaySummary(
      `ModelDrift ${result.input}`,
      null,
      REPLAY_CHANGES[result.changeIndex]!.name,
      clean.map((r) => (r.delay < 0 ? DELAY_CAP : r.delay)),
      result.runs.length - clean.length,
    );
    delays.push(summary);
  }
  const calibrated = quiet.map((r) => r.calibratedAt).filter((v) => v >= 0);
  return {
    runLengths,
    delays,
    allColumns,
    gateReadable,
    calibratedAtMedian: calibrated.length === 0 ? Number.NaN : median(calibrated),
    longestCallMs: {
      median: quiet.length === 0 ? Number.NaN : median(quiet.map((r) => r.maxCallMs)),
      max: Math.max(0, ...quiet.map((r) => r.maxCallMs)),
    },
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  let reference: FittedReference | undefined;
  let calibrationCost: CalibrationCost | undefined;
  if (REPLAYS > 0) {
    reference = fitReference(seedOf(1_000), REPLAY_REFERENCE.symbols, REPLAY_REFERENCE.barsPerSymbol);
    calibrationCost = measureCalibrationCost(reference, REPLAY_SYMBOLS, seedOf(5_000));
    console.error(
      `reference: ${reference.vectors} vectors; calibration ${calibrationCost.medianMs.toFixed(1)} ms median, ` +
        `${calibrationCost.maxMs.toFixed(1)} ms max per series (${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  const list = jobs();
  const jobResults = await runAll(list, reference);
  const results = jobResults.flatMap((r) => (r.kind === 'phi' ? [r.result] : []));
  const replay = REPLAYS > 0 ? summariseReplays(jobResults) : undefined;
  const runLengths = [...results.flatMap((result) => result.runLengths), ...(replay?.runLengths ?? [])];
  const delays = [...results.flatMap((result) => result.delays), ...(replay?.delays ?? [])];
  const calibrations = results.flatMap((result) => result.calibrations);
  const changes = [{ name: '+0.5σ' }, { name: '+1σ' }, { name: 'var ×2' }];

  // the production budget this harness stands in for: 17 series (16 inputs, 1 output) × 1,000 symbols × PSI+KS
  const perTimeframe = detectorCount({ features: 17, symbols: 1_000, timeframes: 1, statistics: 2 });
  const budget = splitFalseAlarmBudget([
    { name: '5m', detectors: perTimeframe, evaluationsPerWeek: (78 * 5) / EVERY },
    { name: '1h', detectors: perTimeframe, evaluationsPerWeek: (6.5 * 5) / EVERY },
    { name: '1d', detectors: perTimeframe, evaluationsPerWeek: 5 / EVERY },
  ]);

  const fmt = (x: number | null, digits = 0): string => (x === null ? '—' : x.toFixed(digits));
  console.log(
    `\nMean run length to a false alarm (${RUNS} seeded runs each, ${REPLAYS} quiet replays and ${REPLAY_SIDE_RUNS} all-columns replays; runs censored at ${NULL_CAP_FACTOR}× target, so a mean with censored runs is a lower bound)\n`,
  );
  console.log(
    formatTable(
      ['detector', 'φ', 'cut', 'target', 'mean ± se', 'median', 'censored', '≥ target', 'ESS gate passed'],
      runLengths.map((r) => [
        r.detector,
        r.phi === null ? 'replay' : String(r.phi),
        fmt(r.cut, 3),
        r.target === null
          ? 'fixed cut'
          : `${r.target} ${r.unit === 'values' ? 'val' : r.phi === null ? 'rounds' : 'ev'}`,
        `${fmt(r.mean)} ± ${fmt(r.standardError)}`,
        fmt(r.median),
        `${r.censored}/${r.runs}`,
        r.meetsTarget === null ? '—' : r.meetsTarget ? 'yes' : 'NO',
        r.gatePassed === undefined ? '' : `${(100 * r.gatePassed).toFixed(1)}%`,
      ]),
    ),
  );
  console.log(
    `\nDetection delay in values after the change (mean / median over detected runs; detected within ${DELAY_CAP} values)\n`,
  );
  const changeNames = [...changes.map((c) => c.name), '+10 pt errors'];
  const phiLabel = (phi: number | null): string => (phi === null ? 'replay' : String(phi));
  const detectorsAndPhis = [...new Set(delays.map((d) => `${d.detector}|${phiLabel(d.phi)}`))];
  console.log(
    formatTable(
      ['detector', 'φ', ...changeNames],
      detectorsAndPhis.map((key) => {
        const [detector, phi] = key.split('|') as [string, string];
        return [
          detector,
          phi,
          ...changeNames.map((change) => {
            const d = delays.find(
              (x) => x.detector === detector && phiLabel(x.phi) === phi && x.change === change,
            );
            if (d === undefined) return '';
            if (d.detected === 0) return `none of ${d.runs}`;
            const share = d.detected === d.runs ? '' : ` (${d.detected}/${d.runs})`;
            return `${fmt(d.meanDelay)} / ${fmt(d.medianDelay)}${share}`;
          }),
        ];
      }),
    ),
  );
  if (replay !== undefined && calibrationCost !== undefined) {
    console.log(
      `\nReplays: ${REPLAY_SYMBOLS} symbols pooled, delays in pooled values (÷ ${REPLAY_SYMBOLS} = bars); ` +
        `PSI readable (ESS gate passed) in ${(100 * replay.gateReadable).toFixed(1)}% of PSI states; ` +
        `calibrated after ${replay.calibratedAtMedian} values (median)`,
    );
    console.log(
      `KS calibration (5,000 values, 2,000 replicates, window 1,000): ${calibrationCost.medianMs.toFixed(1)} ms median, ` +
        `${calibrationCost.maxMs.toFixed(1)} ms max per series, ${calibrationCost.totalMs.toFixed(0)} ms for ${calibrationCost.series} series; ` +
        `longest feeding call per quiet replay (one calibration at most per call): median ${replay.longestCallMs.median.toFixed(1)} ms, max ${replay.longestCallMs.max.toFixed(1)} ms`,
    );
    console.log(
      `\nAll 16 columns + output, share of ${REPLAY_SIDE_RUNS} quiet replays with an alarm within ${NULL_CAP_FACTOR * REPLAY_TARGET} rounds\n`,
    );
    console.log(
      formatTable(
        ['series', 'KS alarm', 'PSI ≥0.25'],
        replay.allColumns.map((row) => [
          row.series,
          `${(100 * row.ksAlarmShare).toFixed(0)}%`,
          `${(100 * row.psiAlertShare).toFixed(0)}%`,
        ]),
      ),
    );
  }
  const seconds = (Date.now() - started) / 1000;
  const path = writeResults('drift-harness', {
    benchmark: 'drift-harness',
    date: new Date().toISOString(),
    machine: machineInfo(),
    seconds,
    command: `node dist/benchmarks/drift-harness.js --runs ${RUNS} --target ${TARGET} --seed ${SEED} --replays ${REPLAYS} --replay-target ${REPLAY_TARGET}`,
    config: {
      runs: RUNS,
      targetErt: { ks: `${TARGET} evaluations (every ${EVERY} values)`, pageHinkley: `${TARGET} values` },
      note: 'harness targets, far below production (see budgetExample): the cut comes from the same bootstrap and tail extrapolation',
      window: WINDOW,
      minCount: MIN_COUNT,
      every: EVERY,
      nullCap: `${NULL_CAP_FACTOR}× target`,
      delayCap: DELAY_CAP,
      history: HISTORY,
      replicates: REPLICATES,
      referenceSample: REFERENCE_SAMPLE,
      phis: PHIS,
      changes: changeNames,
      errorRate: ERROR_RATE,
      pageHinkleyDelta: PH_DELTA,
      psi: { minEss: 500, warn: 0.1, alert: 0.25 },
      replay: {
        replays: REPLAYS,
        sideRuns: REPLAY_SIDE_RUNS,
        symbols: REPLAY_SYMBOLS,
        targetRounds: REPLAY_TARGET,
        note: 'model-level target: evaluation rounds (every 50 pooled values) to the first KS false alarm of any series; ModelDrift defaults otherwise (windows 1,000, calibration 5,000 values, 2,000 replicates)',
        modelDriftOptions: replayOptions(),
        evaluationsPerWeek: REPLAY_EVALUATIONS_PER_WEEK,
        scaleFreeInputs: SCALE_FREE_INPUTS,
        delayInputs: REPLAY_DELAY_INPUTS,
        reference:
          reference === undefined
            ? null
            : { seed: reference.seed, symbols: reference.symbols, vectors: reference.vectors },
      },
    },
    runLengths,
    delays,
    calibrations,
    budgetExample: { series: 17, symbols: 1_000, statistics: 2, alarmsPerWeek: 1, groups: budget },
    replay:
      replay === undefined
        ? null
        : {
            allColumns: replay.allColumns,
            psiReadable: replay.gateReadable,
            calibratedAtMedian: replay.calibratedAtMedian,
            longestFeedingCallMs: replay.longestCallMs,
            calibrationCost: calibrationCost ?? null,
            references: reference?.histograms ?? null,
          },
  });
  console.log(`\n${seconds.toFixed(0)} s; results: ${path}`);
}

if (isMainThread) await main();
else {
  const data = workerData as { job: Job; reference: FittedReference | undefined };
  parentPort!.postMessage(runJob(data.job, data.reference));
}

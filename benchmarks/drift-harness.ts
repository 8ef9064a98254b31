// Drift-detector harness (issue 19, "Done when"): for i.i.d. and AR(1) inputs (φ ∈ {0, 0.9, 0.98}), the
// measured mean run length to a false alarm of each detector against its configured target, and the detection
// delay after a +0.5σ and +1σ mean shift, variance ×2, and +10 points of error rate (Page-Hinkley).
// Harness targets are small so a run takes minutes: ERT 2,000 evaluations (KS, every 50 values) and 2,000
// values (Page-Hinkley); production budgets give β near 1e-6, reached by the same tail extrapolation.
// Run: npm run build && node dist/benchmarks/drift-harness.js [--runs 200] [--target 2000] [--seed 19]

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
  phi: number;
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
  phi: number,
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
  phi: number;
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
  phi: number,
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

/** Runs the configurations on worker threads (one per φ, as many at once as there are cores). */
async function runAll(): Promise<ConfigurationResult[]> {
  const results: ConfigurationResult[] = [];
  const parallel = Math.max(1, Math.min(PHIS.length, availableParallelism()));
  let next = 0;
  const runNext = async (): Promise<void> => {
    while (next < PHIS.length) {
      const phiIndex = next++;
      results[phiIndex] = await new Promise<ConfigurationResult>((resolve, reject) => {
        const worker = new Worker(new URL(import.meta.url), {
          workerData: { phiIndex },
          argv: process.argv.slice(2),
        });
        worker.once('message', (result: ConfigurationResult) => resolve(result));
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0)
            reject(new Error(`drift-harness worker for φ index ${phiIndex} exited with ${code}`));
        });
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, runNext));
  return results;
}

async function main(): Promise<void> {
  const started = Date.now();
  const results = await runAll();
  const runLengths = results.flatMap((result) => result.runLengths);
  const delays = results.flatMap((result) => result.delays);
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
    `\nMean run length to a false alarm (${RUNS} seeded runs each; runs censored at ${NULL_CAP_FACTOR}× target, so a mean with censored runs is a lower bound)\n`,
  );
  console.log(
    formatTable(
      ['detector', 'φ', 'cut', 'target', 'mean ± se', 'median', 'censored', '≥ target', 'ESS gate passed'],
      runLengths.map((r) => [
        r.detector,
        String(r.phi),
        fmt(r.cut, 3),
        r.target === null ? 'fixed cut' : `${r.target} ${r.unit === 'values' ? 'val' : 'ev'}`,
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
  const detectorsAndPhis = [...new Set(delays.map((d) => `${d.detector}|${d.phi}`))];
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
              (x) => x.detector === detector && String(x.phi) === phi && x.change === change,
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
  const seconds = (Date.now() - started) / 1000;
  const path = writeResults('drift-harness', {
    benchmark: 'drift-harness',
    date: new Date().toISOString(),
    machine: machineInfo(),
    seconds,
    command: `node dist/benchmarks/drift-harness.js --runs ${RUNS} --target ${TARGET} --seed ${SEED}`,
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
    },
    runLengths,
    delays,
    calibrations,
    budgetExample: { series: 17, symbols: 1_000, statistics: 2, alarmsPerWeek: 1, groups: budget },
  });
  console.log(`\n${seconds.toFixed(0)} s; results: ${path}`);
}

if (isMainThread) await main();
else parentPort!.postMessage(runConfiguration((workerData as { phiIndex: number }).phiIndex));

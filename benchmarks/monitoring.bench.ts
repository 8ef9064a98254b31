// What model monitoring (issue 19: delayed labels + performance, drift, the alert rules) adds to the engine's
// per-bar cost: 10,000 symbols whose ticks close a 5m bar each per round (1h and 1d closing at their rate),
// through PartitionWorkers with the real scoring stage and the demo models, monitoring off beside on, in one
// process, alternating blocks of the same rounds; also with scoring off (features only), the cheapest path.
// Writes benchmarks/results/monitoring.json. Run: npm run build && npm run bench:monitoring
// (BENCH_SYMBOLS, BENCH_WARMUP_ROUNDS, BENCH_ROUNDS_PER_BLOCK, BENCH_BLOCKS, BENCH_CPU_PROFILE, BENCH_MONITOR_SHARE;
// node --expose-gc for the GC between blocks)

import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { engineConfigSchema, type EngineConfig } from '../src/config/schema.js';
import type { Output } from '../src/domain/output.js';
import type { Bar } from '../src/domain/types.js';
import { ModelRegistry } from '../src/models/registry.js';
import { ModelDrift } from '../src/monitoring/drift/model-drift.js';
import { PSI_DEFAULTS } from '../src/monitoring/drift/psi.js';
import { createLogger } from '../src/monitoring/log.js';
import { EngineMetrics } from '../src/monitoring/metrics.js';
import { PerformanceTracker } from '../src/monitoring/performance/performance-tracker.js';
import type { ModelMonitor } from '../src/monitoring/model-monitor.js';
import { EngineStats } from '../src/monitoring/stats.js';
import { createRunMonitor, monitoredModels } from '../src/streams/monitor-wiring.js';
import type { OutboxOwner } from '../src/streams/delivery-ports.js';
import { PartitionWorker, type LabelState } from '../src/streams/partition-worker.js';
import { Random } from '../src/streams/random.js';
import { ScoringStage } from '../src/streams/scoring-stage.js';
import { machineInfo } from './lib/machine.js';
import { median, positiveIntegerEnv } from './lib/measure.js';
import { formatTable, projectRoot, writeResults } from './lib/results.js';

const SYMBOLS = positiveIntegerEnv('BENCH_SYMBOLS', 10_000);
/** ticks per symbol per 5m bar, spread over the bar */
const TICKS_PER_BAR = 4;
/** stored 5m bars per symbol replayed through PartitionWorker.warmUp first: every feature past its 50-bar warm-up */
const HISTORY_BARS = 60;
/** live rounds before timing: LSTM windows (16 vectors) full, every KS and error detector calibrated, JIT warm */
const WARMUP_ROUNDS = positiveIntegerEnv('BENCH_WARMUP_ROUNDS', 20);
const ROUNDS_PER_BLOCK = positiveIntegerEnv('BENCH_ROUNDS_PER_BLOCK', 4);
const BLOCKS = positiveIntegerEnv('BENCH_BLOCKS', 7);
const TARGET_ADDED = 0.1;
const BAR_MS = 300_000;
/** event time of live round 0: 22:00 UTC, so the UTC day closes in the measured part (round 24 with the defaults) */
const START_MS = Date.parse('2024-03-04T22:00:00Z');

type Tick = { symbol: string; ts: number; price: number; size: number };

/** One round's ticks (a 5m bar per symbol), in event-time order; they close the previous round's bars. */
class TickSource {
  private readonly names: string[];
  private readonly prices: Float64Array;
  private readonly random = new Random(19);

  constructor(symbols: number) {
    this.names = Array.from({ length: symbols }, (_, i) => `SYM${String(i).padStart(5, '0')}`);
    this.prices = new Float64Array(symbols);
    for (let s = 0; s < symbols; s++)
      this.prices[s] = Math.round(10 ** (1 + 1.7 * this.random.uniform()) * 100) / 100;
  }

  /** Stored 5m bars before live round 0 (the engine's warm-up input), the same random walk. */
  history(count: number): Bar[] {
    const bars: Bar[] = [];
    for (let b = count; b >= 1; b--) {
      const ts = START_MS - b * BAR_MS;
      for (let s = 0; s < this.names.length; s++) {
        const open = this.prices[s] as number;
        let high = open;
        let low = open;
        let close = open;
        for (let k = 0; k < TICKS_PER_BAR; k++) {
          close = Math.max(0.01, Math.round(close * Math.exp(0.002 * this.random.normal()) * 100) / 100);
          if (close > high) high = close;
          if (close < low) low = close;
        }
        this.prices[s] = close;
        const volume = TICKS_PER_BAR * 250;
        bars.push({
          symbol: this.names[s] as string,
          timeframe: '5m',
          ts,
          end: ts + BAR_MS,
          open,
          high,
          low,
          close,
          volume,
          vwap: (open + high + low + close) / 4,
          trades: TICKS_PER_BAR,
          revision: 0,
        });
      }
    }
    return bars;
  }

  get symbols(): readonly string[] {
    return this.names;
  }

  round(index: number): Tick[] {
    const ticks: Tick[] = [];
    const barStart = START_MS + index * BAR_MS;
    const step = BAR_MS / TICKS_PER_BAR;
    const spread = Math.min(step - 1, 20_000);
    for (let k = 0; k < TICKS_PER_BAR; k++)
      for (let s = 0; s < this.names.length; s++) {
        const price = Math.max(
          0.01,
          Math.round((this.prices[s] as number) * Math.exp(0.002 * this.random.normal()) * 100) / 100,
        );
        this.prices[s] = price;
        const ts = barStart + k * step + Math.floor((s * spread) / this.names.length);
        ticks.push({ symbol: this.names[s] as string, ts, price, size: 1 + this.random.int(500) });
      }
    return ticks;
  }
}

interface Counts {
  bars5m: number;
  bars1h: number;
  bars1d: number;
  features: number;
  predictions: number;
  labels: number;
  performance: number;
  alerts: number;
  deadLetters: number;
  evaluations: number;
}

const zeroCounts = (): Counts => ({
  bars5m: 0,
  bars1h: 0,
  bars1d: 0,
  features: 0,
  predictions: 0,
  labels: 0,
  performance: 0,
  alerts: 0,
  deadLetters: 0,
  evaluations: 0,
});

interface Variant {
  name: 'scoring-off' | 'scoring-on' | 'features-off' | 'features-on';
  scoring: boolean;
  worker: PartitionWorker;
  monitor: ModelMonitor | undefined;
  /** the monitor's outputs (performance records, lifecycle alerts), as the delivery coordinator cuts them */
  monitorOutbox: OutboxOwner | undefined;
  offset: number;
  /** this variant's own running time (ms): the 1 s evaluation cadence runs on it */
  activeMs: number;
  nextEvaluationMs: number;
  counts: Counts;
  /** ns per closed 5m bar, per measured block */
  blockNsPerBar: number[];
  /** GC pause ms inside each measured block */
  blockGcMs: number[];
  warmUpNsPerBar: number[];
}

/** Calibration time, measured around ModelDrift.calibrateNext (called from the hot path when a series' history is full). */
const calibration = { calls: 0, ms: 0, maxMs: 0 };
const calibrateNext = ModelDrift.prototype.calibrateNext;
ModelDrift.prototype.calibrateNext = function timed(this: ModelDrift): boolean {
  const start = performance.now();
  const ran = calibrateNext.call(this);
  const ms = performance.now() - start;
  if (ran) {
    calibration.calls++;
    calibration.ms += ms;
    if (ms > calibration.maxMs) calibration.maxMs = ms;
  }
  return ran;
};

/** The same around each performance tracker's one-time Page-Hinkley calibration (a bootstrapped run-length table). */
const errorCalibration = { calls: 0, ms: 0, maxMs: 0 };
const trackerPrototype = PerformanceTracker.prototype as unknown as { calibrate: () => void };
const calibrateErrors = trackerPrototype.calibrate;
trackerPrototype.calibrate = function timed(this: PerformanceTracker): void {
  const start = performance.now();
  calibrateErrors.call(this);
  const ms = performance.now() - start;
  errorCalibration.calls++;
  errorCalibration.ms += ms;
  if (ms > errorCalibration.maxMs) errorCalibration.maxMs = ms;
};

/**
 * What-if, not the engine's behaviour: BENCH_MONITOR_SHARE < 1 shows the monitor (drift, labels) only the features,
 * predictions and bars of a stable hash-chosen share of the symbols (default 1: every output, hooks unwrapped).
 */
const MONITOR_SHARE = Math.min(1, Number(process.env.BENCH_MONITOR_SHARE ?? 1));
const sampledSymbols = new Map<string, boolean>();
function isSampled(symbol: string): boolean {
  let sampled = sampledSymbols.get(symbol);
  if (sampled === undefined) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < symbol.length; i++) hash = Math.imul(hash ^ symbol.charCodeAt(i), 0x01000193);
    sampledSymbols.set(symbol, (sampled = (hash >>> 0) / 2 ** 32 < MONITOR_SHARE));
  }
  return sampled;
}
function sampledObserve(observe: (output: Output) => boolean): (output: Output) => boolean {
  if (MONITOR_SHARE >= 1) return observe;
  return (output) =>
    (output.kind === 'features' || output.kind === 'prediction') && !isSampled(output.value.symbol)
      ? false
      : observe(output);
}
function sampledLabels(create: () => LabelState): () => LabelState {
  if (MONITOR_SHARE >= 1) return create;
  return () => {
    const labels = create();
    return {
      onPrediction: (prediction) => {
        if (isSampled(prediction.symbol)) labels.onPrediction(prediction);
      },
      onBar: (bar, emit) => {
        if (isSampled(bar.symbol)) labels.onBar(bar, emit);
      },
      snapshot: () => labels.snapshot(),
      restore: (snapshot) => labels.restore(snapshot),
    };
  };
}

function createVariant(name: Variant['name'], config: EngineConfig, registry: ModelRegistry): Variant {
  const scoring = name.startsWith('scoring');
  const on = name.endsWith('-on');
  const counts = zeroCounts();
  // each monitor registers its counters in its own metrics registry (as one per process would)
  const metrics = new EngineMetrics(new EngineStats(0), { defaultMetrics: false });
  const run = on
    ? createRunMonitor(
        config,
        registry,
        metrics,
        createLogger({ level: 'warn', write: () => undefined }),
        () => {},
      )
    : undefined;
  // the monitor's own 1 s timer would fire while another variant runs: stopped, and evaluate() is called on
  // this variant's own time instead (below), so its cost lands in its own blocks
  run?.monitor.stop();
  if (run !== undefined) {
    const evaluate = run.monitor.evaluate.bind(run.monitor);
    run.monitor.evaluate = (nowMs?: number) => {
      counts.evaluations++;
      evaluate(nowMs);
    };
  }
  const worker = new PartitionWorker({
    topic: name,
    partition: 0,
    bars: config.bars,
    validator: { numbersAsStrings: config.validation.numbersAsStrings },
    dataQuality: config.dataQuality,
    stats: new EngineStats(0),
    createStage: scoring
      ? () =>
          new ScoringStage(registry, {
            maxBatchSize: config.models.maxBatchSize,
            maxWaitMs: config.models.maxWaitMs,
          })
      : undefined,
    observe: run === undefined ? undefined : sampledObserve(run.hooks.observe),
    createLabels: run?.hooks.createLabels === undefined ? undefined : sampledLabels(run.hooks.createLabels),
  });
  return {
    name,
    scoring,
    worker,
    monitor: run?.monitor,
    monitorOutbox: run?.hooks.outbox,
    offset: 0,
    activeMs: 0,
    nextEvaluationMs: config.monitoring.evaluationIntervalMs,
    counts,
    blockNsPerBar: [],
    blockGcMs: [],
    warmUpNsPerBar: [],
  };
}

/** Takes the worker's (and the monitor's) outbox, as the delivery coordinator would, and counts it. */
function collect(variant: Variant): void {
  const counts = variant.counts;
  const batch = variant.worker.takeOutbox();
  if (batch !== undefined) {
    for (const bar of batch.bars) {
      if (bar.revision !== 0) continue;
      if (bar.timeframe === '5m') counts.bars5m++;
      else if (bar.timeframe === '1h') counts.bars1h++;
      else counts.bars1d++;
    }
    counts.features += batch.features.length;
    counts.predictions += batch.predictions.length;
    counts.labels += batch.labels.length;
    counts.alerts += batch.alerts.length;
    counts.deadLetters += batch.deadLetters.length;
  }
  const own = variant.monitorOutbox?.takeOutbox();
  if (own !== undefined) {
    counts.performance += own.performance.length;
    counts.alerts += own.alerts.length;
  }
}

/** Feeds rounds of ticks; returns ns per 5m bar closed (ticks in → bars → features → scoring → outputs). */
async function runRounds(variant: Variant, rounds: readonly Tick[][], intervalMs: number): Promise<number> {
  const before = variant.counts.bars5m;
  const start = process.hrtime.bigint();
  for (const ticks of rounds) {
    const roundStart = performance.now();
    const worker = variant.worker;
    for (let i = 0; i < ticks.length; i++) worker.feed(variant.offset++, undefined, ticks[i], undefined);
    await worker.drain();
    collect(variant);
    variant.activeMs += performance.now() - roundStart;
    if (variant.monitor !== undefined && variant.activeMs >= variant.nextEvaluationMs) {
      variant.monitor.evaluate();
      while (variant.nextEvaluationMs <= variant.activeMs) variant.nextEvaluationMs += intervalMs;
      collect(variant);
    }
  }
  const elapsedNs = Number(process.hrtime.bigint() - start);
  const bars = variant.counts.bars5m - before;
  // the first round closes nothing (its bars close with the next round's ticks)
  return bars === 0 ? Number.NaN : elapsedNs / bars;
}

/** Values fed to each drift series so far, per model (from the drift monitors' snapshots; outside timing). */
function valuesFed(monitor: ModelMonitor, registry: ModelRegistry): Map<string, number> {
  const fed = new Map<string, number>();
  for (const spec of monitoredModels(registry)) {
    const drift = monitor.driftOf(spec.model, spec.version);
    if (drift !== undefined)
      fed.set(
        `${spec.model}@${spec.version}`,
        drift.snapshot().series.reduce((n, s) => n + s.seq, 0),
      );
  }
  return fed;
}

/** What the monitor's drift detectors did: values fed, calibrations, detectors evaluated since `sinceMs`. */
function driftSummary(
  monitor: ModelMonitor,
  registry: ModelRegistry,
  sinceMs: number,
  fedBefore: Map<string, number>,
  every: { psi: number; ks: number },
) {
  const models: Array<Record<string, unknown>> = [];
  for (const spec of monitoredModels(registry)) {
    const drift = monitor.driftOf(spec.model, spec.version);
    if (drift === undefined) continue;
    const snapshot = drift.snapshot();
    const values = snapshot.series.reduce((n, s) => n + s.seq, 0);
    const measuredValues = values - (fedBefore.get(`${spec.model}@${spec.version}`) ?? 0);
    const rows = drift.status();
    const tracker = monitor.performanceOf(spec.model, spec.version)?.snapshot();
    models.push({
      errorDetectorCalibrated: tracker === undefined ? null : tracker.pageHinkley !== null,
      model: `${spec.model}@${spec.version}`,
      series: snapshot.series.length,
      valuesFed: values,
      valuesFedInMeasuredPart: measuredValues,
      /** each series' PSI evaluates every psi.every values and its KS every ks.every values */
      detectorEvaluationsInMeasuredPart:
        Math.floor(measuredValues / every.psi) + Math.floor(measuredValues / every.ks),
      calibrated: drift.calibrations().length,
      pendingCalibrations: drift.pendingCalibrations,
      skipped: drift.skipped.map((s) => `${s.key}: ${s.reason}`),
      detectorsEvaluatedInMeasuredPart: rows.filter((r) => r.evaluatedAtMs >= sinceMs).length,
      detectors: rows.length,
      states: rows.reduce<Record<string, number>>((acc, r) => {
        acc[`${r.detector}:${r.state}`] = (acc[`${r.detector}:${r.state}`] ?? 0) + 1;
        return acc;
      }, {}),
    });
  }
  return models;
}

const gc = (globalThis as { gc?: () => void }).gc;
/** GC pause time (ms) as V8 reports it; entries arrive asynchronously, so read after settleGc() */
const gcTotals = { ms: 0, count: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcTotals.ms += entry.duration;
    gcTotals.count++;
  }
}).observe({ entryTypes: ['gc'] });
const settleGc = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const config = engineConfigSchema.parse({});
  const intervalMs = config.monitoring.evaluationIntervalMs;
  const machine = machineInfo(['rxjs', 'onnxruntime-node']);
  const loadStart = performance.now();
  const { registry, errors } = await ModelRegistry.fromDirectory(join(projectRoot(), 'models'), {
    strict: true,
  });
  if (errors.length > 0) throw errors[0];
  const live = registry
    .assignment()
    .filter((a) => a.role === 'live')
    .map((a) => `${a.model.manifest.name}@${a.model.manifest.version} (${a.model.manifest.format})`);
  process.stderr.write(
    `models: ${live.join(', ')} (${Math.round(performance.now() - loadStart)} ms to load)\n`,
  );
  const variants = (['scoring-off', 'scoring-on', 'features-off', 'features-on'] as const).map((name) =>
    createVariant(name, config, registry),
  );
  const source = new TickSource(SYMBOLS);
  const byName = (name: Variant['name']): Variant => variants.find((v) => v.name === name)!;

  // warm-up: stored bars, then live rounds one at a time through every variant (KS calibration happens here,
  // timed separately)
  const warmStart = performance.now();
  const history = source.history(HISTORY_BARS);
  for (const variant of variants) variant.worker.warmUp(history, source.symbols);
  history.length = 0;
  process.stderr.write(
    `history warm-up: ${HISTORY_BARS} bars × ${SYMBOLS} symbols (${Math.round(performance.now() - warmStart)} ms)\n`,
  );
  let roundIndex = 0;
  for (; roundIndex < WARMUP_ROUNDS; roundIndex++) {
    const ticks = source.round(roundIndex);
    for (const variant of variants)
      variant.warmUpNsPerBar.push(await runRounds(variant, [ticks], intervalMs));
    if (roundIndex % 5 === 4)
      process.stderr.write(
        `warm-up round ${roundIndex + 1}/${WARMUP_ROUNDS} (${Math.round((performance.now() - warmStart) / 1000)} s)\n`,
      );
  }
  const calibrationAtWarmUpEnd = { ...calibration };
  const errorCalibrationAtWarmUpEnd = { ...errorCalibration };
  const warmUpCounts = Object.fromEntries(variants.map((v) => [v.name, { ...v.counts }]));
  for (const variant of variants) Object.assign(variant.counts, zeroCounts());

  // measured: blocks of the same rounds through each variant, the order alternating block by block
  // BENCH_CPU_PROFILE=FILE: a CPU profile (250 µs sampling) of the measured blocks of BENCH_PROFILE_VARIANT only
  // (default scoring-on), one file per block (FILE.<block>.cpuprofile)
  const profilePath = process.env.BENCH_CPU_PROFILE;
  const profiled = (process.env.BENCH_PROFILE_VARIANT ?? 'scoring-on') as Variant['name'];
  const session = profilePath === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
  }
  const fedBefore = {
    'scoring-on': valuesFed(byName('scoring-on').monitor!, registry),
    'features-on': valuesFed(byName('features-on').monitor!, registry),
  };
  const measuredSinceMs = Date.now();
  const order: Variant['name'][][] = [
    ['scoring-off', 'scoring-on', 'features-off', 'features-on'],
    ['scoring-on', 'scoring-off', 'features-on', 'features-off'],
  ];
  for (let block = 0; block < BLOCKS; block++) {
    const rounds: Tick[][] = [];
    for (let r = 0; r < ROUNDS_PER_BLOCK; r++) rounds.push(source.round(roundIndex++));
    const line: string[] = [];
    for (const name of order[block % 2]!) {
      const variant = byName(name);
      gc?.();
      await settleGc();
      const gcBefore = gcTotals.ms;
      const profiling = session !== undefined && name === profiled;
      if (profiling) await session.post('Profiler.start');
      const nsPerBar = await runRounds(variant, rounds, intervalMs);
      if (profiling) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(`${profilePath}.${block + 1}.cpuprofile`, JSON.stringify(profile));
      }
      await settleGc();
      if (!Number.isFinite(nsPerBar)) throw new Error(`${name}: no 5m bar closed in block ${block + 1}`);
      variant.blockNsPerBar.push(nsPerBar);
      variant.blockGcMs.push(gcTotals.ms - gcBefore);
      line.push(`${name} ${(nsPerBar / 1000).toFixed(2)}`);
    }
    process.stderr.write(`block ${block + 1}/${BLOCKS}: ${line.join(', ')} µs/bar\n`);
  }
  if (session !== undefined) {
    session.disconnect();
    process.stderr.write(
      `CPU profiles of ${profiled}'s measured blocks: ${profilePath}.<block>.cpuprofile\n`,
    );
  }

  const summary = (name: Variant['name']) => {
    const v = byName(name);
    const us = v.blockNsPerBar.map((ns) => ns / 1000);
    const gcUsPerBar = v.blockGcMs.map((ms) => (ms * 1000) / (ROUNDS_PER_BLOCK * SYMBOLS));
    return {
      medianUs: median(us),
      minUs: Math.min(...us),
      maxUs: Math.max(...us),
      blocksUs: us.map(round3),
      /** GC pauses inside the blocks, µs per 5m bar (part of medianUs) */
      gcMedianUs: round3(median(gcUsPerBar)),
    };
  };
  const pairs = (off: Variant['name'], on: Variant['name']) => {
    const a = byName(off).blockNsPerBar;
    const b = byName(on).blockNsPerBar;
    const perBlock = a.map((x, i) => (b[i] as number) / x);
    const offS = summary(off);
    const onS = summary(on);
    return {
      off: offS,
      on: onS,
      ratioOfMedians: onS.medianUs / offS.medianUs,
      addedPercent: (onS.medianUs / offS.medianUs - 1) * 100,
      addedUsPerBar: onS.medianUs - offS.medianUs,
      pairedRatios: perBlock.map(round3),
      medianPairedRatio: median(perBlock),
    };
  };
  const scoringPair = pairs('scoring-off', 'scoring-on');
  const featuresPair = pairs('features-off', 'features-on');
  const pass = scoringPair.ratioOfMedians <= 1 + TARGET_ADDED;
  const on = byName('scoring-on');
  const every = { psi: PSI_DEFAULTS.every, ks: config.monitoring.drift.ks.every };
  const featuresOn = byName('features-on');

  const warmUpSummary = Object.fromEntries(
    variants.map((v) => [v.name, v.warmUpNsPerBar.map((ns) => round3(ns / 1000))]),
  );
  const result = {
    benchmark:
      'monitoring: per-5m-bar cost of the engine with model monitoring (labels, performance, drift, alert rules) off vs on',
    date: new Date().toISOString(),
    machine,
    gcBetweenBlocks: gc !== undefined,
    method:
      `${SYMBOLS.toLocaleString('en-US')} symbols, ${TICKS_PER_BAR} ticks per symbol per 5m bar (event time advancing; 1h and 1d bars close ` +
      `at their rate), fed to PartitionWorker.feed as decoded records; each round closes one 5m bar per symbol, then ` +
      `awaits worker.drain() (scoring done) and takes the outboxes. Four workers (scoring off/on, features only off/on) ` +
      `see the same ticks; warm-up: ${HISTORY_BARS} stored 5m bars per symbol through PartitionWorker.warmUp (features ` +
      `past warm-up), then ${WARMUP_ROUNDS} live rounds (LSTM windows full, KS and error detectors calibrated), ` +
      `then ${BLOCKS} blocks of ${ROUNDS_PER_BLOCK} rounds, each block through every variant, order alternating, GC ` +
      `before each. Cost = block wall time / 5m bars closed in it (everything: ticks → bars → features → scoring → ` +
      `outputs, 1h/1d bars included). "on" = createRunMonitor with the default monitoring config (labels, drift, ` +
      `performance, alert rules); its timer is stopped and evaluate() runs every ${intervalMs} ms of the variant's own ` +
      `running time (checked after each round), so its cost lands in its own blocks.`,
    config: {
      symbols: SYMBOLS,
      /** < 1: a what-if run, the monitor saw only this share of the symbols (BENCH_MONITOR_SHARE) */
      monitorShare: MONITOR_SHARE,
      ticksPerBar: TICKS_PER_BAR,
      historyBars: HISTORY_BARS,
      warmUpRounds: WARMUP_ROUNDS,
      roundsPerBlock: ROUNDS_PER_BLOCK,
      blocks: BLOCKS,
      models: live,
      monitoring: config.monitoring,
      scoring: { maxBatchSize: config.models.maxBatchSize, maxWaitMs: config.models.maxWaitMs },
    },
    unit: 'µs per closed 5m bar (wall time, one process, medians over blocks)',
    scoring: scoringPair,
    featuresOnly: featuresPair,
    target: {
      maxAddedPercent: TARGET_ADDED * 100,
      measuredAddedPercent: round3(scoringPair.addedPercent),
      pass,
    },
    measuredCounts: Object.fromEntries(variants.map((v) => [v.name, v.counts])),
    warmUpCounts,
    calibration: {
      note: 'KS bootstraps (one per series, when its first calibration.values finite values arrived), timed around ModelDrift.calibrateNext; all in the warm-up unless measuredCalls > 0',
      calls: calibrationAtWarmUpEnd.calls,
      totalMs: round3(calibrationAtWarmUpEnd.ms),
      maxMs: round3(calibrationAtWarmUpEnd.maxMs),
      measuredCalls: calibration.calls - calibrationAtWarmUpEnd.calls,
      errorDetectors: {
        note: "each performance tracker's Page-Hinkley threshold (run-length table on bootstrapped errors), timed around PerformanceTracker.calibrate",
        calls: errorCalibrationAtWarmUpEnd.calls,
        totalMs: round3(errorCalibrationAtWarmUpEnd.ms),
        maxMs: round3(errorCalibrationAtWarmUpEnd.maxMs),
        measuredCalls: errorCalibration.calls - errorCalibrationAtWarmUpEnd.calls,
      },
    },
    drift: {
      'scoring-on': driftSummary(on.monitor!, registry, measuredSinceMs, fedBefore['scoring-on'], every),
      'features-on': driftSummary(
        featuresOn.monitor!,
        registry,
        measuredSinceMs,
        fedBefore['features-on'],
        every,
      ),
    },
    alertsEmitted: { 'scoring-on': on.monitor!.emitted, 'features-on': featuresOn.monitor!.emitted },
    /** the monitor's own counters since the start (labels by state, performance records), where it has them */
    monitorCounts: {
      'scoring-on': (on.monitor as unknown as { counts?: unknown }).counts ?? null,
      'features-on': (featuresOn.monitor as unknown as { counts?: unknown }).counts ?? null,
    },
    warmUpUsPerBar: warmUpSummary,
  };

  console.log(
    `\nmonitoring overhead: ${SYMBOLS.toLocaleString('en-US')} symbols, ${BLOCKS} blocks × ${ROUNDS_PER_BLOCK} rounds ` +
      `(${(ROUNDS_PER_BLOCK * SYMBOLS).toLocaleString('en-US')} 5m bars per block), after ${WARMUP_ROUNDS} warm-up rounds\n` +
      `${machine.cpu} ×${machine.cores}, Node ${machine.node}, load ${machine.loadAverage1m}\n`,
  );
  const row = (label: string, p: ReturnType<typeof pairs>): string[][] => [
    [
      `${label}: off`,
      p.off.medianUs.toFixed(2),
      `${p.off.minUs.toFixed(2)}–${p.off.maxUs.toFixed(2)}`,
      p.off.gcMedianUs.toFixed(2),
      '',
      '',
    ],
    [
      `${label}: on`,
      p.on.medianUs.toFixed(2),
      `${p.on.minUs.toFixed(2)}–${p.on.maxUs.toFixed(2)}`,
      p.on.gcMedianUs.toFixed(2),
      `${p.ratioOfMedians.toFixed(3)}× (paired ${p.medianPairedRatio.toFixed(3)}×)`,
      `${p.addedPercent >= 0 ? '+' : ''}${p.addedPercent.toFixed(1)} %`,
    ],
  ];
  console.log(
    formatTable(
      ['engine path', 'µs / 5m bar (median)', 'min–max', 'of it GC', 'on / off', 'added'],
      [
        ...row('ticks → features → scoring (3 models)', scoringPair),
        ...row('ticks → features (no scoring)', featuresPair),
      ],
    ),
  );
  const c = on.counts;
  console.log(
    `\nmonitor work in the measured part (scoring on): ${c.labels.toLocaleString('en-US')} labels, ` +
      `${c.performance.toLocaleString('en-US')} performance records, ${c.evaluations} rule evaluations, ` +
      `${c.predictions.toLocaleString('en-US')} predictions, ${c.bars5m.toLocaleString('en-US')} 5m / ${c.bars1h.toLocaleString('en-US')} 1h / ` +
      `${c.bars1d.toLocaleString('en-US')} 1d bars; drift: ` +
      (result.drift['scoring-on'] as Array<Record<string, unknown>>)
        .map(
          (m) =>
            `${String(m['model'])}: ${Number(m['valuesFedInMeasuredPart']).toLocaleString('en-US')} values fed, ` +
            `~${Number(m['detectorEvaluationsInMeasuredPart']).toLocaleString('en-US')} PSI/KS evaluations, ` +
            `${String(m['detectorsEvaluatedInMeasuredPart'])}/${String(m['detectors'])} detectors evaluated, ${String(m['calibrated'])} KS calibrated`,
        )
        .join('; '),
  );
  console.log(
    `KS calibration (one-time, warm-up): ${result.calibration.calls} bootstraps, ${result.calibration.totalMs.toFixed(0)} ms ` +
      `in all, longest ${result.calibration.maxMs.toFixed(0)} ms; in the measured part: ${result.calibration.measuredCalls}. ` +
      `Error detectors (one-time): ${errorCalibrationAtWarmUpEnd.calls} calibrations, ${errorCalibrationAtWarmUpEnd.ms.toFixed(0)} ms, ` +
      `in the measured part: ${errorCalibration.calls - errorCalibrationAtWarmUpEnd.calls}`,
  );
  console.log(
    `\ntarget: monitoring adds ≤ ${TARGET_ADDED * 100} % per bar at ${SYMBOLS.toLocaleString('en-US')} symbols: ` +
      `${scoringPair.addedPercent.toFixed(1)} % → ${pass ? 'PASS' : 'FAIL'}`,
  );
  // a what-if run never overwrites the engine's result
  const path = writeResults(
    process.env.BENCH_OUT ?? (MONITOR_SHARE < 1 ? 'monitoring-what-if' : 'monitoring'),
    result,
  );
  console.log(`results: ${path}`);
  for (const variant of variants) variant.worker.close();
  await registry.close();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `monitoring bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  // the ONNX worker thread would keep the process alive
  process.exit(1);
});

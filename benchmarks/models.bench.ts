// Model scoring benchmarks, all in one run so ratios compare like with like: native LightGBM vs
// LightGBM's own C predict (one thread), native trees vs onnxruntime TreeEnsemble graphs at batch 1 and
// 256, LSTM batched vs batch-1 (onnxruntime and TF.js), and the added latency from bar close to
// prediction with 1,000 symbols closing together. Writes benchmarks/results/models.json.
// Usage (from the repository root): npm run bench:models [-- --quick] [-- --update-readme]

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Subject, type SchedulerLike, asyncScheduler } from 'rxjs';
import type { FeatureVector, Prediction } from '../src/domain/types.js';
import { FEATURE_COLUMNS } from '../src/domain/types.js';
import { applyEngineV8Flags } from '../src/config/v8-flags.js';
import { parseCsvText, parseNumberCell } from '../src/streams/csv.js';
import { loadLightGbmModel, type LightGbmModel } from '../src/models/formats/lightgbm.js';
import { openModel } from '../src/models/load-model.js';
import { openOnnxRuntime } from '../src/models/runtimes/onnx-runtime.js';
import { ModelRegistry } from '../src/models/registry.js';
import type { ModelRuntime } from '../src/models/runtimes/runtime.js';
import { Scorer, type ScoreOutput } from '../src/models/scoring/scorer.js';
import { openTreeRuntime } from '../src/models/runtimes/tree-runtime.js';
import { DEFAULT_SCORE_OPTIONS, scoreFeatures } from '../src/operators/score.js';

const ROOT = process.cwd();
const FIXTURES = join(ROOT, 'test/fixtures/models');
const QUICK = process.argv.includes('--quick');
const REPS = QUICK ? 3 : 7;
const SECONDS = QUICK ? 0.15 : 0.4;
const WARM_UP_SECONDS = QUICK ? 0.6 : 1.5;

interface Measure {
  /** median rows (or windows) per second over the repetitions */
  rowsPerSecond: number;
  min: number;
  max: number;
  reps: number;
}

function summarise(rates: number[]): Measure {
  const sorted = [...rates].sort((a, b) => a - b);
  return {
    rowsPerSecond: sorted[Math.floor(sorted.length / 2)]!,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    reps: sorted.length,
  };
}

/** Runs `step` (which scores `rowsPerStep` rows) for SECONDS, REPS times after a warm-up. */
async function measure(rowsPerStep: number, step: () => void | Promise<void>): Promise<Measure> {
  // long enough for V8 to finish optimising the generated tree code (large functions tier up late)
  const warmStart = performance.now();
  const warmEnd = warmStart + WARM_UP_SECONDS * 1000;
  let warmSteps = 0;
  while (performance.now() < warmEnd || warmSteps < 2) {
    const r = step();
    if (r !== undefined) await r;
    warmSteps++;
  }
  // read the clock about every 0.1 ms of work, so that neither the clock nor slow steps skew a rep
  const stepMs = (performance.now() - warmStart) / warmSteps;
  const perCheck = Math.max(1, Math.round(0.1 / stepMs));
  const rates: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    let rows = 0;
    const start = performance.now();
    let now = start;
    while (now - start < SECONDS * 1000) {
      for (let k = 0; k < perCheck; k++) {
        const r = step();
        if (r !== undefined) await r;
        rows += rowsPerStep;
      }
      now = performance.now();
    }
    rates.push((rows / (now - start)) * 1000);
  }
  return summarise(rates);
}

function readRows(
  relative: string,
  drop: readonly string[],
): { rows: number; width: number; values: Float64Array } {
  const { header, rows } = parseCsvText(readFileSync(join(FIXTURES, relative), 'utf8'));
  const keep = header.map((n, i) => [n, i] as const).filter(([n]) => !drop.includes(n));
  const values = new Float64Array(rows.length * keep.length);
  rows.forEach((r, i) =>
    keep.forEach(([, c], j) => (values[i * keep.length + j] = parseNumberCell(r[c] ?? '') ?? NaN)),
  );
  return { rows: rows.length, width: keep.length, values };
}

function cycler(values: Float64Array, rows: number, width: number, batch: number): () => Float64Array {
  // batches of `batch` consecutive rows, cycling through the table (views made once, not per call)
  const views: Float64Array[] = [];
  for (let start = 0; start + batch <= rows; start += batch)
    views.push(values.subarray(start * width, (start + batch) * width));
  let i = 0;
  return () => {
    const v = views[i]!;
    i = (i + 1) % views.length;
    return v;
  };
}

// ---------------------------------------------------------------- native LightGBM vs LightGBM C

interface PeerResult {
  available: boolean;
  reason?: string;
  library?: string;
  byBatch?: Record<string, Measure>;
  identical?: boolean;
}

function lightgbmLibrary(): string | undefined {
  const lib = join(ROOT, '.cache/lightgbm/3.3.510/lib_lightgbm.so');
  if (existsSync(lib)) return lib;
  try {
    execFileSync('bash', [join(ROOT, 'scripts/models/fetch-lightgbm.sh')], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return existsSync(lib) ? lib : undefined;
}

function lightgbmPeer(
  values: Float64Array,
  rows: number,
  width: number,
  batches: number[],
  native: Float64Array,
): PeerResult {
  const lib = lightgbmLibrary();
  if (lib === undefined)
    return {
      available: false,
      reason:
        'lib_lightgbm.so not found and scripts/models/fetch-lightgbm.sh could not fetch it (needs mvn and Maven Central)',
    };
  const work = join(tmpdir(), `mlfp-bench-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const binary = join(work, 'lightgbm_predict');
  try {
    execFileSync('gcc', ['-O2', '-o', binary, join(ROOT, 'benchmarks/peers/lightgbm_predict.c'), '-ldl'], {
      stdio: 'pipe',
    });
  } catch (error) {
    return {
      available: false,
      reason: `gcc could not build the C peer: ${(error as Error).message.split('\n')[0]}`,
    };
  }
  const rowsFile = join(work, 'rows.f64');
  writeFileSync(rowsFile, Buffer.from(values.buffer, values.byteOffset, rows * width * 8));
  const outFile = join(work, 'out.f64');
  const byBatch: Record<string, Measure> = {};
  for (const batch of batches) {
    const text = execFileSync(
      binary,
      [
        lib,
        join(FIXTURES, 'lightgbm-regressor/model.txt'),
        rowsFile,
        String(rows),
        String(width),
        String(batch),
        String(SECONDS),
        String(REPS),
        outFile,
      ],
      { encoding: 'utf8' },
    );
    const rates = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rows: number; seconds: number })
      .map((r) => r.rows / r.seconds);
    byBatch[String(batch)] = summarise(rates);
  }
  const theirs = new Float64Array(readFileSync(outFile).buffer.slice(0));
  const identical = theirs.length === native.length && theirs.every((v, i) => v === native[i]);
  return { available: true, library: lib, byBatch, identical };
}

interface LightgbmResult {
  model: string;
  rows: number;
  native: Record<string, Measure>;
  lightgbmC: PeerResult;
  nativeOverC: Record<string, number>;
}

async function lightgbmVersusC(): Promise<LightgbmResult> {
  const train = readRows('lightgbm-regressor/train.csv', ['row', 'target']);
  const test = readRows('lightgbm-regressor/test.csv', ['row', 'target']);
  const rows = train.rows + test.rows;
  const values = new Float64Array(rows * 16);
  values.set(train.values);
  values.set(test.values, train.values.length);
  const model: LightGbmModel = loadLightGbmModel(
    readFileSync(join(FIXTURES, 'lightgbm-regressor/model.txt'), 'utf8'),
  );
  const native = new Float64Array(rows);
  model.predict(values, 0, rows, native, 0);
  const batches = [rows, 256, 1];
  const out = new Float64Array(rows);
  const nativeByBatch: Record<string, Measure> = {};
  for (const batch of batches) {
    const next = cycler(values, rows, 16, batch);
    nativeByBatch[String(batch)] = await measure(batch, () => model.predict(next(), 0, batch, out, 0));
  }
  const peer = lightgbmPeer(values, rows, 16, batches, native);
  const ratios: Record<string, number> = {};
  if (peer.byBatch !== undefined)
    for (const b of batches)
      ratios[String(b)] = nativeByBatch[String(b)]!.rowsPerSecond / peer.byBatch[String(b)]!.rowsPerSecond;
  return {
    model: 'lightgbm-regressor (50 trees, 31 leaves, 16 inputs)',
    rows,
    native: nativeByBatch,
    lightgbmC: peer,
    nativeOverC: ratios,
  };
}

// ---------------------------------------------------------------- native trees vs ONNX TreeEnsemble

type TreesResult = Record<
  string,
  { byBatch: Record<string, Record<string, Measure>>; faster: Record<string, string> }
>;

async function treesVersusOnnx(): Promise<TreesResult> {
  const cases = [
    {
      name: 'lightgbm-regressor',
      native: ['lightgbm-txt', 'lightgbm-regressor/model.txt'],
      onnx: 'onnx-trees/lightgbm-regressor.onnx',
    },
    {
      name: 'xgboost-classifier',
      native: ['xgboost-json', 'xgboost/classifier/model.json'],
      onnx: 'onnx-trees/xgboost-classifier.onnx',
    },
  ] as const;
  const table = readRows('lightgbm-regressor/test.csv', ['row', 'target']);
  const result: TreesResult = {};
  for (const c of cases) {
    const runtimes: [string, ModelRuntime][] = [
      ['native', await openTreeRuntime(c.native[0], join(FIXTURES, c.native[1]))],
      ['onnxruntime', await openOnnxRuntime(join(FIXTURES, c.onnx), { threads: 1, worker: false })],
    ];
    const byBatch: Record<string, Record<string, Measure>> = {};
    for (const batch of [1, 256]) {
      const next = cycler(table.values, table.rows, 16, batch);
      const row: Record<string, Measure> = {};
      for (const [name, runtime] of runtimes) {
        const out = new Float64Array(batch * runtime.outputWidth);
        row[name] = await measure(batch, () => runtime.score(next(), batch, out));
      }
      byBatch[String(batch)] = row;
    }
    const faster: Record<string, string> = {};
    for (const [batch, row] of Object.entries(byBatch))
      faster[batch] = row.native!.rowsPerSecond >= row.onnxruntime!.rowsPerSecond ? 'native' : 'onnxruntime';
    result[c.name] = { byBatch, faster };
    for (const [, runtime] of runtimes) await runtime.close();
  }
  return result;
}

// ---------------------------------------------------------------- LSTM batched vs batch-1

type LstmResult = Record<
  string,
  { provider: string; graph: string; byBatch: Record<string, Measure>; batchedOverSingle: number }
>;

/** Which graph an ONNX LSTM runs (from its runtime's description): the op, or the unrolled steps. */
function lstmGraph(description: string): string {
  if (!description.startsWith('ONNX')) return 'n/a';
  return /unrolled into \d+ steps/.test(description) ? 'unrolled' : 'LSTM op';
}

async function lstmBatching(): Promise<LstmResult> {
  const result: LstmResult = {};
  const windows = 1024;
  const input = new Float64Array(windows * 16 * 16);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.37);
  // the default (worker thread, the manifest's unrollLstm: auto) and, beside it, the LSTM op as exported
  const variants = [
    ['lstm-return (worker thread)', 'lstm-return', true, 'auto'],
    ['lstm-return (worker thread, unrollLstm never)', 'lstm-return', true, 'never'],
    ['lstm-return (event loop)', 'lstm-return', false, 'auto'],
    ['lstm-return (event loop, unrollLstm never)', 'lstm-return', false, 'never'],
    ['lstm-return-tfjs', 'lstm-return-tfjs', false, 'auto'],
  ] as const;
  for (const [label, folder, onnxWorker, onnxUnrollLstm] of variants) {
    const model = await openModel(join(ROOT, 'models', folder), { onnxWorker, onnxUnrollLstm });
    const runtime = model.runtime;
    const byBatch: Record<string, Measure> = {};
    for (const batch of [1, 256, 1024]) {
      const out = new Float64Array(batch);
      const next = cycler(input, windows, 256, batch);
      byBatch[String(batch)] = await measure(batch, () => runtime.score(next(), batch, out));
    }
    result[label] = {
      provider: runtime.provider,
      graph: lstmGraph(runtime.description),
      byBatch,
      batchedOverSingle: byBatch['256']!.rowsPerSecond / byBatch['1']!.rowsPerSecond,
    };
    await runtime.close();
  }
  return result;
}

// ---------------------------------------------------------------- added latency, 1,000 symbols closing together

interface Quantiles {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

interface LatencyResult {
  symbols: number;
  barCloses: number;
  options: typeof DEFAULT_SCORE_OPTIONS;
  models: string[];
  latencyMs: Quantiles;
  perModel: Record<string, Quantiles>;
}

/** The latency measurement repeated in fresh processes: per model, medians over the runs. */
interface LatencyRuns {
  runs: number;
  symbols: number;
  barCloses: number;
  options: typeof DEFAULT_SCORE_OPTIONS;
  models: string[];
  /** per model, and `all`: p50 and p99 medians over the runs, the p99 range, the largest max */
  summary: Record<
    string,
    { p50: number; p99: number; p99Min: number; p99Max: number; max: number; count: number }
  >;
  each: LatencyResult[];
}

/**
 * closeLatency() in `runs` child processes (this script with --latency-only), one after the other: each
 * starts from a fresh heap and compiled code, as an engine does, not after the other benchmarks'
 * garbage; and one run's p99 on a noisy VM says little (±40%), so the table gives the median and range.
 */
function latencyRuns(runs: number): LatencyRuns {
  const each: LatencyResult[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--latency-only', ...(QUICK ? ['--quick'] : [])],
      { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    each.push(JSON.parse(out) as LatencyResult);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const summary: LatencyRuns['summary'] = {};
  const rows = (r: LatencyResult): [string, Quantiles][] => [
    ...Object.entries(r.perModel),
    ['all', r.latencyMs],
  ];
  for (const [name] of rows(each[0]!)) {
    const qs = each.map((r) => rows(r).find(([n]) => n === name)![1]);
    summary[name] = {
      p50: median(qs.map((q) => q.p50)),
      p99: median(qs.map((q) => q.p99)),
      p99Min: Math.min(...qs.map((q) => q.p99)),
      p99Max: Math.max(...qs.map((q) => q.p99)),
      max: Math.max(...qs.map((q) => q.max)),
      count: qs.reduce((n, q) => n + q.count, 0),
    };
  }
  const first = each[0]!;
  return {
    runs,
    symbols: first.symbols,
    barCloses: first.barCloses,
    options: first.options,
    models: first.models,
    summary,
    each,
  };
}

/** One bar close of `symbols` symbols (a plain function, so V8 optimises it: no boxed doubles). */
function closeVectors(close: number, symbols: number): FeatureVector[] {
  const vectors: FeatureVector[] = [];
  for (let s = 0; s < symbols; s++) {
    const values = new Float64Array(FEATURE_COLUMNS.length);
    for (let j = 0; j < values.length; j++)
      values[j] = Math.sin((close * 7919 + s * 31 + j) * 12.9898) * 0.5 * (j === 15 ? 1e6 : j >= 7 ? 100 : 1);
    vectors.push({ symbol: `S${s}`, timeframe: '5m', ts: close * 300_000, revision: 0, close: 100, values });
  }
  return vectors;
}

async function closeLatency(): Promise<LatencyResult> {
  const { registry } = await ModelRegistry.fromDirectory(
    process.env.BENCH_MODELS_DIR ?? join(ROOT, 'models'),
    {
      strict: true,
    },
  );
  const scorer = new Scorer(registry);
  // asyncScheduler's timers with a sub-millisecond clock for the latency numbers
  const scheduler: SchedulerLike = {
    now: () => performance.now(),
    schedule: asyncScheduler.schedule.bind(asyncScheduler) as SchedulerLike['schedule'],
  };
  const symbols = 1000;
  // steady state: the generated tree code and the scorer tier up in V8 only after many calls (the first
  // closes run unoptimised code, 2-4x slower), so the first `warmUp` closes are not counted
  const closes = QUICK ? 60 : 300;
  const warmUp = QUICK ? 30 : 150;
  const source = new Subject<FeatureVector>();
  const latencies: Record<string, number[]> = {};
  let pending = 0;
  let release: (() => void) | undefined;
  let close = 0;
  const subscription = source
    .pipe(scoreFeatures(scorer, DEFAULT_SCORE_OPTIONS, scheduler))
    .subscribe((o: ScoreOutput) => {
      if (!('symbol' in o)) throw new Error(`model error during the benchmark: ${JSON.stringify(o)}`);
      const p = o as Prediction;
      if (close >= warmUp) (latencies[p.model] ??= []).push(p.latencyMs);
      pending--;
      if (pending === 0) release?.();
    });
  for (close = 0; close < closes; close++) {
    const done = new Promise<void>((r) => (release = r));
    // a sequence model publishes once its window is full
    pending =
      symbols *
      registry
        .assignment()
        .filter((a) => a.role === 'live' && close >= a.model.manifest.inputs.sequenceLength - 1).length;
    // the close's vectors are made before the burst: making them (16 Math.sin each) inside it would be
    // counted as the scorer's latency for every symbol after the first
    const vectors = closeVectors(close, symbols);
    for (const vector of vectors) source.next(vector);
    if (pending > 0) await done;
  }
  subscription.unsubscribe();
  const all = Object.values(latencies).flat();
  const stats = (xs: number[]): Quantiles => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
    return { p50: q(0.5), p99: q(0.99), max: s[s.length - 1]!, count: s.length };
  };
  const perModel: Record<string, Quantiles> = {};
  for (const [model, xs] of Object.entries(latencies)) perModel[model] = stats(xs);
  const providers = registry
    .list()
    .filter((s) => s.state === 'live')
    .map((s) => `${s.name}: ${s.provider}`);
  await registry.close();
  return {
    symbols,
    barCloses: closes - warmUp,
    options: DEFAULT_SCORE_OPTIONS,
    models: providers,
    latencyMs: stats(all),
    perModel,
  };
}

// ---------------------------------------------------------------- report

function version(pkg: string): string {
  try {
    return (
      JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'not installed';
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3));

interface Report {
  date: string;
  commit: string;
  quick: boolean;
  reps: number;
  secondsPerRep: number;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string };
  v8Flags: string[];
  versions: Record<string, string>;
  lightgbm: LightgbmResult;
  trees: TreesResult;
  lstm: LstmResult;
  latency: LatencyRuns;
}

function markdown(r: Report): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(
    `Run ${r.date} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), Node ${m.node}, commit ${r.commit}${r.quick ? ' (quick run)' : ''}, V8 flags \`${r.v8Flags.join(' ') || 'none'}\` (the engine's; MLFP_PARALLEL_SCAVENGE).`,
  );
  lines.push(
    `onnxruntime-node ${r.versions['onnxruntime-node']} (execution provider: cpu; no GPU here), @tensorflow/tfjs ${r.versions['@tensorflow/tfjs']} (backend cpu).`,
  );
  lines.push(`Median of ${r.reps} repetitions, [min–max] beside it; rows per second.`, '');
  const lg = r.lightgbm;
  lines.push(
    '**Native LightGBM evaluator vs LightGBM C `LGBM_BoosterPredictForMat` (num_threads=1), same 4,999 rows**',
    '',
  );
  lines.push('| batch | native (rows/s) | LightGBM C (rows/s) | native / C |', '| --- | --- | --- | --- |');
  for (const b of Object.keys(lg.native)) {
    const n = lg.native[b]!;
    const c = lg.lightgbmC.byBatch?.[b];
    lines.push(
      `| ${b} | ${fmt(n.rowsPerSecond)} [${fmt(n.min)}–${fmt(n.max)}] | ${c ? `${fmt(c.rowsPerSecond)} [${fmt(c.min)}–${fmt(c.max)}]` : 'n/a'} | ${c ? `${fmt(lg.nativeOverC[b]!)}×` : 'n/a'} |`,
    );
  }
  lines.push(
    '',
    lg.lightgbmC.available
      ? `LightGBM C predictions bit-identical to native: ${lg.lightgbmC.identical}.`
      : `LightGBM C peer not available: ${lg.lightgbmC.reason}.`,
    '',
  );
  lines.push(
    '**Native trees vs onnxruntime TreeEnsemble graph (same model, through the runtime interface; onnxruntime on the calling thread, its fastest mode)**',
    '',
  );
  lines.push(
    '| model | batch | native (rows/s) | onnxruntime cpu (rows/s) | faster (default) |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const [name, c] of Object.entries(r.trees))
    for (const [b, row] of Object.entries(c.byBatch))
      lines.push(
        `| ${name} | ${b} | ${fmt(row.native!.rowsPerSecond)} | ${fmt(row.onnxruntime!.rowsPerSecond)} | ${c.faster[b]} |`,
      );
  lines.push('', '**LSTM (16 steps × 16 features, hidden 12): batched vs batch-1 (windows/s)**', '');
  lines.push(
    '| model | provider | graph | batch 1 | batch 256 | batch 1024 | 256 / 1 | 1024 / 1 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const [name, c] of Object.entries(r.lstm)) {
    const one = c.byBatch['1']!.rowsPerSecond;
    const b256 = c.byBatch['256']!.rowsPerSecond;
    const b1024 = c.byBatch['1024']!.rowsPerSecond;
    lines.push(
      `| ${name} | ${c.provider} | ${c.graph} | ${fmt(one)} | ${fmt(b256)} | ${fmt(b1024)} | ${fmt(b256 / one)}× | ${fmt(b1024 / one)}× |`,
    );
  }
  const l = r.latency;
  lines.push(
    '',
    `**Added latency, bar close → prediction, ${l.symbols} symbols closing together, ${l.barCloses} closes per run, ${l.runs} runs (each a fresh process), maxBatchSize ${l.options.maxBatchSize}, maxWaitMs ${l.options.maxWaitMs}** (${l.models.join('; ')})`,
    '',
  );
  lines.push(
    '| model | p50 ms (median of runs) | p99 ms (median of runs) [min–max] | max ms | predictions |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const [name, q] of Object.entries(l.summary))
    lines.push(
      `| ${name} | ${fmt(q.p50)} | ${fmt(q.p99)} [${fmt(q.p99Min)}–${fmt(q.p99Max)}] | ${fmt(q.max)} | ${q.count} |`,
    );
  return lines.join('\n');
}

async function main(): Promise<void> {
  // the engine's own V8 settings (bin/mlfp.js): this benchmark stands in for the engine process
  const v8Flags = applyEngineV8Flags();
  const base = {
    date: new Date().toISOString(),
    commit: commit(),
    quick: QUICK,
    reps: REPS,
    secondsPerRep: SECONDS,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    v8Flags,
    versions: {
      'onnxruntime-node': version('onnxruntime-node'),
      '@tensorflow/tfjs': version('@tensorflow/tfjs'),
    },
  };
  if (process.argv.includes('--latency-only')) {
    // for trying runtime settings: prints the latency section, writes nothing
    process.stdout.write(`${JSON.stringify(await closeLatency(), null, 2)}\n`);
    return;
  }
  process.stderr.write('native LightGBM vs LightGBM C …\n');
  const lightgbm = await lightgbmVersusC();
  process.stderr.write('native trees vs onnxruntime TreeEnsemble …\n');
  const trees = await treesVersusOnnx();
  process.stderr.write('LSTM batching …\n');
  const lstm = await lstmBatching();
  process.stderr.write('bar-close latency, 1,000 symbols …\n');
  const latency = latencyRuns(QUICK ? 1 : 9);
  const report: Report = { ...base, lightgbm, trees, lstm, latency };
  mkdirSync(join(ROOT, 'benchmarks/results'), { recursive: true });
  writeFileSync(join(ROOT, 'benchmarks/results/models.json'), `${JSON.stringify(report, null, 2)}\n`);
  const table = markdown(report);
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--update-readme')) {
    const readme = resolve(ROOT, 'benchmarks/README.md');
    const text = readFileSync(readme, 'utf8');
    const begin = '<!-- models:begin -->';
    const end = '<!-- models:end -->';
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${readme} has no ${begin} … ${end} section`);
    writeFileSync(readme, `${text.slice(0, a + begin.length)}\n${table}\n${text.slice(b)}`);
  }
}

await main();

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import type { MonitoringConfig } from '../config/schema.js';
import { TIMEFRAME_MS } from '../domain/time.js';
import { FEATURE_COLUMNS, type Bar, type LabelRecord, type Prediction } from '../domain/types.js';
import { ModelDrift } from '../monitoring/drift/model-drift.js';
import { LabelJoiner } from '../monitoring/performance/label-joiner.js';
import { batchPerformance } from '../monitoring/performance/performance-metrics.js';
import { PerformanceTracker } from '../monitoring/performance/performance-tracker.js';
import { FeatureEngine } from '../operators/compute-features.js';
import { parseCsvText } from '../streams/csv.js';
import { Random } from '../streams/random.js';
import { main, type CliIo } from './main.js';
import { monitorCommand } from './monitor-command.js';

// Two 5m series of 700 bars (one revised bar), a classifier whose p_up drifts in the last 250 bars and a
// regressor with a 2-bar horizon; the config shrinks the drift windows so that every detector is read.

const SYMBOLS = ['AAA', 'BBB'];
const BARS = 700;
const START = Date.UTC(2024, 0, 2);
const STEP = TIMEFRAME_MS['5m'];
const REVISED = { symbol: 'AAA', index: 100 };

const uniform = { edges: [0, 0.25, 0.5, 0.75, 1], proportions: [0.25, 0.25, 0.25, 0.25] };
const returns = { edges: [-1, -0.002, 0, 0.002, 1], proportions: [0.25, 0.25, 0.25, 0.25] };
interface TestManifest {
  name: string;
  version: string;
  kind: 'classifier' | 'regressor';
  format: string;
  file: string;
  timeframe: '5m';
  inputs: { features: string[] };
  output: { type: 'classes'; labels: string[] } | { type: 'value'; names: string[] };
  label: { kind: 'return_sign' | 'return'; horizonBars: number };
  reference: {
    inputs: Record<string, { edges: number[]; proportions: number[] }>;
    outputs: Record<string, { edges: number[]; proportions: number[] }>;
  };
}

const MANIFESTS: Record<string, TestManifest> = {
  'dir-clf': {
    name: 'dir-clf',
    version: '1.0.0',
    kind: 'classifier',
    format: 'onnx',
    file: 'model.onnx',
    timeframe: '5m',
    inputs: { features: ['returns', 'rsi_14'] },
    output: { type: 'classes', labels: ['down', 'up'] },
    label: { kind: 'return_sign', horizonBars: 1 },
    reference: {
      inputs: {
        returns,
        rsi_14: { edges: [0, 30, 50, 70, 100], proportions: [0.15, 0.35, 0.35, 0.15] },
      },
      outputs: { p_down: uniform, p_up: uniform },
    },
  },
  'ret-reg': {
    name: 'ret-reg',
    version: '2.0.0',
    kind: 'regressor',
    format: 'onnx',
    file: 'model.onnx',
    timeframe: '5m',
    inputs: { features: ['log_returns'] },
    output: { type: 'value', names: ['value'] },
    label: { kind: 'return', horizonBars: 2 },
    reference: { inputs: { log_returns: returns }, outputs: { value: returns } },
  },
};

const MONITORING = {
  labels: { maxWaitBars: 3 },
  performance: { window: 1_000_000, every: 50, errorRunLength: 1_000 },
  drift: {
    expectedSymbols: 2,
    // window ≥ PSI's fixed minCount (500); minEss 2: rsi_14's autocorrelation leaves few effective values
    psi: { window: 500, minEss: 2 },
    ks: { window: 100, minCount: 50, every: 10 },
    calibration: { values: 500, replicates: 200 },
  },
};

interface Fixture {
  /** bars in file (event) order, the revision right after the bar it revises */
  bars: Bar[];
  /** predictions by bar key, in file order */
  predictions: Prediction[];
}

function barKey(b: { symbol: string; ts: number }): string {
  return `${b.symbol} ${b.ts}`;
}

function makeFixture(): Fixture {
  const random = new Random(7);
  const bars: Bar[] = [];
  const predictions: Prediction[] = [];
  const close = new Map(SYMBOLS.map((s) => [s, 100]));
  for (let i = 0; i < BARS; i++) {
    const ts = START + i * STEP;
    for (const symbol of SYMBOLS) {
      const open = close.get(symbol) as number;
      const next = open * Math.exp(0.002 * random.normal());
      close.set(symbol, next);
      const bar: Bar = {
        symbol,
        timeframe: '5m',
        ts,
        end: ts + STEP,
        open,
        high: Math.max(open, next) * 1.001,
        low: Math.min(open, next) * 0.999,
        close: next,
        volume: 1000 + Math.round(500 * random.uniform()),
        vwap: (open + next) / 2,
        trades: 10,
        revision: 0,
      };
      bars.push(bar);
      if (symbol === REVISED.symbol && i === REVISED.index)
        bars.push({
          ...bar,
          close: bar.close * 1.01,
          high: bar.high * 1.01,
          volume: bar.volume + 5,
          revision: 1,
        });
      const pUp = i >= BARS - 250 ? 0.9 + 0.1 * random.uniform() : random.uniform();
      predictions.push({
        symbol,
        timeframe: '5m',
        ts,
        model: 'dir-clf',
        version: '1.0.0',
        kind: 'classifier',
        output: { label: pUp > 0.5 ? 'up' : 'down', p_down: 1 - pUp, p_up: pUp },
        latencyMs: 2,
      });
      predictions.push({
        symbol,
        timeframe: '5m',
        ts,
        model: 'ret-reg',
        version: '2.0.0',
        kind: 'regressor',
        output: { value: 0.002 * random.normal() },
        latencyMs: 3,
      });
    }
  }
  return { bars, predictions };
}

function barsCsv(bars: readonly Bar[], full = true): string {
  const lines = [
    full
      ? 'symbol,timeframe,ts,end,open,high,low,close,volume,vwap,trades,revision'
      : 'symbol,ts,open,high,low,close,volume,vwap,trades',
  ];
  for (const b of bars) {
    const prices = [b.open, b.high, b.low, b.close, b.volume].join(',');
    lines.push(
      full
        ? // ts as ISO-8601, end as epoch ms: both are accepted
          `${b.symbol},${b.timeframe},${new Date(b.ts).toISOString()},${b.end},${prices},${b.vwap},${b.trades},${b.revision}`
        : `${b.symbol},${new Date(b.ts).toISOString()},${prices},${b.vwap},${b.trades}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The engine's predictions table columns (output as JSON), or one column per output. */
function predictionsCsv(predictions: readonly Prediction[], form: 'json' | 'columns'): string {
  const lines =
    form === 'json'
      ? ['symbol,timeframe,ts,model,version,kind,output,latency_ms']
      : ['symbol,timeframe,ts,model,version,kind,label,p_down,p_up,value,latency_ms'];
  for (const p of predictions) {
    const key = `${p.symbol},${p.timeframe},${new Date(p.ts).toISOString()},${p.model},${p.version},${p.kind}`;
    const o = p.output;
    lines.push(
      form === 'json'
        ? `${key},"${JSON.stringify(o).replace(/"/g, '""')}",${p.latencyMs}`
        : `${key},${o['label'] ?? ''},${o['p_down'] ?? ''},${o['p_up'] ?? ''},${o['value'] ?? ''},${p.latencyMs}`,
    );
  }
  return lines.join('\n') + '\n';
}

let dir: string;
let fixture: Fixture;
let monitoring: MonitoringConfig;
const paths = {
  models: '',
  config: '',
  bars: '',
  predictions: '',
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-monitor-'));
  paths.models = join(dir, 'models');
  for (const manifest of Object.values(MANIFESTS)) {
    await mkdir(join(paths.models, manifest.name), { recursive: true });
    await writeFile(join(paths.models, manifest.name, 'manifest.json'), JSON.stringify(manifest));
  }
  paths.config = join(dir, 'config.json');
  await writeFile(paths.config, JSON.stringify({ monitoring: MONITORING }));
  monitoring = (await loadConfig(paths.config, {})).monitoring;
  fixture = makeFixture();
  paths.bars = join(dir, 'bars.csv');
  paths.predictions = join(dir, 'predictions.csv');
  await writeFile(paths.bars, barsCsv(fixture.bars));
  await writeFile(paths.predictions, predictionsCsv(fixture.predictions, 'json'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const code = await main(['monitor', ...args], io);
  return { code, stdout, stderr };
}

async function monitorJson(
  extra: string[] = [],
  files: { bars?: string; predictions?: string } = {},
): Promise<JsonReport> {
  const result = await run([
    '--predictions',
    files.predictions ?? paths.predictions,
    '--bars',
    files.bars ?? paths.bars,
    '--models',
    paths.models,
    '--config',
    paths.config,
    '--format',
    'json',
    '--quiet',
    ...extra,
  ]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as JsonReport;
}

interface JsonModel {
  model: string;
  version: string;
  predictions: number;
  labels: { labelled: number; revised: number; expired: Record<string, number> };
  performance: {
    window: {
      count: number;
      ts: string;
      metrics: Record<string, number | null>;
      errorDrift: { statistic: number | null; threshold: number | null; alarm: boolean };
    } | null;
    all: { count: number; metrics: Record<string, number | null> };
    records: number;
  } | null;
  drift: { key: string; detector: string; value: number | null; cut: number | null; state: string }[];
}
interface JsonReport {
  models: JsonModel[];
  joiner: Record<string, number>;
  alerts: {
    rule: string;
    state: string;
    value: number;
    threshold: number;
    ts: string;
    labels: Record<string, string>;
  }[];
  active: { rule: string; state: string; value: number; labels: Record<string, string> }[];
  predictions: { rows: number; withoutBar: number };
}

const nullIfNaN = (value: number): number | null => (Number.isFinite(value) ? value : null);

/**
 * The live pieces fed by hand in the command's documented order (each bar, then its predictions): one
 * LabelJoiner, a PerformanceTracker and a ModelDrift per model with the config's options.
 */
function liveReplay(f: Fixture) {
  const joiner = new LabelJoiner({
    maxWaitBars: monitoring.labels.maxWaitBars,
    maxPending: monitoring.labels.maxPending,
  });
  const trackers = new Map<string, PerformanceTracker>();
  const drifts = new Map<string, ModelDrift>();
  const labels = new Map<string, LabelRecord[]>();
  for (const m of Object.values(MANIFESTS)) {
    const id = `${m.name}@${m.version}`;
    const classes = m.output.type === 'classes' ? m.output.labels : undefined;
    joiner.watch({
      model: m.name,
      version: m.version,
      kind: m.kind,
      timeframe: '5m',
      horizonBars: m.label.horizonBars,
      labelKind: m.label.kind,
      ...(classes === undefined ? { valueName: 'value' } : { classes }),
    });
    trackers.set(
      id,
      new PerformanceTracker(
        { model: m.name, version: m.version, kind: m.kind, timeframe: '5m', ...(classes ? { classes } : {}) },
        {
          window: monitoring.performance.window,
          every: monitoring.performance.every,
          errorRunLength: monitoring.performance.errorRunLength,
          random: new Random(monitoring.drift.calibration.seed),
        },
      ),
    );
    const d = monitoring.drift;
    drifts.set(
      id,
      new ModelDrift(
        {
          model: m.name,
          version: m.version,
          timeframe: '5m',
          inputs: m.inputs.features,
          featureIndex: m.inputs.features.map((name) => (FEATURE_COLUMNS as readonly string[]).indexOf(name)),
          outputs: classes === undefined ? ['value'] : classes.map((c) => `p_${c}`),
          reference: m.reference,
        },
        {
          alarmsPerWeek: d.alarmsPerWeek,
          expectedSymbols: d.expectedSymbols,
          psi: d.psi,
          ks: d.ks,
          calibration: d.calibration,
        },
        { random: (seed) => new Random(seed) },
      ),
    );
    labels.set(id, []);
  }
  const features = new FeatureEngine();
  const byBar = new Map<string, Prediction[]>();
  for (const p of f.predictions) byBar.set(barKey(p), [...(byBar.get(barKey(p)) ?? []), p]);
  const onLabel = (label: LabelRecord): void => {
    trackers.get(`${label.model}@${label.version}`)!.onLabel(label);
    if (label.state === 'labelled') labels.get(`${label.model}@${label.version}`)!.push(label);
  };
  // the bars of one event time (a revision included), then their predictions
  f.bars.forEach((bar, i) => {
    joiner.onBar(bar, onLabel);
    const vector = features.apply(bar);
    if (vector !== undefined) for (const drift of drifts.values()) drift.onFeatures(vector, bar.end);
    if (f.bars[i + 1]?.end === bar.end) return;
    for (const same of f.bars.filter((b) => b.end === bar.end && b.revision === 0))
      for (const p of byBar.get(barKey(same)) ?? []) {
        drifts.get(`${p.model}@${p.version}`)!.onPrediction(p, bar.end);
        joiner.onPrediction(p);
      }
  });
  return { trackers, drifts, labels };
}

/** Each label at its last revision, in the order first labelled. */
function finalLabels(all: readonly LabelRecord[]): LabelRecord[] {
  const at = new Map<string, number>();
  const out: LabelRecord[] = [];
  for (const label of all) {
    const i = at.get(barKey(label));
    if (i === undefined) {
      at.set(barKey(label), out.length);
      out.push(label);
    } else if (label.revision > out[i]!.revision) out[i] = label;
  }
  return out;
}

describe('mlfp monitor', () => {
  let report: JsonReport;
  beforeAll(async () => {
    report = await monitorJson();
  }, 120_000);

  it('counts every prediction and label: labelled, revised and expired by reason', () => {
    expect(report.predictions).toMatchObject({ rows: fixture.predictions.length, withoutBar: 0 });
    const clf = report.models.find((m) => m.model === 'dir-clf')!;
    const reg = report.models.find((m) => m.model === 'ret-reg')!;
    expect(clf.predictions).toBe(BARS * SYMBOLS.length);
    // the last bar of each series has no t+1 (clf), the last two no t+2 (reg): still pending at the end
    expect(clf.labels.labelled).toBe((BARS - 1) * SYMBOLS.length);
    expect(reg.labels.labelled).toBe((BARS - 2) * SYMBOLS.length);
    expect(report.joiner['pending']).toBe(SYMBOLS.length * 3);
    // the revision of AAA's bar 100 changes the realised return of the labels it closes: the classifier's of
    // bar 99 (h = 1) and the regressor's of bar 98 (h = 2), each re-emitted once
    const revised = fixture.bars.filter((b) => b.symbol === REVISED.symbol)[REVISED.index + 1]!;
    expect(revised.revision).toBe(1);
    expect(reg.labels.revised).toBe(1);
    expect(clf.labels.revised).toBe(1);
    expect(clf.labels.expired).toEqual({ gap: 0, timeout: 0, evicted: 0 });
  });

  it('the final window equals batchPerformance over all joined labels exactly (window ≥ labels)', () => {
    for (const m of report.models) {
      const performance = m.performance!;
      expect(performance.window!.count).toBe(performance.all.count);
      expect(performance.window!.metrics).toEqual(performance.all.metrics);
      expect(performance.records).toBe(Math.floor((m.labels.labelled + m.labels.revised) / 50));
    }
  });

  it('gives the numbers of the live LabelJoiner, PerformanceTracker and ModelDrift fed in the same order', () => {
    const live = liveReplay(fixture);
    for (const m of report.models) {
      const id = `${m.model}@${m.version}`;
      const record = live.trackers.get(id)!.report()!;
      const window = m.performance!.window!;
      expect(window.count).toBe(record.count);
      expect(window.ts).toBe(new Date(record.ts).toISOString());
      expect(window.metrics).toEqual(record.metrics);
      expect(window.errorDrift).toEqual({
        statistic: nullIfNaN(record.errorDrift.statistic),
        threshold: nullIfNaN(record.errorDrift.threshold),
        alarm: record.errorDrift.alarm,
      });
      expect(Number.isFinite(record.errorDrift.threshold)).toBe(true);
      const kind = m.model === 'dir-clf' ? 'classifier' : 'regressor';
      const classes = m.model === 'dir-clf' ? ['down', 'up'] : undefined;
      expect(m.performance!.all.metrics).toEqual(
        batchPerformance(finalLabels(live.labels.get(id)!), kind, classes),
      );
      const status = live.drifts.get(id)!.status();
      expect(m.drift).toEqual(
        status.map((row) => ({
          key: row.key,
          detector: row.detector,
          value: nullIfNaN(row.value),
          cut: nullIfNaN(row.cut),
          state: row.state,
          evaluatedAt: Number.isFinite(row.evaluatedAtMs) ? new Date(row.evaluatedAtMs).toISOString() : null,
        })),
      );
      // every detector was read: no series is still warming up or calibrating
      expect(m.drift.every((row) => row.value !== null)).toBe(true);
    }
  });

  it("reports the drift of the classifier's p_up and the alerts the rules raised in event time", () => {
    const clf = report.models.find((m) => m.model === 'dir-clf')!;
    const psi = clf.drift.find((row) => row.key === 'output:p_up' && row.detector === 'psi')!;
    expect(psi.state).toBe('alert');
    const fired = report.alerts.find(
      (a) => a.rule === 'DataDriftPSI' && a.labels['input'] === 'output:p_up' && a.state === 'firing',
    );
    expect(fired).toBeDefined();
    // fired within the drifting stretch (event time), not at the wall clock
    expect(Date.parse(fired!.ts)).toBeGreaterThan(START + (BARS - 250) * STEP);
    expect(Date.parse(fired!.ts)).toBeLessThanOrEqual(START + (BARS + 1) * STEP);
    expect(report.active.some((a) => a.rule === 'DataDriftPSI' && a.state === 'firing')).toBe(true);
  });

  it('a smaller window: the record over the last `window` labels, still batchPerformance exactly', async () => {
    const config = join(dir, 'window.json');
    await writeFile(
      config,
      JSON.stringify({ monitoring: { ...MONITORING, performance: { window: 200, every: 7 } } }),
    );
    const small = await monitorJson(['--config', config]);
    const live = liveReplay(fixture);
    for (const m of small.models) {
      const labels = finalLabels(live.labels.get(`${m.model}@${m.version}`)!);
      const kind = m.model === 'dir-clf' ? 'classifier' : 'regressor';
      expect(m.performance!.window!.count).toBe(200);
      expect(m.performance!.window!.metrics).toEqual(
        batchPerformance(labels.slice(-200), kind, kind === 'classifier' ? ['down', 'up'] : undefined),
      );
      expect(m.performance!.all.metrics).toEqual(
        report.models.find((r) => r.model === m.model)!.performance!.all.metrics,
      );
    }
  });

  it('reads one column per output and `mlfp bars` columns to the same report', async () => {
    const predictions = join(dir, 'predictions-columns.csv');
    await writeFile(predictions, predictionsCsv(fixture.predictions, 'columns'));
    const columns = await monitorJson([], { predictions });
    expect({ ...columns, predictions: undefined }).toEqual({ ...report, predictions: undefined });
    // without timeframe, end and revision columns: the revised bar is told by its repeated ts
    const bars = join(dir, 'bars-plain.csv');
    await writeFile(bars, barsCsv(fixture.bars, false));
    const plain = await monitorJson([], { bars });
    expect({ ...plain, bars: undefined }).toEqual({ ...report, bars: undefined });
  });

  it('writes CSV rows with the numbers of the JSON report', async () => {
    const out = join(dir, 'report.csv');
    const result = await run([
      '--predictions',
      paths.predictions,
      '--bars',
      paths.bars,
      '--models',
      paths.models,
      '--config',
      paths.config,
      '--out',
      out,
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /monitor: 1401 bars, 2800 predictions of 2 model versions .* csv report written/,
    );
    const { header, rows } = parseCsvText(await readFile(out, 'utf8'));
    expect(header).toEqual([
      'model',
      'version',
      'section',
      'name',
      'input',
      'detector',
      'value',
      'cut',
      'state',
      'ts',
    ]);
    const cell = (model: string, section: string, name: string, input = '', detector = ''): string[] => {
      const found = rows.filter(
        (r) => r[0] === model && r[2] === section && r[3] === name && r[4] === input && r[5] === detector,
      );
      expect(found, `${model} ${section} ${name} ${input} ${detector}`).toHaveLength(1);
      return found[0]!;
    };
    const value = (text: string | undefined): number | null => (text === '' ? null : Number(text));
    let compared = 0;
    for (const m of report.models) {
      for (const [name, n] of Object.entries({
        predictions: m.predictions,
        labelled: m.labels.labelled,
        revised: m.labels.revised,
      }))
        expect(value(cell(m.model, 'labels', name)[6])).toBe(n);
      const performance = m.performance!;
      for (const [name, n] of Object.entries(performance.window!.metrics)) {
        expect(value(cell(m.model, 'performance_window', name)[6])).toBe(n);
        compared++;
      }
      for (const [name, n] of Object.entries(performance.all.metrics)) {
        expect(value(cell(m.model, 'performance_all', name)[6])).toBe(n);
        compared++;
      }
      const drift = cell(m.model, 'performance_window', 'error_drift_statistic');
      expect([value(drift[6]), value(drift[7])]).toEqual([
        performance.window!.errorDrift.statistic,
        performance.window!.errorDrift.threshold,
      ]);
      for (const row of m.drift) {
        const r = cell(m.model, 'drift', 'drift', row.key, row.detector);
        expect([value(r[6]), value(r[7]), r[8]]).toEqual([row.value, row.cut, row.state]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(40);
    expect(rows.filter((r) => r[2] === 'alert')).toHaveLength(report.alerts.length);
  });

  it('names the file, line, column and value of a bad bar and exits 1 without a stack trace', async () => {
    const lines = barsCsv(fixture.bars.slice(0, 20)).split('\n');
    lines[5] = lines[5]!.replace(/,([0-9.]+),10,0$/, ',abc,10,0');
    const bad = join(dir, 'bad-bars.csv');
    await writeFile(bad, lines.join('\n'));
    const result = await run(['--predictions', paths.predictions, '--bars', bad, '--models', paths.models]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^mlfp: wrong_type: .*bad-bars\.csv:6: field vwap = "abc": vwap must be a number\n$/,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    [
      'a class the model does not have',
      (l: string) =>
        l
          .replace('""label"":""up""', '""label"":""sideways""')
          .replace('""label"":""down""', '""label"":""sideways""'),
      /predictions-bad\.csv:2: field output\.label = "sideways": label must be one of dir-clf@1\.0\.0's classes \(down, up\)/,
    ],
    [
      'output that is not JSON',
      (l: string) => l.replace(/"\{.*\}"/, '"{oops"'),
      /predictions-bad\.csv:2: field output = "\{oops": output is not JSON/,
    ],
    [
      'a time that is not one',
      (l: string) => l.replace(/2024-01-02T00:00:00.000Z/, '2024-13-02'),
      /predictions-bad\.csv:2: field ts = "2024-13-02": ts must be ISO-8601/,
    ],
  ])('names the line and field of %s in the predictions (exit 1)', async (_, edit, message) => {
    const lines = predictionsCsv(fixture.predictions.slice(0, 4), 'json').split('\n');
    lines[1] = edit(lines[1]!);
    const bad = join(dir, 'predictions-bad.csv');
    await writeFile(bad, lines.join('\n'));
    const result = await run([
      '--predictions',
      bad,
      '--bars',
      paths.bars,
      '--models',
      paths.models,
      '--quiet',
    ]);
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(1);
  });

  it('refuses a model version the models directory lacks, naming the line (exit 2)', async () => {
    const lines = predictionsCsv(fixture.predictions.slice(0, 4), 'json').split('\n');
    lines[3] = lines[3]!.replace(',dir-clf,1.0.0,', ',dir-clf,9.9.9,');
    const bad = join(dir, 'predictions-unknown.csv');
    await writeFile(bad, lines.join('\n'));
    const result = await run([
      '--predictions',
      bad,
      '--bars',
      paths.bars,
      '--models',
      paths.models,
      '--quiet',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^mlfp: bad_argument: .*predictions-unknown\.csv:4: field model = "dir-clf@9\.9\.9": no manifest of dir-clf@9\.9\.9 in the models directory \(there: dir-clf@1\.0\.0, ret-reg@2\.0\.0\)\n$/,
    );
  });

  it('names a missing output column and a missing required column', async () => {
    const columns = join(dir, 'predictions-no-value.csv');
    await writeFile(
      columns,
      predictionsCsv(fixture.predictions.slice(0, 4), 'columns').replace(',value,', ',other,'),
    );
    const noValue = await run(['--predictions', columns, '--bars', paths.bars, '--models', paths.models]);
    expect(noValue.code).toBe(1);
    expect(noValue.stderr).toMatch(
      /predictions-no-value\.csv:3: field value: no "value" column \(nor an "output" JSON column\) for ret-reg@2\.0\.0/,
    );
    const noModel = join(dir, 'predictions-no-model.csv');
    await writeFile(noModel, 'symbol,ts,version\nAAA,2024-01-02,1.0.0\n');
    const missing = await run(['--predictions', noModel, '--bars', paths.bars, '--models', paths.models]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^mlfp: missing_field: .*predictions-no-model\.csv: header lacks column\(s\) model/,
    );
  });

  it('prints progress lines on stderr every N rows and events, none with --quiet', async () => {
    const options = {
      predictions: paths.predictions,
      bars: paths.bars,
      models: paths.models,
      config: paths.config,
      format: 'json' as const,
      progressEvery: 1_000,
    };
    let stdout = '';
    let stderr = '';
    const summary = await monitorCommand(options, {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
    });
    expect(stderr.split('\n').filter((l) => l !== '')).toEqual([
      `monitor: ${paths.predictions}: 1000 rows read`,
      `monitor: ${paths.predictions}: 2000 rows read`,
      `monitor: ${paths.bars}: 1000 rows read`,
      'monitor: 1000 of 4201 events replayed',
      'monitor: 2000 of 4201 events replayed',
      'monitor: 3000 of 4201 events replayed',
      'monitor: 4000 of 4201 events replayed',
    ]);
    expect(summary).toMatch(/^monitor: 1401 bars, 2800 predictions/);
    expect(JSON.parse(stdout)).toEqual(report);
    const quiet = await run([
      '--predictions',
      paths.predictions,
      '--bars',
      paths.bars,
      '--models',
      paths.models,
      '--config',
      paths.config,
      '--format',
      'json',
      '--quiet',
    ]);
    expect(quiet.stderr).toBe('');
  });
});

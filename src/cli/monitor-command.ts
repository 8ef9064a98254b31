// `mlfp monitor --predictions <file> --bars <file>`: the live model monitor's drift and performance report,
// computed offline from files with the live code. Bars and predictions are replayed in event time (a bar at its
// end, its predictions right after it) through the live LabelJoiner, FeatureEngine and ModelMonitor (drift
// detectors, performance trackers, alert rules), the monitor's clock being event time.

import { loadConfig } from '../config/load.js';
import type { MonitoringConfig } from '../config/schema.js';
import { featuresOutput, labelOutput, predictionOutput } from '../domain/output.js';
import { formatTime } from '../domain/time.js';
import type { Alert, LabelRecord, Timeframe } from '../domain/types.js';
import { MlfpError } from '../errors.js';
import { scanModelDirectory } from '../models/directory-load.js';
import type { ModelManifest } from '../models/manifest.js';
import { ModelMonitor, type MonitoredModel } from '../monitoring/model-monitor.js';
import { batchPerformance } from '../monitoring/performance/performance-metrics.js';
import { LabelJoiner } from '../monitoring/performance/label-joiner.js';
import { FeatureEngine } from '../operators/compute-features.js';
import { CsvWriter } from '../streams/csv.js';
import { monitoredModelOf } from '../streams/monitor-wiring.js';
import { Random } from '../streams/random.js';
import type { CliIo } from './io.js';
import {
  nominalEnd,
  PROGRESS_ROWS,
  readBars,
  readPredictions,
  type BarRow,
  type PredictionRow,
  type ReadProgress,
} from './monitor-inputs.js';
import {
  reportCsv,
  reportJson,
  type ModelLabelCounts,
  type ModelReport,
  type MonitorReport,
} from './monitor-report.js';

export type MonitorFormat = 'csv' | 'json';

export interface MonitorCommandOptions {
  predictions: string;
  bars: string;
  /** models directory with the manifests (default: the config's models.dir) */
  models?: string;
  /** engine config JSON whose `monitoring` section applies (default: the engine's defaults) */
  config?: string;
  /** timeframe of a bars file without a timeframe column (default: the models' one when they share it) */
  timeframe?: Timeframe;
  /** report file (default: stdout) */
  out?: string;
  /** default: json when `out` ends in .json, else csv */
  format?: MonitorFormat;
  /** no progress lines on stderr */
  quiet?: boolean;
  /** rows (or events) between progress lines (default PROGRESS_ROWS; tests set fewer) */
  progressEvery?: number;
}

/** Runs the command; returns the summary line (main prints it on stderr unless --quiet). */
export async function monitorCommand(options: MonitorCommandOptions, io: CliIo): Promise<string> {
  const config = await loadConfig(options.config);
  const progress = options.quiet === true ? undefined : io.stderr;
  const every = options.progressEvery ?? PROGRESS_ROWS;
  const dir = options.models ?? config.models.dir;
  const manifests = new Map<string, ModelManifest>();
  for (const { manifest } of await scanModelDirectory(dir))
    manifests.set(`${manifest.name}@${manifest.version}`, manifest);
  const predictions = await readPredictions(options.predictions, manifests, { progress, every });
  const used = new Map<string, ModelManifest>();
  for (const { prediction: p } of predictions)
    if (!used.has(`${p.model}@${p.version}`))
      used.set(`${p.model}@${p.version}`, manifests.get(`${p.model}@${p.version}`)!);
  const timeframes = new Set([...used.values()].map((m) => m.timeframe));
  const barTimeframe = options.timeframe ?? (timeframes.size === 1 ? [...timeframes][0] : undefined);
  const bars = await readBars(options.bars, barTimeframe, { progress, every });
  const models = [...used.keys()].sort().map((id) => monitoredModelOf(used.get(id)!));
  const report = replayMonitor(
    { bars, predictions, models, config: config.monitoring },
    { barsFile: options.bars, predictionsFile: options.predictions, progress, every },
  );
  const format = options.format ?? (options.out?.endsWith('.json') === true ? 'json' : 'csv');
  const text = format === 'json' ? reportJson(report) : reportCsv(report);
  if (options.out === undefined) io.stdout(text);
  else {
    const writer = new CsvWriter(options.out);
    try {
      await writer.writeLine(text.slice(0, -1));
      await writer.commit();
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }
  const span = report.eventTime;
  const range = Number.isFinite(span.first) ? ` (${formatTime(span.first)} to ${formatTime(span.last)})` : '';
  return `monitor: ${bars.length} bars, ${predictions.length} predictions of ${models.length} model versions${range}; ${format} report written to ${options.out ?? 'stdout'}`;
}

export interface MonitorInputs {
  bars: readonly BarRow[];
  predictions: readonly PredictionRow[];
  /** the model versions reported (their manifests as the live monitor sees them) */
  models: readonly MonitoredModel[];
  config: MonitoringConfig;
}

/** Per model version: label counts and every label at its last revision, in the order first labelled. */
interface ModelTally {
  predictions: number;
  counts: ModelLabelCounts;
  labels: LabelRecord[];
  /** `${symbol} ${ts}` → index in labels */
  at: Map<string, number>;
  records: number;
}

/** One replayed event: a bar (order 0) or a prediction (order 1), at an event time, in file order. */
interface ReplayEvent {
  time: number;
  order: 0 | 1;
  seq: number;
}

/**
 * Replays bars and predictions through the live monitoring pieces and reports. Event order: by event time
 * (BarRow.time; a prediction at its bar's end, the nominal one when the file lacks the bar), bars before
 * predictions, then file order. The monitor's alert rules are evaluated at each new event time at least
 * `evaluationIntervalMs` after the last evaluation, and once at the end.
 */
export function replayMonitor(
  inputs: MonitorInputs,
  files: { barsFile: string; predictionsFile: string } & ReadProgress,
): MonitorReport {
  const { config, models } = inputs;
  let clock = Number.NEGATIVE_INFINITY;
  const alerts: Alert[] = [];
  const monitor = new ModelMonitor(config, {
    signals: { models: () => models, dependencies: () => ({}) },
    random: (seed) => new Random(seed),
    now: () => clock,
    onAlert: (alert) => alerts.push(alert),
  });
  // one stream: the joiner as MonitorLabels builds it for a partition
  const joiner = config.labels.enabled
    ? new LabelJoiner({ maxWaitBars: config.labels.maxWaitBars, maxPending: config.labels.maxPending })
    : undefined;
  if (joiner !== undefined) for (const spec of monitor.labelSpecs()) joiner.watch(spec);
  const features = new FeatureEngine();

  const tallies = new Map<string, ModelTally>();
  for (const m of models)
    tallies.set(`${m.model}@${m.version}`, {
      predictions: 0,
      counts: { labelled: 0, revised: 0, expired: { gap: 0, timeout: 0, evicted: 0 } },
      labels: [],
      at: new Map(),
      records: 0,
    });
  const onLabel = (label: LabelRecord): void => {
    const tally = tallies.get(`${label.model}@${label.version}`);
    if (tally !== undefined) {
      if (label.state === 'expired') {
        if (label.reason === undefined)
          throw new MlfpError('internal', `an expired label of ${label.model} without a reason`);
        tally.counts.expired[label.reason]++;
      } else {
        if (label.revision === 0) tally.counts.labelled++;
        else tally.counts.revised++;
        const key = `${label.symbol} ${label.ts}`;
        const at = tally.at.get(key);
        if (at === undefined) {
          tally.at.set(key, tally.labels.length);
          tally.labels.push(label);
        } else if (label.revision > (tally.labels[at] as LabelRecord).revision) tally.labels[at] = label;
      }
    }
    monitor.observe(labelOutput(label));
  };
  const drain = (): void => {
    const batch = monitor.takeOutputs();
    if (batch !== undefined)
      for (const record of batch.performance) {
        const tally = tallies.get(`${record.model}@${record.version}`);
        if (tally !== undefined) tally.records++;
      }
  };

  // event order
  const barEnds = new Map<string, number>();
  for (const { bar } of inputs.bars) {
    const key = `${bar.symbol}\u0000${bar.timeframe}\u0000${bar.ts}`;
    if (!barEnds.has(key)) barEnds.set(key, bar.end);
  }
  const events: ReplayEvent[] = [];
  inputs.bars.forEach((row, seq) => events.push({ time: row.time, order: 0, seq }));
  let withoutBar = 0;
  inputs.predictions.forEach(({ prediction: p }, seq) => {
    const end = barEnds.get(`${p.symbol}\u0000${p.timeframe}\u0000${p.ts}`);
    if (end === undefined) withoutBar++;
    events.push({ time: end ?? nominalEnd(p), order: 1, seq });
  });
  events.sort((a, b) => a.time - b.time || a.order - b.order || a.seq - b.seq);

  let lastEvaluation = Number.NEGATIVE_INFINITY;
  const evaluate = (): void => {
    monitor.evaluate(clock);
    lastEvaluation = clock;
    drain();
  };
  const first = events[0]?.time ?? Number.NaN;
  let replayed = 0;
  const every = files.every ?? PROGRESS_ROWS;
  for (const event of events) {
    if (event.time > clock) {
      if (clock > Number.NEGATIVE_INFINITY && clock - lastEvaluation >= config.evaluationIntervalMs)
        evaluate();
      clock = event.time;
    }
    if (event.order === 0) {
      const bar = (inputs.bars[event.seq] as BarRow).bar;
      joiner?.onBar(bar, onLabel);
      const vector = features.apply(bar);
      if (vector !== undefined) monitor.observe(featuresOutput(vector));
    } else {
      const prediction = (inputs.predictions[event.seq] as PredictionRow).prediction;
      const tally = tallies.get(`${prediction.model}@${prediction.version}`);
      if (tally !== undefined) tally.predictions++;
      monitor.observe(predictionOutput(prediction));
      joiner?.onPrediction(prediction);
    }
    if (++replayed % every === 0)
      files.progress?.(`monitor: ${replayed} of ${events.length} events replayed\n`);
  }
  if (events.length > 0 && lastEvaluation !== clock) evaluate();

  const reports: ModelReport[] = models.map((m) => {
    const tally = tallies.get(`${m.model}@${m.version}`) as ModelTally;
    const tracker = monitor.performanceOf(m.model, m.version);
    const drift = monitor.driftOf(m.model, m.version);
    return {
      model: m.model,
      version: m.version,
      kind: m.kind,
      timeframe: m.timeframe,
      label: m.label === undefined ? null : { kind: m.label.kind, horizonBars: m.label.horizonBars },
      predictions: tally.predictions,
      labels: tally.counts,
      performance:
        tracker === undefined || joiner === undefined
          ? null
          : {
              window: tracker.report() ?? null,
              all: {
                count: tally.labels.length,
                metrics: batchPerformance(tally.labels, m.kind, m.classes),
              },
              records: tally.records,
            },
      drift: drift?.status() ?? [],
      driftSkipped: drift === undefined ? [] : [...drift.skipped],
    };
  });
  return {
    bars: { file: files.barsFile, rows: inputs.bars.length },
    predictions: { file: files.predictionsFile, rows: inputs.predictions.length, withoutBar },
    eventTime: { first, last: events.length > 0 ? clock : Number.NaN },
    joiner:
      joiner === undefined
        ? null
        : {
            pending: joiner.pendingCount,
            duplicates: joiner.duplicates,
            unwatched: joiner.unwatched,
            malformed: joiner.malformed,
          },
    models: reports,
    alerts,
    active: monitor.active(),
  };
}

// Prometheus metrics (prom-client), owned here. Hot-path counters live in EngineStats as plain numbers; the
// metrics below read them at scrape time (collect callbacks), so counting costs nothing per event. The
// histograms are connected to EngineStats.timings and observed per prediction, sink write and broker request,
// and per inference run (the scorer's diagnostics channel). Components with health (sinks, the Kafka source)
// register a HealthCheck; /readyz, mlfp_dependency_up and mlfp_sink_retries_total read those. Drift scores,
// model performance and active alerts are gauges the monitors feed through `drift`, `performance`, `alerts`.

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TIMEFRAMES, type Timeframe } from '../domain/types.js';
import { BoundedGaugeFeed, type GaugeFeed } from './gauge-feed.js';
import { registerProcessMetrics } from './process-metrics.js';
import type { EngineStats } from './stats.js';

export type { GaugeFeed } from './gauge-feed.js';

/**
 * The scorer's inference channel (src/models/scoring/scorer.ts SCORER_EVENTS.inference; monitoring may not
 * import models, metrics.test.ts checks the two names agree) and the fields of its messages.
 */
export const INFERENCE_CHANNEL = 'mlfp.models.inference';
interface InferenceMessage {
  model: string;
  provider: string;
  rows: number;
  seconds: number;
}

/** Most label sets per monitor-fed gauge (models × inputs × detectors stays far below it). */
export const MAX_FED_SERIES = 10_000;

export interface EngineMetricsOptions {
  /** prom-client's process and Node.js defaults and the process I/O counters (default true) */
  defaultMetrics?: boolean;
  /** where /proc is, for the process I/O counters (tests) */
  procRoot?: string;
}

/** `degraded`: running, but its input breaks the data-quality bound (src/monitoring/data-quality.ts) */
export type DependencyState = 'up' | 'starting' | 'retrying' | 'degraded' | 'down' | 'closed';

export interface DependencyStatus {
  state: DependencyState;
  /** human-readable detail: last error, lag…; never credentials */
  detail?: string;
  /** extra numbers shown in /readyz (pending records, lag, …) */
  values?: Record<string, number>;
}

export interface HealthCheck {
  readonly name: string;
  status(): DependencyStatus;
}

export class EngineMetrics {
  readonly registry: Registry;
  private readonly checks: HealthCheck[] = [];
  /** seconds from a feature vector reaching the scorer to its prediction being published (Prediction.latencyMs) */
  readonly predictionLatency: Histogram;
  /** seconds one sink write (a flushed batch) took until durable, by sink */
  readonly sinkWriteSeconds: Histogram<'sink'>;
  /** seconds from the newest tick event time seen to a live prediction's publication */
  readonly tickToPrediction: Histogram;
  /** seconds from a live prediction's bar end (event time) to its publication, by timeframe */
  readonly barCloseToPrediction: Histogram<'timeframe'>;
  /** seconds a Kafka request took until its response, by API (Fetch waits up to kafka.maxWaitTimeInMs) */
  readonly brokerRequestSeconds: Histogram<'api'>;
  /** seconds one inference run took, by model and execution provider */
  readonly inferenceSeconds: Histogram<'model' | 'provider'>;
  /** rows scored by one inference run, by model and execution provider */
  readonly inferenceBatchRows: Histogram<'model' | 'provider'>;
  /** drift score of a model's input (a feature, or `prediction`) by detector (`psi`, `ks`, …): the drift monitor's */
  readonly drift: GaugeFeed<'model' | 'input' | 'detector'>;
  /** a model's rolling performance metric (`accuracy`, `mae`, `hit_rate`, …): the performance tracker's */
  readonly performance: GaugeFeed<'model' | 'metric'>;
  /** active alerts by rule (`alertname`) and state (`pending`, `firing`): the alert lifecycle's counts */
  readonly alerts: GaugeFeed<'alertname' | 'state'>;
  /** the process I/O counters this platform exposes (src/monitoring/process-metrics.ts) */
  readonly processMetrics: readonly string[];
  private readonly onInference: (message: unknown) => void;

  constructor(stats: EngineStats, options: EngineMetricsOptions = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'mlfp_' });
      this.processMetrics = registerProcessMetrics(this.registry, { procRoot: options.procRoot });
    } else this.processMetrics = [];

    new Counter({
      name: 'mlfp_ticks_total',
      help: 'Input records received (valid and rejected)',
      registers,
      collect() {
        this.reset();
        this.inc(stats.ticks);
      },
    });
    new Counter({
      name: 'mlfp_rejects_total',
      help: 'Input records sent to the dead-letter output, by reason code',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of stats.rejectsByReason) this.inc({ reason }, count);
      },
    });
    new Counter({
      name: 'mlfp_bars_total',
      help: 'Bars emitted (closed or revised), by timeframe',
      labelNames: ['timeframe'],
      registers,
      collect() {
        this.reset();
        for (const timeframe of TIMEFRAMES) this.inc({ timeframe }, stats.bars[timeframe]);
      },
    });
    new Counter({
      name: 'mlfp_bar_revisions_total',
      help: 'Bars re-emitted because a late tick inside the allowed lateness changed them',
      registers,
      collect() {
        this.reset();
        this.inc(stats.barRevisions);
      },
    });
    new Counter({
      name: 'mlfp_features_total',
      help: 'Feature vectors computed',
      registers,
      collect() {
        this.reset();
        this.inc(stats.features);
      },
    });
    new Counter({
      name: 'mlfp_predictions_total',
      help: 'Live predictions published to the outputs, by model',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const [model, count] of stats.predictionsByModel) this.inc({ model }, count);
      },
    });
    new Counter({
      name: 'mlfp_model_errors_total',
      help: 'model_error alerts published: a scoring run that failed (exception, wrong shape) or returned NaN/Inf',
      registers,
      collect() {
        this.reset();
        this.inc(stats.modelErrors);
      },
    });
    new Counter({
      name: 'mlfp_sink_errors_total',
      help: 'Writes a sink rejected (non-retriable failure, or closed while retrying), by sink',
      labelNames: ['sink'],
      registers,
      collect() {
        this.reset();
        for (const [sink, count] of stats.sinkErrorsBySink) this.inc({ sink }, count);
      },
    });
    const checks = this.checks;
    new Counter({
      name: 'mlfp_sink_retries_total',
      help: 'Write attempts a sink retried after a retriable failure, by sink',
      labelNames: ['sink'],
      registers,
      collect() {
        this.reset();
        for (const check of checks) {
          if (!check.name.startsWith('sink:')) continue;
          const retries = check.status().values?.retries;
          if (retries !== undefined) this.inc({ sink: check.name.slice('sink:'.length) }, retries);
        }
      },
    });
    new Gauge({
      name: 'mlfp_consumer_lag',
      help: 'Records between each assigned Kafka partition high watermark and its next offset, at its last batch',
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        stats.consumerLag?.((partition, lag) => this.set({ partition: String(partition) }, lag));
      },
    });
    new Gauge({
      name: 'mlfp_dependency_up',
      help: '1 when a dependency (source, sink, snapshot store) is up, 0 when starting, retrying or down',
      labelNames: ['dependency', 'state'],
      registers,
      collect() {
        this.reset();
        for (const check of checks) {
          const { state } = check.status();
          this.set({ dependency: check.name, state }, state === 'up' ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'mlfp_dependency_value',
      help: 'Numbers reported by a dependency (pending_records, lag, …)',
      labelNames: ['dependency', 'value'],
      registers,
      collect() {
        this.reset();
        for (const check of checks) {
          for (const [value, number] of Object.entries(check.status().values ?? {})) {
            this.set({ dependency: check.name, value }, number);
          }
        }
      },
    });
    this.predictionLatency = new Histogram({
      name: 'mlfp_prediction_latency_seconds',
      help: 'Time from a feature vector reaching the scorer (micro-batch wait included) to its live prediction',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.sinkWriteSeconds = new Histogram({
      name: 'mlfp_sink_write_seconds',
      help: 'Time for a sink to make one flushed batch durable, by sink',
      labelNames: ['sink'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers,
    });
    this.tickToPrediction = new Histogram({
      name: 'mlfp_tick_to_prediction_seconds',
      help: 'Wall time from the newest tick event time seen to a live prediction being published',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.barCloseToPrediction = new Histogram({
      name: 'mlfp_bar_close_to_prediction_seconds',
      help: 'Wall time from the end of a bar (event time) to its live prediction being published, by timeframe',
      labelNames: ['timeframe'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.brokerRequestSeconds = new Histogram({
      name: 'mlfp_broker_request_seconds',
      help: 'Round trip of one request to a Kafka broker, by API (Fetch includes the broker wait for data)',
      labelNames: ['api'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.inferenceSeconds = new Histogram({
      name: 'mlfp_inference_seconds',
      help: 'Time of one inference run, from dispatch to completion, by model and execution provider',
      labelNames: ['model', 'provider'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.inferenceBatchRows = new Histogram({
      name: 'mlfp_inference_batch_rows',
      help: 'Rows scored together by one inference run, by model and execution provider',
      labelNames: ['model', 'provider'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
      registers,
    });
    const refused = new Counter({
      name: 'mlfp_metric_series_refused_total',
      help: 'Label sets refused by a monitor-fed gauge that already holds its maximum of series, by metric',
      labelNames: ['metric'],
      registers,
    });
    const fed = <Label extends string>(name: string, help: string, labelNames: readonly Label[]) =>
      new BoundedGaugeFeed<Label>(
        new Gauge<Label>({ name, help, labelNames, registers }),
        labelNames,
        MAX_FED_SERIES,
        refused,
        name,
      );
    this.drift = fed('mlfp_drift_score', 'Drift score of a model input by detector (PSI, KS statistic, …)', [
      'model',
      'input',
      'detector',
    ]);
    this.performance = fed(
      'mlfp_model_performance',
      'Rolling performance metric of a model over its window',
      ['model', 'metric'],
    );
    this.alerts = fed('mlfp_alerts', 'Active alerts by rule and state (pending, firing)', [
      'alertname',
      'state',
    ]);

    const latency = this.predictionLatency;
    const sinkWrite = this.sinkWriteSeconds;
    const tickToPrediction = this.tickToPrediction;
    // one child per timeframe, bound once: no label hashing per prediction
    const barClose = {} as Record<Timeframe, { observe(value: number): void }>;
    for (const timeframe of TIMEFRAMES) barClose[timeframe] = this.barCloseToPrediction.labels({ timeframe });
    const brokerRequest = this.brokerRequestSeconds;
    stats.timings = {
      predictionLatency: (seconds) => latency.observe(seconds),
      barCloseToPrediction: (timeframe, seconds) => barClose[timeframe].observe(seconds),
      tickToPrediction: (seconds) => tickToPrediction.observe(seconds),
      sinkWrite: (sink, seconds) => sinkWrite.observe({ sink }, seconds),
      brokerRequest: (api, seconds) => brokerRequest.observe({ api }, seconds),
    };
    this.onInference = inferenceObserver(this.inferenceSeconds, this.inferenceBatchRows);
    subscribe(INFERENCE_CHANNEL, this.onInference);
  }

  /** Stops observing the scorers' inference runs (a run of the engine ends; unreferenced, it stops by itself). */
  close(): void {
    unsubscribe(INFERENCE_CHANNEL, this.onInference);
  }

  addHealthCheck(check: HealthCheck): void {
    this.checks.push(check);
  }

  /** every registered dependency's status; ready when all are up */
  readiness(): { ready: boolean; dependencies: Record<string, DependencyStatus> } {
    const dependencies: Record<string, DependencyStatus> = {};
    let ready = true;
    for (const check of this.checks) {
      const status = check.status();
      dependencies[check.name] = status;
      if (status.state !== 'up') ready = false;
    }
    return { ready, dependencies };
  }
}

/**
 * The inference channel's subscriber. It holds the histograms weakly: an EngineMetrics nobody closed (a
 * finished run in a long-lived test process) is collected, and its subscriber then unsubscribes itself.
 */
function inferenceObserver(
  seconds: Histogram<'model' | 'provider'>,
  rows: Histogram<'model' | 'provider'>,
): (message: unknown) => void {
  const target = new WeakRef({ seconds, rows });
  const observe = (message: unknown): void => {
    const histograms = target.deref();
    if (histograms === undefined) {
      unsubscribe(INFERENCE_CHANNEL, observe);
      return;
    }
    const { model, provider, rows: count, seconds: took } = message as InferenceMessage;
    const labels = { model, provider };
    histograms.seconds.observe(labels, took);
    histograms.rows.observe(labels, count);
  };
  return observe;
}

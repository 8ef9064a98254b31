// Prometheus metrics (prom-client), owned here. Hot-path counters live in EngineStats as plain numbers; the
// metrics below read them at scrape time (collect callbacks), so counting costs nothing per event. The two
// histograms are connected to EngineStats.timings and observed per prediction and per sink write.
// Components with health (sinks, the Kafka source) register a HealthCheck; /readyz and the
// mlfp_dependency_up gauge read those.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TIMEFRAMES } from '../domain/types.js';
import type { EngineStats } from './stats.js';

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

  constructor(stats: EngineStats, options: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'mlfp_' });

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
    const checks = this.checks;
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
    const latency = this.predictionLatency;
    const sinkWrite = this.sinkWriteSeconds;
    stats.timings = {
      predictionLatency: (seconds) => latency.observe(seconds),
      sinkWrite: (sink, seconds) => sinkWrite.observe({ sink }, seconds),
    };
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

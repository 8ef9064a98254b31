// The process-wide model monitor (issue 19): it sees every output of every stream (a hook in the partition
// worker), keeps one drift monitor and one performance tracker per live model version, and evaluates the alert
// rules (latency, model errors, sink down, consumer lag, data drift, concept drift) on a wall-clock timer.
// Its own outputs (performance records, lifecycle alerts) wait in an outbox that the delivery coordinator cuts
// with every flush, so they reach every sink (Kafka ml.performance / ml.alerts, PostgreSQL, the WebSocket hub)
// like any output; alerts also go to the optional webhook, which never blocks.
// Labels are joined per stream (their state travels in the partition snapshot); everything here is rebuilt
// after a restart from what flows (drift windows refill, performance windows refill from new labels).
// Hot path (observe): a switch on the output kind and O(model inputs) for a feature vector; no allocation.

import type { MonitoringConfig } from '../config/schema.js';
import type { Output } from '../domain/output.js';
import type {
  Alert,
  FeatureVector,
  LabelRecord,
  ModelKind,
  PerformanceRecord,
  Prediction,
  Timeframe,
} from '../domain/types.js';
import { AlertRule, type ActiveAlert } from './alerts/rule.js';
import type { WebhookNotifier } from './alerts/webhook-notifier.js';
import { ModelDrift, type ModelDriftSpec } from './drift/model-drift.js';
import type { ReferenceHistogram } from './drift/reference.js';
import type { RandomSource } from './drift/calibration.js';
import type { DependencyStatus } from './metrics.js';
import { LabelJoiner, type LabelSpec } from './performance/label-joiner.js';
import { PerformanceTracker } from './performance/performance-tracker.js';

/** What the monitor needs of one live model version (the composition root maps manifests to this). */
export interface MonitoredModel {
  model: string;
  version: string;
  kind: ModelKind;
  timeframe: Timeframe;
  /** feature names in model order, and each one's FEATURE_COLUMNS index */
  inputs: readonly string[];
  featureIndex: readonly number[];
  /** prediction output keys (p_<class> or value names) */
  outputs: readonly string[];
  reference?: {
    inputs: Readonly<Record<string, ReferenceHistogram>>;
    outputs: Readonly<Record<string, ReferenceHistogram>>;
  };
  /** the manifest's label definition (absent: no delayed labels, no performance) */
  label?: { kind: LabelSpec['labelKind']; horizonBars: number };
  /** a classifier's classes in output order */
  classes?: readonly string[];
}

/** What the monitor reads at each evaluation, from the rest of the engine. */
export interface MonitorSignals {
  /** the live models now (changes when the registry does) */
  models(): readonly MonitoredModel[];
  /** the dependencies /readyz reports (source:*, sink:*, store:*) */
  dependencies(): Readonly<Record<string, DependencyStatus>>;
}

/** Metric ports (src/monitoring/metrics.ts) the monitor feeds; each optional. */
export interface MonitorMetricPorts {
  drift?: (labels: { model: string; input: string; detector: string }, value: number) => void;
  performance?: (labels: { model: string; metric: string }, value: number) => void;
  alerts?: (active: ReadonlyArray<{ alertname: string; state: 'pending' | 'firing' }>) => void;
}

export interface ModelMonitorOptions {
  signals: MonitorSignals;
  /** a seeded PRNG (src/streams/random.ts) for the bootstrap calibrations of drift cuts and error detectors */
  random: (seed: number) => RandomSource;
  webhook?: WebhookNotifier;
  metrics?: MonitorMetricPorts;
  /** wall clock (tests pass a virtual one) */
  now?: () => number;
  /** told of each alert the lifecycle emits (firing, resolved), e.g. to log it */
  onAlert?: (alert: Alert) => void;
  /** told of a monitoring failure (a bug) and how many so far; the engine logs it and goes on */
  onError?: (error: unknown, failures: number) => void;
}

const idOf = (model: string, version: string): string => `${model}@${version}`;

/**
 * A dependency state as the DependencyDown rule reads it: up (degraded input is the data-quality alert's) 0,
 * retrying or down 1; starting (connecting, migrating, joining the group, stopping) and closed are no data, so a
 * slow start or a graceful stop does not page.
 */
function dependencyDown(state: DependencyStatus['state']): number {
  if (state === 'up' || state === 'degraded') return 0;
  if (state === 'retrying' || state === 'down') return 1;
  return Number.NaN;
}

/** One live model version's monitors. */
interface Watched {
  readonly spec: MonitoredModel;
  readonly id: string;
  readonly drift: ModelDrift | undefined;
  readonly performance: PerformanceTracker | undefined;
  /** the model's alert labels ({ model, subject: model name }) and annotations ({ version }) */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** predictions' latency: the largest since the last evaluation (NaN: none) */
  maxLatencyMs: number;
  /** model_error alerts from the scorer since the last evaluation */
  errors: number;
  /** the latest performance record's error-detector alarm */
  errorAlarm: boolean;
  hasPerformance: boolean;
}

/** The monitor's own outputs waiting for the next flush (src/streams/monitor-wiring.ts hands them over). */
export interface MonitorOutputs {
  alerts: Alert[];
  performance: PerformanceRecord[];
}

export class ModelMonitor {
  private outbox: MonitorOutputs = { alerts: [], performance: [] };
  private outboxRecords = 0;
  private readonly now: () => number;
  private readonly watched = new Map<string, Watched>();
  /** the same, by model name then version: the per-output lookups build no "name@version" string */
  private readonly byName = new Map<string, Map<string, Watched>>();
  /** per timeframe, the watched models with drift detectors (the feature-vector path) */
  private readonly driftByTimeframe: Record<Timeframe, Watched[]> = { '5m': [], '1h': [], '1d': [] };
  private readonly rules: {
    latency: AlertRule | undefined;
    modelErrors: AlertRule | undefined;
    sinkDown: AlertRule | undefined;
    consumerLag: AlertRule | undefined;
    psi: AlertRule | undefined;
    ks: AlertRule | undefined;
    performance: AlertRule | undefined;
  };
  private timer: NodeJS.Timeout | undefined;
  private modelsKey = '';
  /** bumped whenever the watched models change (label joiners re-read the specs then) */
  generation = 0;
  /** alerts emitted by the lifecycle, by state (mlfp_alert_notifications_total) */
  readonly emitted = { firing: 0, resolved: 0 };
  /** labels seen by state and performance records made (mlfp_labels_total, mlfp_performance_records_total) */
  readonly counts = { labelled: 0, expired: 0, revised: 0, performance: 0 };
  /** monitoring failures caught (bugs; mlfp_monitor_errors_total) */
  failures = 0;

  constructor(
    readonly config: MonitoringConfig,
    private readonly options: ModelMonitorOptions,
  ) {
    this.now = options.now ?? Date.now;
    const r = config.alerts.rules;
    const max = config.alerts.maxSeriesPerRule;
    const rule = (
      enabled: boolean,
      spec: Omit<ConstructorParameters<typeof AlertRule>[0], 'maxLabelSets'>,
    ): AlertRule | undefined => (enabled ? new AlertRule({ ...spec, maxLabelSets: max }) : undefined);
    this.rules = {
      latency: rule(r.latency.enabled, {
        name: 'PredictionLatencyHigh',
        type: 'latency',
        severity: r.latency.severity,
        forMs: r.latency.forMs,
        keepFiringForMs: r.latency.keepFiringForMs,
        fireAt: r.latency.thresholdMs,
        resolveBelow: r.latency.thresholdMs * r.latency.resolveRatio,
        description: `a model's live prediction latency (largest per evaluation) at or over ${r.latency.thresholdMs} ms`,
      }),
      modelErrors: rule(r.modelErrors.enabled, {
        name: 'ModelErrors',
        type: 'model_error',
        severity: r.modelErrors.severity,
        forMs: r.modelErrors.forMs,
        keepFiringForMs: r.modelErrors.keepFiringForMs,
        fireAt: r.modelErrors.threshold,
        resolveBelow: r.modelErrors.threshold,
        description: 'scoring runs of a model failed (exception, wrong shape, NaN/Inf output)',
      }),
      sinkDown: rule(r.sinkDown.enabled, {
        name: 'DependencyDown',
        type: 'system',
        severity: r.sinkDown.severity,
        forMs: r.sinkDown.forMs,
        keepFiringForMs: r.sinkDown.keepFiringForMs,
        fireAt: 1,
        resolveBelow: 1,
        description: 'a sink, the snapshot store or the source is not up (retrying, down)',
      }),
      consumerLag: rule(r.consumerLag.enabled, {
        name: 'ConsumerLagHigh',
        type: 'system',
        severity: r.consumerLag.severity,
        forMs: r.consumerLag.forMs,
        keepFiringForMs: r.consumerLag.keepFiringForMs,
        fireAt: r.consumerLag.maxRecords,
        resolveBelow: r.consumerLag.maxRecords * r.consumerLag.resolveRatio,
        description: `the Kafka consumer's lag at or over ${r.consumerLag.maxRecords} records`,
      }),
      psi: rule(r.drift.enabled && config.drift.enabled, {
        name: 'DataDriftPSI',
        type: 'drift',
        severity: r.drift.severity,
        forMs: r.drift.forMs,
        keepFiringForMs: r.drift.keepFiringForMs,
        fireAt: r.drift.psiFire,
        resolveBelow: r.drift.psiResolve,
        description: `PSI of a model input or output against its reference at or over ${r.drift.psiFire}`,
      }),
      ks: rule(r.drift.enabled && config.drift.enabled, {
        name: 'DataDriftKS',
        type: 'drift',
        severity: r.drift.severity,
        forMs: r.drift.forMs,
        keepFiringForMs: r.drift.keepFiringForMs,
        // the KS statistic over its calibrated cut: fires at 1, resolves below 0.9
        fireAt: 1,
        resolveBelow: 0.9,
        description: "a model input's KS statistic over its calibrated cut (false-alarm budget)",
      }),
      performance: rule(r.performance.enabled, {
        name: 'ConceptDrift',
        type: 'performance',
        severity: r.performance.severity,
        forMs: r.performance.forMs,
        keepFiringForMs: r.performance.keepFiringForMs,
        fireAt: 1,
        resolveBelow: 1,
        description: "the Page-Hinkley detector on a model's errors alarmed (its error rate went up)",
      }),
    };
    this.refresh();
  }

  /** Records in the outbox (the delivery coordinator's pending count). */
  get pendingRecords(): number {
    return this.outboxRecords;
  }

  /** Hands over the outputs waiting (undefined when none); the delivery coordinator cuts them with every flush. */
  takeOutputs(): MonitorOutputs | undefined {
    if (this.outboxRecords === 0) return undefined;
    const outputs = this.outbox;
    this.outbox = { alerts: [], performance: [] };
    this.outboxRecords = 0;
    return outputs;
  }

  /** Same as takeOutputs (TEMPORARY alias while helpers move to the new name). */
  takeOutbox(): MonitorOutputs | undefined {
    return this.takeOutputs();
  }

  /** A label joiner for one stream, watching the live models' labels (its state travels in the snapshot). */
  createLabels(): MonitorLabels {
    return new MonitorLabels(this, this.config.labels);
  }

  /** Label specs of the live models (models without a joinable label are left out). */
  labelSpecs(): LabelSpec[] {
    const specs: LabelSpec[] = [];
    for (const { spec } of this.watched.values()) {
      if (spec.label === undefined) continue;
      specs.push({
        model: spec.model,
        version: spec.version,
        kind: spec.kind,
        timeframe: spec.timeframe,
        horizonBars: spec.label.horizonBars,
        labelKind: spec.label.kind,
        ...(spec.classes === undefined ? {} : { classes: spec.classes }),
        ...(spec.kind === 'classifier' ? {} : { valueName: spec.outputs[0] }),
      });
    }
    return specs;
  }

  /**
   * One output of a stream. Returns true for a raw model_error alert from the scorer: the lifecycle raises one
   * firing and one resolved alert for a run of them, so the raw ones stay out of the outbox.
   */
  observe(output: Output): boolean {
    try {
      switch (output.kind) {
        case 'features':
          this.onFeatures(output.value);
          return false;
        case 'prediction':
          this.onPrediction(output.value);
          return false;
        case 'label':
          this.onLabel(output.value);
          return false;
        case 'alert':
          return this.onScorerAlert(output.value);
        default:
          return false;
      }
    } catch (error) {
      // monitoring never stops the engine: a failure here is counted and reported, the output flows on
      this.fault(error);
      return false;
    }
  }

  /** A monitoring failure (a bug, never data): counted (mlfp_monitor_errors_total) and reported, not thrown. */
  fault(error: unknown): void {
    this.failures++;
    this.options.onError?.(error, this.failures);
  }

  /** Starts the evaluation timer. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.evaluate(), this.config.evaluationIntervalMs);
    this.timer.unref();
  }

  /** Stops the evaluation timer (outputs already in the outbox go with the final flush). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every alert rule's pending and firing label sets. */
  active(): Array<ActiveAlert & { alertname: string }> {
    const all: Array<ActiveAlert & { alertname: string }> = [];
    for (const rule of Object.values(this.rules))
      if (rule !== undefined) for (const alert of rule.active()) all.push({ ...alert, alertname: rule.name });
    return all;
  }

  /** The drift monitor of a model version (tests and the offline report read it). */
  driftOf(model: string, version: string): ModelDrift | undefined {
    return this.watched.get(idOf(model, version))?.drift;
  }

  /** The performance tracker of a model version (the offline report reads its final window). */
  performanceOf(model: string, version: string): PerformanceTracker | undefined {
    return this.watched.get(idOf(model, version))?.performance;
  }

  /** Rebuilds the set of watched models when the live models changed (cheap when they did not). */
  refresh(): void {
    const models = this.options.signals.models();
    const key = models.map((m) => idOf(m.model, m.version)).join('\u0000');
    if (key === this.modelsKey) return;
    this.modelsKey = key;
    this.generation++;
    const keep = new Set<string>();
    for (const spec of models) {
      const id = idOf(spec.model, spec.version);
      keep.add(id);
      if (this.watched.has(id)) continue;
      this.watched.set(id, {
        spec,
        id,
        drift: this.config.drift.enabled ? this.createDrift(spec) : undefined,
        performance:
          spec.label !== undefined && spec.label.kind !== 'custom'
            ? new PerformanceTracker(
                {
                  model: spec.model,
                  version: spec.version,
                  kind: spec.kind,
                  timeframe: spec.timeframe,
                  ...(spec.classes === undefined ? {} : { classes: spec.classes }),
                },
                {
                  window: this.config.performance.window,
                  every: this.config.performance.every,
                  errorRunLength: this.config.performance.errorRunLength,
                  random: this.options.random(this.config.drift.calibration.seed),
                },
              )
            : undefined,
        labels: { model: spec.model, subject: spec.model },
        annotations: { version: spec.version },
        maxLatencyMs: Number.NaN,
        errors: 0,
        errorAlarm: false,
        hasPerformance: false,
      });
    }
    for (const id of [...this.watched.keys()]) if (!keep.has(id)) this.watched.delete(id);
    this.byName.clear();
    for (const watched of this.watched.values()) {
      let versions = this.byName.get(watched.spec.model);
      if (versions === undefined) this.byName.set(watched.spec.model, (versions = new Map()));
      versions.set(watched.spec.version, watched);
    }
    for (const timeframe of ['5m', '1h', '1d'] as const) this.driftByTimeframe[timeframe].length = 0;
    for (const watched of this.watched.values())
      if (watched.drift !== undefined) this.driftByTimeframe[watched.spec.timeframe].push(watched);
  }

  /** Evaluates every rule now: observes the current values, advances the lifecycles, emits alerts. */
  evaluate(nowMs = this.now()): void {
    this.refresh();
    const { rules } = this;
    const metrics = this.options.metrics;
    for (const watched of this.watched.values()) {
      // keyed by model name: a new live version continues (and can resolve) the alert of the one it replaced
      const labels = watched.labels;
      const annotations = watched.annotations;
      rules.latency?.observe(labels, watched.maxLatencyMs, nowMs, annotations);
      watched.maxLatencyMs = Number.NaN;
      rules.modelErrors?.observe(labels, watched.errors, nowMs, annotations);
      watched.errors = 0;
      if (watched.hasPerformance)
        rules.performance?.observe(labels, watched.errorAlarm ? 1 : 0, nowMs, annotations);
      if (watched.drift !== undefined) this.observeDrift(watched, nowMs, metrics);
    }
    const dependencies = this.options.signals.dependencies();
    // a source paused because an output or the store is down is that outage, not a second one (Alertmanager's
    // inhibition): while one is down, a retrying source is no data (it neither fires nor resolves)
    let outputDown = false;
    for (const [name, status] of Object.entries(dependencies))
      if (!name.startsWith('source:') && status.state !== 'up' && status.state !== 'degraded')
        outputDown = true;
    for (const [name, status] of Object.entries(dependencies)) {
      const inhibited = outputDown && status.state === 'retrying' && name.startsWith('source:');
      rules.sinkDown?.observe(
        { dependency: name, subject: name },
        inhibited ? Number.NaN : dependencyDown(status.state),
        nowMs,
        status.detail === undefined ? undefined : { detail: status.detail },
      );
      const lag = status.values?.['lag'];
      if (name.startsWith('source:') && lag !== undefined)
        rules.consumerLag?.observe({ source: name, subject: name }, lag, nowMs);
    }
    const emit = (alert: Alert): void => this.raise(alert);
    for (const rule of Object.values(rules)) rule?.evaluate(nowMs, emit);
    if (metrics?.alerts !== undefined)
      metrics.alerts(this.active().map((a) => ({ alertname: a.alertname, state: a.state })));
  }

  private observeDrift(watched: Watched, nowMs: number, metrics: MonitorMetricPorts | undefined): void {
    const drift = watched.drift!;
    const { model, version } = watched.spec;
    const annotations = {
      error_detector: !watched.hasPerformance ? 'no labels yet' : watched.errorAlarm ? 'alarm' : 'quiet',
    };
    for (const status of drift.status()) {
      metrics?.drift?.({ model, input: status.key, detector: status.detector }, status.value);
      const labels = {
        model,
        version,
        input: status.key,
        detector: status.detector,
        subject: `${watched.id} ${status.key}`,
      };
      const scored = status.state !== 'calibrating' && status.state !== 'warming' && status.state !== 'gated';
      if (status.detector === 'psi')
        this.rules.psi?.observe(labels, scored ? status.value : NaN, nowMs, annotations);
      else
        this.rules.ks?.observe(
          labels,
          scored && status.cut > 0 ? status.value / status.cut : Number.NaN,
          nowMs,
          annotations,
        );
    }
  }

  private raise(alert: Alert): void {
    if (alert.state === 'firing') this.emitted.firing++;
    else this.emitted.resolved++;
    this.outbox.alerts.push(alert);
    this.outboxRecords++;
    this.options.webhook?.notify([alert]);
    this.options.onAlert?.(alert);
  }

  private createDrift(spec: MonitoredModel): ModelDrift | undefined {
    if (spec.reference === undefined) return undefined;
    const drift = this.config.drift;
    const driftSpec: ModelDriftSpec = {
      model: spec.model,
      version: spec.version,
      timeframe: spec.timeframe,
      inputs: spec.inputs,
      featureIndex: spec.featureIndex,
      outputs: spec.outputs,
      reference: spec.reference,
    };
    return new ModelDrift(
      driftSpec,
      {
        alarmsPerWeek: drift.alarmsPerWeek,
        expectedSymbols: drift.expectedSymbols,
        maxSymbols: drift.maxSymbols,
        psi: drift.psi,
        ks: drift.ks,
        calibration: drift.calibration,
      },
      { random: this.options.random },
    );
  }

  private onFeatures(vector: FeatureVector): void {
    const list = this.driftByTimeframe[vector.timeframe];
    if (list.length === 0) return;
    const now = this.now();
    for (let i = 0; i < list.length; i++) list[i]!.drift!.onFeatures(vector, now);
  }

  private onPrediction(prediction: Prediction): void {
    const watched = this.byName.get(prediction.model)?.get(prediction.version);
    if (watched === undefined) return;
    if (!(watched.maxLatencyMs >= prediction.latencyMs)) watched.maxLatencyMs = prediction.latencyMs;
    watched.drift?.onPrediction(prediction, this.now());
  }

  private onLabel(label: LabelRecord): void {
    if (label.state === 'expired') this.counts.expired++;
    else if (label.revision > 0) this.counts.revised++;
    else this.counts.labelled++;
    const watched = this.byName.get(label.model)?.get(label.version);
    const tracker = watched?.performance;
    if (tracker === undefined) return;
    const record = tracker.onLabel(label);
    if (record === undefined) return;
    this.onPerformance(watched!, record);
  }

  private onPerformance(watched: Watched, record: PerformanceRecord): void {
    watched.hasPerformance = true;
    this.counts.performance++;
    watched.errorAlarm = record.errorDrift.alarm;
    this.outbox.performance.push(record);
    this.outboxRecords++;
    const port = this.options.metrics?.performance;
    if (port !== undefined) {
      for (const [metric, value] of Object.entries(record.metrics))
        port({ model: watched.id, metric }, value);
      port({ model: watched.id, metric: 'error_drift_statistic' }, record.errorDrift.statistic);
    }
  }

  private onScorerAlert(alert: Alert): boolean {
    if (alert.type !== 'model_error' || alert.rule !== undefined) return false;
    // the scorer names the model as "name@version" (or the name alone when it has no version); a shadow's are
    // not taken over. A version made live since the last evaluation is watched from now on (its first errors
    // would leak raw otherwise); one that just left counts for its name, which keys the alert
    if (alert.subject.endsWith(' (shadow)')) return false;
    if (!this.watched.has(alert.subject)) this.refresh();
    const watched = this.watched.get(alert.subject) ?? this.findByName(alert.subject.split('@')[0]!);
    if (watched === undefined) return false;
    watched.errors++;
    return true;
  }

  private findByName(subject: string): Watched | undefined {
    for (const watched of this.watched.values()) if (watched.spec.model === subject) return watched;
    return undefined;
  }
}

/**
 * One stream's label joiner as the partition worker sees it: watches the live models' labels (re-read when
 * they change) and restores in place from the partition snapshot.
 */
export class MonitorLabels {
  private joiner: LabelJoiner;
  private generation = -1;

  constructor(
    private readonly monitor: ModelMonitor,
    private readonly options: MonitoringConfig['labels'],
  ) {
    this.joiner = new LabelJoiner({ maxWaitBars: options.maxWaitBars, maxPending: options.maxPending });
    this.watchModels();
  }

  get pendingCount(): number {
    return this.joiner.pendingCount;
  }

  onPrediction(prediction: Prediction): void {
    try {
      this.watchModels();
      this.joiner.onPrediction(prediction);
    } catch (error) {
      this.monitor.fault(error);
    }
  }

  onBar(bar: Parameters<LabelJoiner['onBar']>[0], emit: (label: LabelRecord) => void): void {
    try {
      this.joiner.onBar(bar, emit);
    } catch (error) {
      this.monitor.fault(error);
    }
  }

  snapshot(): unknown {
    return this.joiner.snapshot();
  }

  restore(snapshot: unknown): void {
    this.joiner = LabelJoiner.restore(snapshot, {
      maxWaitBars: this.options.maxWaitBars,
      maxPending: this.options.maxPending,
    });
    this.generation = -1;
    this.watchModels();
  }

  /** Watches the live models' labels when they changed since the last look (one compare otherwise). */
  private watchModels(): void {
    if (this.generation === this.monitor.generation) return;
    this.generation = this.monitor.generation;
    for (const spec of this.monitor.labelSpecs()) this.joiner.watch(spec);
  }
}

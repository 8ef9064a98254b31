// Builds the model monitor for a run (issue 19): the live models' manifests as monitored models, the
// dependencies /readyz reports as alert signals, the optional webhook, the metric ports; and the hooks the
// partition workers call (observe every output, a label joiner per stream, the monitor's outbox).

import { Counter } from 'prom-client';
import type { EngineConfig } from '../config/schema.js';
import { FEATURE_COLUMNS } from '../domain/types.js';
import type { ModelRegistry } from '../models/registry.js';
import { outputNamesOf, type ModelManifest } from '../models/manifest.js';
import { WebhookNotifier } from '../monitoring/alerts/webhook-notifier.js';
import type { Logger } from '../monitoring/log.js';
import type { EngineMetrics } from '../monitoring/metrics.js';
import { ModelMonitor, type MonitorMetricPorts, type MonitoredModel } from '../monitoring/model-monitor.js';
import type { Alert } from '../domain/types.js';
import { emptyBatch } from '../sinks/sink.js';
import type { OutboxOwner } from './delivery-ports.js';
import type { MonitorHooks } from './partition-worker.js';
import { Random } from './random.js';

const COLUMN_INDEX: ReadonlyMap<string, number> = new Map(FEATURE_COLUMNS.map((name, i) => [name, i]));

/** The registry's live models as the monitor sees them (shadow versions publish nothing: not monitored). */
export function monitoredModels(registry: ModelRegistry | undefined): MonitoredModel[] {
  if (registry === undefined) return [];
  const models: MonitoredModel[] = [];
  for (const { model, role } of registry.assignment())
    if (role === 'live') models.push(monitoredModelOf(model.manifest));
  return models;
}

/** One manifest as the monitor sees it (the live engine and `mlfp monitor` map manifests the same way). */
export function monitoredModelOf(m: ModelManifest): MonitoredModel {
  return {
    model: m.name,
    version: m.version,
    kind: m.kind,
    timeframe: m.timeframe,
    inputs: m.inputs.features,
    featureIndex: m.inputs.features.map((name) => COLUMN_INDEX.get(name) ?? -1),
    outputs: outputNamesOf(m),
    ...(m.reference === undefined ? {} : { reference: m.reference }),
    ...(m.label === undefined ? {} : { label: { kind: m.label.kind, horizonBars: m.label.horizonBars } }),
    ...(m.output.type === 'classes' ? { classes: m.output.labels } : {}),
  };
}

/** The monitor's gauges (mlfp_drift_score, mlfp_model_performance, mlfp_alerts). */
function metricPorts(metrics: EngineMetrics): MonitorMetricPorts {
  const counts = new Map<string, { alertname: string; state: 'pending' | 'firing'; count: number }>();
  return {
    // a detector not read yet (warming, gated, calibrating) has no sample rather than a NaN one
    drift: (labels, value) =>
      Number.isNaN(value) ? metrics.drift.remove(labels) : metrics.drift.set(labels, value),
    performance: (labels, value) => metrics.performance.set(labels, value),
    alerts: (active) => {
      for (const entry of counts.values()) entry.count = 0;
      for (const { alertname, state } of active) {
        const key = `${alertname}\u0000${state}`;
        const entry = counts.get(key);
        if (entry === undefined) counts.set(key, { alertname, state, count: 1 });
        else entry.count++;
      }
      // a rule and state that had alerts keeps its series at 0 (a gauge that drops to 0, not one that vanishes)
      for (const { alertname, state, count } of counts.values())
        metrics.alerts.set({ alertname, state }, count);
    },
  };
}

/** The monitor's outputs as an outbox the delivery coordinator cuts (an owner without offsets). */
export function monitorOutbox(monitor: ModelMonitor): OutboxOwner {
  return {
    topic: 'monitor',
    partition: -1,
    nextOffset: undefined,
    get pendingRecords() {
      return monitor.pendingRecords;
    },
    takeOutbox: () => {
      const outputs = monitor.takeOutputs();
      if (outputs === undefined) return undefined;
      const batch = emptyBatch();
      batch.alerts = outputs.alerts;
      batch.performance = outputs.performance;
      return batch;
    },
  };
}

/** Counters read at scrape time from the monitor's and the webhook's plain numbers (nothing per event). */
function registerCounters(
  metrics: EngineMetrics,
  monitor: ModelMonitor,
  webhook: WebhookNotifier | undefined,
): void {
  const registers = [metrics.registry];
  new Counter({
    name: 'mlfp_labels_total',
    help: 'Delayed labels of live predictions, by state: labelled (first time), revised (a late bar changed it), expired (never arrived)',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      for (const state of ['labelled', 'revised', 'expired'] as const)
        this.inc({ state }, monitor.counts[state]);
    },
  });
  new Counter({
    name: 'mlfp_monitor_errors_total',
    help: 'Failures inside the model monitor (bugs, never data), caught so that the engine goes on; each is logged',
    registers,
    collect() {
      this.reset();
      this.inc(monitor.failures);
    },
  });
  new Counter({
    name: 'mlfp_performance_records_total',
    help: 'Rolling model performance records made (one per monitoring.performance.every labels of a model)',
    registers,
    collect() {
      this.reset();
      this.inc(monitor.counts.performance);
    },
  });
  new Counter({
    name: 'mlfp_alert_notifications_total',
    help: 'Alerts the alert lifecycle emitted, by state (firing, resolved)',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      this.inc({ state: 'firing' }, monitor.emitted.firing);
      this.inc({ state: 'resolved' }, monitor.emitted.resolved);
    },
  });
  new Counter({
    name: 'mlfp_alert_webhook_total',
    help: 'Alerts for the webhook receiver by outcome: sent, failed (given up), rejected (4xx), dropped (queue full); retries = POSTs retried',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      // without a webhook every outcome stays 0 (the series exist, so dashboards and rules see a 0)
      const stats = webhook?.stats ?? { sent: 0, failed: 0, rejected: 0, dropped: 0, retries: 0 };
      for (const outcome of ['sent', 'failed', 'rejected', 'dropped', 'retries'] as const)
        this.inc({ outcome }, stats[outcome]);
    },
  });
}

export interface RunMonitor {
  monitor: ModelMonitor;
  hooks: MonitorHooks;
  webhook: WebhookNotifier | undefined;
  /** stops the evaluation timer and drains the webhook (bounded by its timeout) */
  close(): Promise<void>;
}

/** The run's monitor, or undefined when `monitoring.enabled` is off. */
export function createRunMonitor(
  config: EngineConfig,
  registry: ModelRegistry | undefined,
  metrics: EngineMetrics,
  log: Logger,
  onAlert: (alert: Alert) => void,
): RunMonitor | undefined {
  const monitoring = config.monitoring;
  if (!monitoring.enabled) return undefined;
  const hook = monitoring.alerts.webhook;
  const webhook =
    hook.url === undefined
      ? undefined
      : new WebhookNotifier(
          {
            url: hook.url,
            receiver: hook.receiver,
            externalURL: monitoring.alerts.externalUrl,
            headers: hook.headers,
            maxQueuedAlerts: hook.maxQueued,
            maxAttempts: hook.maxAttempts,
            timeoutMs: hook.timeoutMs,
            initialDelayMs: hook.retry.initialDelayMs,
            maxDelayMs: hook.retry.maxDelayMs,
          },
          log,
        );
  const ports = metricPorts(metrics);
  const monitor = new ModelMonitor(monitoring, {
    signals: {
      models: () => monitoredModels(registry),
      dependencies: () => metrics.readiness().dependencies,
    },
    webhook,
    random: (seed) => new Random(seed),
    metrics: ports,
    onAlert,
    // logged with its stack the first time and then every 1,000th (a bug repeating per output must not flood)
    onError: (error, failures) => {
      if (failures === 1 || failures % 1_000 === 0)
        log.error(
          { event: 'monitor.failed', err: error, failures },
          `model monitor failure #${failures}: ${(error as Error)?.message ?? String(error)}`,
        );
    },
  });
  registerCounters(metrics, monitor, webhook);
  monitor.start();
  const hooks: MonitorHooks = {
    observe: (output) => monitor.observe(output),
    createLabels: monitoring.labels.enabled ? () => monitor.createLabels() : undefined,
    outbox: monitorOutbox(monitor),
  };
  return {
    monitor,
    hooks,
    webhook,
    close: async () => {
      monitor.stop();
      await webhook?.close(hook.timeoutMs);
    },
  };
}

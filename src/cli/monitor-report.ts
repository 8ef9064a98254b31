// The report of `mlfp monitor`: per model version, label counts, the performance of the final window (the
// PerformanceTracker's record) and of all labels (batchPerformance), the drift detectors' last status, and the
// alerts the rules raised; rendered as one JSON object or as CSV rows (columns in docs/monitoring/monitor-command.md).

import { formatTime } from '../domain/time.js';
import type { Alert, LabelExpiry, ModelKind, PerformanceRecord, Timeframe } from '../domain/types.js';
import type { ActiveAlert } from '../monitoring/alerts/rule.js';
import type { DriftSkip, DriftStatusRow } from '../monitoring/drift/model-drift.js';
import { csvField, csvNumber } from '../streams/csv.js';

export const EXPIRY_REASONS: readonly LabelExpiry[] = ['gap', 'timeout', 'evicted'];

export interface ModelLabelCounts {
  /** first labels (revision 0) */
  labelled: number;
  /** re-emitted labels (revision > 0) */
  revised: number;
  expired: Record<LabelExpiry, number>;
}

export interface ModelReport {
  model: string;
  version: string;
  kind: ModelKind;
  timeframe: Timeframe;
  /** the manifest's label (null: none, no performance) */
  label: { kind: string; horizonBars: number } | null;
  /** predictions of this version in the file */
  predictions: number;
  labels: ModelLabelCounts;
  /** null when the label cannot be joined (none, or 'custom') or labels are off in the config */
  performance: {
    /** the tracker's record over its final window (null: no label was scored) */
    window: PerformanceRecord | null;
    /** batchPerformance over every label, each at its last revision, in the order first labelled */
    all: { count: number; metrics: Record<string, number> };
    /** performance records the live engine would have published (one every `performance.every` labels) */
    records: number;
  } | null;
  /** every detector's last status (empty when drift is off or the manifest has no reference) */
  drift: DriftStatusRow[];
  driftSkipped: DriftSkip[];
}

export type ActiveAlertRow = ActiveAlert & { alertname: string };

export interface MonitorReport {
  bars: { file: string; rows: number };
  predictions: { file: string; rows: number; withoutBar: number };
  /** first and last event time replayed (bar ends), epoch ms (NaN: nothing replayed) */
  eventTime: { first: number; last: number };
  /** the label joiner's stream-wide counts (null: labels off) */
  joiner: { pending: number; duplicates: number; unwatched: number; malformed: number } | null;
  models: ModelReport[];
  /** alerts the rules raised (firing, resolved), in order */
  alerts: Alert[];
  /** pending and firing alerts at the end */
  active: ActiveAlertRow[];
}

const number = (value: number): number | null => (Number.isFinite(value) ? value : null);
const time = (ms: number): string | null => (Number.isFinite(ms) ? formatTime(ms) : null);
const metricsJson = (metrics: Record<string, number>): Record<string, number | null> =>
  Object.fromEntries(Object.entries(metrics).map(([name, value]) => [name, number(value)]));

/** The report as one JSON object: times ISO-8601, non-finite numbers null. */
export function reportJson(report: MonitorReport): string {
  const json = {
    kind: 'mlfp.monitor-report',
    version: 1,
    bars: report.bars,
    predictions: report.predictions,
    eventTime: { first: time(report.eventTime.first), last: time(report.eventTime.last) },
    joiner: report.joiner,
    models: report.models.map((m) => ({
      model: m.model,
      version: m.version,
      kind: m.kind,
      timeframe: m.timeframe,
      label: m.label,
      predictions: m.predictions,
      labels: m.labels,
      performance:
        m.performance === null
          ? null
          : {
              window:
                m.performance.window === null
                  ? null
                  : {
                      ts: time(m.performance.window.ts),
                      count: m.performance.window.count,
                      metrics: metricsJson(m.performance.window.metrics),
                      errorDrift: {
                        statistic: number(m.performance.window.errorDrift.statistic),
                        threshold: number(m.performance.window.errorDrift.threshold),
                        alarm: m.performance.window.errorDrift.alarm,
                      },
                    },
              all: { count: m.performance.all.count, metrics: metricsJson(m.performance.all.metrics) },
              records: m.performance.records,
            },
      drift: m.drift.map((row) => ({
        key: row.key,
        detector: row.detector,
        value: number(row.value),
        cut: number(row.cut),
        state: row.state,
        evaluatedAt: time(row.evaluatedAtMs),
      })),
      driftSkipped: m.driftSkipped,
    })),
    alerts: report.alerts.map((a) => ({
      rule: a.rule ?? null,
      type: a.type,
      state: a.state,
      severity: a.severity,
      subject: a.subject,
      value: number(a.value),
      threshold: number(a.threshold),
      ts: time(a.ts),
      labels: a.labels ?? {},
      annotations: a.annotations ?? {},
    })),
    active: report.active.map((a) => ({
      rule: a.alertname,
      state: a.state,
      since: time(a.since),
      value: number(a.value),
      labels: a.labels,
    })),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

export const REPORT_CSV_COLUMNS = [
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
] as const;

/**
 * The report as CSV, one row per number: sections `labels` (counts), `performance_window` and
 * `performance_all` (metric per row; `count` first), `drift` (per input or output and detector), `alert`
 * (raised) and `active` (pending or firing at the end). Times ISO-8601; a non-finite number is empty.
 */
export function reportCsv(report: MonitorReport): string {
  const lines: string[] = [REPORT_CSV_COLUMNS.join(',')];
  const row = (
    model: string,
    version: string,
    section: string,
    name: string,
    value: number,
    extra: { input?: string; detector?: string; cut?: number; state?: string; ts?: number } = {},
  ): void => {
    lines.push(
      [
        csvField(model),
        csvField(version),
        section,
        csvField(name),
        csvField(extra.input ?? ''),
        csvField(extra.detector ?? ''),
        csvNumber(Number.isFinite(value) ? value : Number.NaN),
        csvNumber(extra.cut !== undefined && Number.isFinite(extra.cut) ? extra.cut : Number.NaN),
        csvField(extra.state ?? ''),
        extra.ts !== undefined && Number.isFinite(extra.ts) ? formatTime(extra.ts) : '',
      ].join(','),
    );
  };
  const joiner = report.joiner;
  if (joiner !== null) for (const [name, value] of Object.entries(joiner)) row('', '', 'labels', name, value);
  for (const m of report.models) {
    const { model, version } = m;
    row(model, version, 'labels', 'predictions', m.predictions);
    row(model, version, 'labels', 'labelled', m.labels.labelled);
    row(model, version, 'labels', 'revised', m.labels.revised);
    for (const reason of EXPIRY_REASONS)
      row(model, version, 'labels', `expired_${reason}`, m.labels.expired[reason]);
    const performance = m.performance;
    if (performance !== null) {
      const window = performance.window;
      if (window !== null) {
        const ts = window.ts;
        row(model, version, 'performance_window', 'count', window.count, { ts });
        for (const [name, value] of Object.entries(window.metrics))
          row(model, version, 'performance_window', name, value, { ts });
        row(model, version, 'performance_window', 'error_drift_statistic', window.errorDrift.statistic, {
          cut: window.errorDrift.threshold,
          state: window.errorDrift.alarm ? 'alarm' : 'quiet',
          ts,
        });
      }
      row(model, version, 'performance_all', 'count', performance.all.count);
      for (const [name, value] of Object.entries(performance.all.metrics))
        row(model, version, 'performance_all', name, value);
      row(model, version, 'performance_all', 'records', performance.records);
    }
    for (const status of m.drift)
      row(model, version, 'drift', 'drift', status.value, {
        input: status.key,
        detector: status.detector,
        cut: status.cut,
        state: status.state,
        ts: status.evaluatedAtMs,
      });
  }
  // drift alerts carry the version as a label, the others as an annotation
  for (const a of report.alerts) {
    const labels = a.labels ?? {};
    row(
      labels['model'] ?? '',
      labels['version'] ?? a.annotations?.['version'] ?? '',
      'alert',
      a.rule ?? a.type,
      a.value,
      {
        input: labels['input'],
        detector: labels['detector'],
        cut: a.threshold,
        state: a.state,
        ts: a.ts,
      },
    );
  }
  for (const a of report.active)
    row(a.labels['model'] ?? '', a.labels['version'] ?? '', 'active', a.alertname, a.value, {
      input: a.labels['input'],
      detector: a.labels['detector'],
      state: a.state,
      ts: a.since,
    });
  return `${lines.join('\n')}\n`;
}

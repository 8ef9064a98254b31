// One alert rule over many label sets (one per model, stream, sink, …), with Prometheus's lifecycle:
// inactive → pending while the condition holds → firing after `forMs` (one firing alert) → resolved once the
// condition has been clear for `keepFiringForMs` (one resolved alert) → inactive. Hysteresis (fire at
// `fireAt`, clear only past `resolveBelow`) keeps a value hovering near the threshold from flapping.
// Pure: the caller passes values, the time and an emit callback; no timers, logs or I/O.

import type { Alert, AlertSeverity, AlertType } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { alertmanagerLabels } from './alertmanager.js';
import { alertFingerprint } from './fingerprint.js';

export interface AlertRuleSpec {
  /** the alert's name (Alertmanager's `alertname`); names the config keys in errors */
  name: string;
  type: AlertType;
  severity: AlertSeverity;
  /** how long the condition must hold before the alert fires (0: at the first evaluation that sees it) */
  forMs: number;
  /** how long the condition must stay clear before a firing alert resolves */
  keepFiringForMs: number;
  /** 'above': fires at value >= fireAt; 'below': fires at value <= fireAt */
  fireAt: number;
  /** 'above': clear when value < resolveBelow (<= fireAt); 'below': clear when value > resolveBelow (>= fireAt) */
  resolveBelow: number;
  description?: string;
  /** default 'above' */
  direction?: 'above' | 'below';
  /** a label set not observed for this long is gone: a firing alert resolves; default 5 × max(forMs, 60 s) */
  staleAfterMs?: number;
  /** label sets tracked at once; observations of further ones are counted in `overflow` (default 10,000) */
  maxLabelSets?: number;
}

/** A pending or firing label set, for /api and metrics. */
export interface ActiveAlert {
  labels: Readonly<Record<string, string>>;
  fingerprint: string;
  state: 'pending' | 'firing';
  /** epoch ms: when it became pending, or when it started firing */
  since: number;
  value: number;
}

export const DEFAULT_MAX_LABEL_SETS = 10_000;
const MIN_STALE_BASE_MS = 60_000;
const STALE_FACTOR = 5;
const TYPES: ReadonlySet<string> = new Set<AlertType>([
  'drift',
  'latency',
  'model_error',
  'system',
  'performance',
]);
const SEVERITIES: ReadonlySet<string> = new Set<AlertSeverity>(['info', 'warning', 'critical']);

type Phase = 'inactive' | 'pending' | 'firing';

/** One label set's state; fields set in one order (one V8 shape). */
interface Series {
  labels: Readonly<Record<string, string>>;
  /** over the Alertmanager label set (alertname, type, severity, subject + labels) */
  fingerprint: string;
  subject: string;
  annotations: Readonly<Record<string, string>> | undefined;
  /** the last observed value (NaN: no data) */
  value: number;
  /** the last value that was a number, reported when a label set resolves on NaN or staleness */
  lastNumber: number;
  lastSeenMs: number;
  phase: Phase;
  /** pending: when the condition began; firing: startsAt */
  sinceMs: number;
  /** firing: when the condition became clear (NaN while it is not) */
  clearSinceMs: number;
}

function invalid(rule: string, key: string, message: string, value: unknown): MlfpError {
  return new MlfpError('config_invalid', `alerts.rules.${rule}.${key} ${message}`, {
    field: `alerts.rules.${rule}.${key}`,
    value,
  });
}

function nonNegativeMs(rule: string, key: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0))
    throw invalid(rule, key, 'must be a finite number >= 0', value);
  return value;
}

export class AlertRule {
  readonly name: string;
  readonly type: AlertType;
  readonly severity: AlertSeverity;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly fireAt: number;
  readonly resolveBelow: number;
  readonly direction: 'above' | 'below';
  readonly staleAfterMs: number;
  readonly maxLabelSets: number;
  private readonly description: string | undefined;
  private readonly series = new Map<string, Series>();
  private overflowCount = 0;
  /** observations refused since the last evaluation (raises the overflow alert) */
  private overflowSinceEvaluation = 0;
  /** startsAt of the rule's own overflow alert while it fires, else NaN */
  private overflowFiringSinceMs = Number.NaN;

  constructor(spec: AlertRuleSpec) {
    const name = spec.name;
    if (typeof name !== 'string' || name.trim() === '')
      throw new MlfpError('config_invalid', 'alerts.rules: a rule needs a non-empty name', {
        field: 'alerts.rules.name',
        value: name,
      });
    this.name = name;
    if (!TYPES.has(spec.type))
      throw invalid(name, 'type', `must be one of ${[...TYPES].join(', ')}`, spec.type);
    this.type = spec.type;
    if (!SEVERITIES.has(spec.severity))
      throw invalid(name, 'severity', `must be one of ${[...SEVERITIES].join(', ')}`, spec.severity);
    this.severity = spec.severity;
    this.forMs = nonNegativeMs(name, 'forMs', spec.forMs);
    this.keepFiringForMs = nonNegativeMs(name, 'keepFiringForMs', spec.keepFiringForMs);
    const direction = spec.direction ?? 'above';
    if (direction !== 'above' && direction !== 'below')
      throw invalid(name, 'direction', "must be 'above' or 'below'", direction);
    this.direction = direction;
    if (!Number.isFinite(spec.fireAt)) throw invalid(name, 'fireAt', 'must be a finite number', spec.fireAt);
    this.fireAt = spec.fireAt;
    if (!Number.isFinite(spec.resolveBelow))
      throw invalid(name, 'resolveBelow', 'must be a finite number', spec.resolveBelow);
    if (direction === 'above' ? spec.resolveBelow > spec.fireAt : spec.resolveBelow < spec.fireAt)
      throw invalid(
        name,
        'resolveBelow',
        `must be ${direction === 'above' ? '<=' : '>='} fireAt (${spec.fireAt}) for direction '${direction}'`,
        spec.resolveBelow,
      );
    this.resolveBelow = spec.resolveBelow;
    const staleAfterMs = spec.staleAfterMs ?? STALE_FACTOR * Math.max(this.forMs, MIN_STALE_BASE_MS);
    if (!(Number.isFinite(staleAfterMs) && staleAfterMs > 0))
      throw invalid(name, 'staleAfterMs', 'must be a finite number > 0', staleAfterMs);
    this.staleAfterMs = staleAfterMs;
    const maxLabelSets = spec.maxLabelSets ?? DEFAULT_MAX_LABEL_SETS;
    if (!(Number.isInteger(maxLabelSets) && maxLabelSets >= 1))
      throw invalid(name, 'maxLabelSets', 'must be an integer >= 1', maxLabelSets);
    this.maxLabelSets = maxLabelSets;
    this.description = spec.description;
  }

  /** Label sets tracked now (inactive ones until they go stale included). */
  get size(): number {
    return this.series.size;
  }

  /** Observations refused because `maxLabelSets` label sets were tracked (a counter, never reset). */
  get overflow(): number {
    return this.overflowCount;
  }

  /**
   * Records the current value of one label set (NaN: no data). O(size of the labels). `labels` and
   * `annotations` are kept by reference: pass objects that are not mutated afterwards.
   */
  observe(
    labels: Readonly<Record<string, string>>,
    value: number,
    nowMs: number,
    annotations?: Readonly<Record<string, string>>,
  ): void {
    const key = alertFingerprint(labels);
    let series = this.series.get(key);
    if (series === undefined) {
      if (Number.isNaN(value)) return; // no data for a label set never seen: nothing to track
      if (this.series.size >= this.maxLabelSets) {
        this.overflowCount++;
        this.overflowSinceEvaluation++;
        return;
      }
      const subject = labels['subject'] ?? this.name;
      series = {
        labels,
        fingerprint: alertFingerprint(
          alertmanagerLabels({ rule: this.name, type: this.type, severity: this.severity, subject, labels }),
        ),
        subject,
        annotations,
        value,
        lastNumber: value,
        lastSeenMs: nowMs,
        phase: 'inactive',
        sinceMs: Number.NaN,
        clearSinceMs: Number.NaN,
      };
      this.series.set(key, series);
    }
    series.value = value;
    if (!Number.isNaN(value)) {
      // NaN is no data: it neither fires nor resolves, and it does not keep the label set from going stale
      series.lastNumber = value;
      series.lastSeenMs = nowMs;
    }
    if (annotations !== undefined) series.annotations = annotations;
  }

  /** Advances every label set to `nowMs`, emitting each firing and each resolution once. O(label sets). */
  evaluate(nowMs: number, emit: (alert: Alert) => void): void {
    for (const [key, series] of this.series) {
      const stale = nowMs - series.lastSeenMs >= this.staleAfterMs;
      if (series.phase === 'firing') {
        if (stale) {
          emit(this.resolved(series, nowMs, `no data for ${this.staleAfterMs} ms`));
          this.series.delete(key);
          continue;
        }
        // no data (NaN) neither starts nor resets the clear timer: a gap in a model's predictions does not hold
        // off a resolution that was under way, nor begin one
        if (Number.isNaN(series.value)) {
          if (!Number.isNaN(series.clearSinceMs) && nowMs - series.clearSinceMs >= this.keepFiringForMs) {
            emit(this.resolved(series, nowMs, this.clearText(series.lastNumber)));
            series.phase = 'inactive';
            series.sinceMs = Number.NaN;
            series.clearSinceMs = Number.NaN;
          }
          continue;
        }
        if (!this.clear(series.value)) {
          series.clearSinceMs = Number.NaN;
          continue;
        }
        if (Number.isNaN(series.clearSinceMs)) series.clearSinceMs = nowMs;
        if (nowMs - series.clearSinceMs >= this.keepFiringForMs) {
          emit(this.resolved(series, nowMs, this.clearText(series.value)));
          series.phase = 'inactive';
          series.sinceMs = Number.NaN;
          series.clearSinceMs = Number.NaN;
        }
        continue;
      }
      if (stale) {
        this.series.delete(key);
        continue;
      }
      if (!this.fires(series.value)) {
        series.phase = 'inactive'; // a pending alert whose condition broke is cancelled, unannounced
        series.sinceMs = Number.NaN;
        continue;
      }
      if (series.phase === 'inactive') {
        series.phase = 'pending';
        series.sinceMs = nowMs;
      }
      if (nowMs - series.sinceMs >= this.forMs) {
        series.phase = 'firing';
        series.sinceMs = nowMs;
        series.clearSinceMs = Number.NaN;
        emit(this.firing(series, nowMs));
      }
    }
    this.evaluateOverflow(nowMs, emit);
  }

  /** Pending and firing label sets. */
  active(): ActiveAlert[] {
    const active: ActiveAlert[] = [];
    for (const series of this.series.values()) {
      if (series.phase === 'inactive') continue;
      active.push({
        labels: series.labels,
        fingerprint: series.fingerprint,
        state: series.phase,
        since: series.sinceMs,
        value: series.value,
      });
    }
    return active;
  }

  private fires(value: number): boolean {
    return this.direction === 'above' ? value >= this.fireAt : value <= this.fireAt; // false for NaN
  }

  private clear(value: number): boolean {
    return this.direction === 'above' ? value < this.resolveBelow : value > this.resolveBelow; // false for NaN
  }

  private clearText(value: number): string {
    return `${value} ${this.direction === 'above' ? '<' : '>'} ${this.resolveBelow}`;
  }

  private annotations(series: Series): Readonly<Record<string, string>> | undefined {
    if (this.description === undefined) return series.annotations;
    return { description: this.description, ...series.annotations };
  }

  private firing(series: Series, nowMs: number): Alert {
    const alert: Alert = {
      type: this.type,
      state: 'firing',
      severity: this.severity,
      subject: series.subject,
      value: series.value,
      threshold: this.fireAt,
      ts: nowMs,
      message: `${this.name} ${series.subject}: ${series.value} ${this.direction === 'above' ? '>=' : '<='} ${this.fireAt}`,
      rule: this.name,
      labels: series.labels,
      fingerprint: series.fingerprint,
      startsAt: nowMs,
    };
    const annotations = this.annotations(series);
    if (annotations !== undefined) alert.annotations = annotations;
    return alert;
  }

  private resolved(series: Series, nowMs: number, why: string): Alert {
    const alert: Alert = {
      type: this.type,
      state: 'resolved',
      severity: this.severity,
      subject: series.subject,
      value: series.lastNumber,
      threshold: this.fireAt,
      ts: nowMs,
      message: `${this.name} ${series.subject} resolved: ${why}`,
      rule: this.name,
      labels: series.labels,
      fingerprint: series.fingerprint,
      startsAt: series.sinceMs,
    };
    const annotations = this.annotations(series);
    if (annotations !== undefined) alert.annotations = annotations;
    return alert;
  }

  /**
   * The rule's own `system` alert for refused label sets: fires at the first evaluation after an overflow,
   * resolves at the first evaluation with none since the last one and room again.
   */
  private evaluateOverflow(nowMs: number, emit: (alert: Alert) => void): void {
    const overflowed = this.overflowSinceEvaluation > 0;
    this.overflowSinceEvaluation = 0;
    const firing = !Number.isNaN(this.overflowFiringSinceMs);
    if (overflowed && !firing) {
      this.overflowFiringSinceMs = nowMs;
      emit(this.overflowAlert('firing', nowMs));
    } else if (!overflowed && firing && this.series.size < this.maxLabelSets) {
      emit(this.overflowAlert('resolved', nowMs));
      this.overflowFiringSinceMs = Number.NaN;
    }
  }

  private overflowAlert(state: 'firing' | 'resolved', nowMs: number): Alert {
    const rule = 'AlertRuleLabelSetsOverflow';
    const subject = `rule:${this.name}`;
    const labels = { rule: this.name };
    const text =
      state === 'firing'
        ? `more than ${this.maxLabelSets} label sets; observations of new ones are dropped`
        : 'room for new label sets again';
    return {
      type: 'system',
      state,
      severity: 'warning',
      subject,
      value: this.overflowCount,
      threshold: this.maxLabelSets,
      ts: nowMs,
      message: `alert rule ${this.name}: ${text} (${this.overflowCount} dropped so far)`,
      rule,
      labels,
      fingerprint: alertFingerprint(
        alertmanagerLabels({ rule, type: 'system', severity: 'warning', subject, labels }),
      ),
      startsAt: this.overflowFiringSinceMs,
    };
  }
}

// Alerts as Alertmanager's webhook receivers read them: the version 4 JSON that Alertmanager's webhook_config
// POSTs (notify/webhook Message over template.Data), so any receiver written for Alertmanager (PagerDuty and
// Slack bridges, incident tools, our own scripts) takes the engine's alerts unchanged.

import type { Alert, AlertSeverity, AlertType } from '../../domain/types.js';
import { alertFingerprint, compareCodePoints } from './fingerprint.js';

/** Alertmanager's endsAt for an alert that has not ended (Go's zero time). */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface AlertmanagerAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339 */
  startsAt: string;
  /** RFC 3339; ZERO_TIME while firing */
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** The body of one POST, field for field Alertmanager's (and in its order). */
export interface WebhookPayload {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: AlertmanagerAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
}

export interface WebhookPayloadOptions {
  /** the receiver's name, as in an Alertmanager route */
  receiver: string;
  /** backlink to the engine (its public API base) */
  externalURL: string;
  /** default `{}:{alertname="…"}` (Alertmanager's form for the root route grouped by alertname) */
  groupKey?: string;
  /** where each alert links to; default externalURL */
  generatorURL?: string;
}

/** What identifies an alert: its rule's name and settings and the label set it is about. */
export interface AlertIdentity {
  /** the rule's name (Alertmanager's `alertname`) */
  rule: string;
  type: AlertType;
  severity: AlertSeverity;
  subject: string;
  labels?: Readonly<Record<string, string>> | undefined;
}

/**
 * The Alertmanager label set of an alert: its own labels, then type, severity, subject and alertname, which
 * win over labels of the same name (as a Prometheus rule's labels win over the series'). The fingerprint is
 * computed over exactly this set.
 */
export function alertmanagerLabels(identity: AlertIdentity): Record<string, string> {
  return {
    ...identity.labels,
    type: identity.type,
    severity: identity.severity,
    subject: identity.subject,
    alertname: identity.rule,
  };
}

/** An alert's identity; alerts raised outside a rule (data quality) are named after their type. */
function identityOf(alert: Alert): AlertIdentity {
  return {
    rule: alert.rule ?? alert.type,
    type: alert.type,
    severity: alert.severity,
    subject: alert.subject,
    labels: alert.labels,
  };
}

const rfc3339 = (epochMs: number): string => new Date(epochMs).toISOString();

function toAlertmanager(alert: Alert, generatorURL: string): AlertmanagerAlert {
  const labels = alertmanagerLabels(identityOf(alert));
  const summary =
    alert.message ?? `${alert.subject}: ${alert.type} ${alert.value} (threshold ${alert.threshold})`;
  const firing = alert.state === 'firing';
  return {
    status: alert.state,
    labels,
    annotations: {
      summary,
      value: String(alert.value),
      threshold: String(alert.threshold),
      ...alert.annotations,
    },
    startsAt: rfc3339(alert.startsAt ?? alert.ts),
    endsAt: firing ? ZERO_TIME : rfc3339(alert.ts),
    generatorURL,
    fingerprint: alert.fingerprint ?? alertFingerprint(labels),
  };
}

/** The pairs every record has with the same value (template.Data's commonLabels / commonAnnotations). */
function common(records: readonly Record<string, string>[]): Record<string, string> {
  const first = records[0];
  if (first === undefined) return {};
  const shared: Record<string, string> = { ...first };
  for (const record of records.slice(1))
    for (const [name, value] of Object.entries(shared)) if (record[name] !== value) delete shared[name];
  return shared;
}

/** Go's LabelSet.String(): `{a="x", b="y"}`, names sorted. */
function labelSetString(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.keys(labels)
    .sort(compareCodePoints)
    .map((name) => `${name}=${JSON.stringify(labels[name])}`);
  return `{${pairs.join(', ')}}`;
}

/** The Alertmanager webhook (version 4) body for `alerts`: firing when any of them is. */
export function webhookPayload(alerts: readonly Alert[], options: WebhookPayloadOptions): WebhookPayload {
  const generatorURL = options.generatorURL ?? options.externalURL;
  const converted = alerts.map((alert) => toAlertmanager(alert, generatorURL));
  const commonLabels = common(converted.map((alert) => alert.labels));
  const alertname = commonLabels['alertname'];
  const groupLabels: Record<string, string> = alertname === undefined ? {} : { alertname };
  return {
    receiver: options.receiver,
    status: converted.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
    alerts: converted,
    groupLabels,
    commonLabels,
    commonAnnotations: common(converted.map((alert) => alert.annotations)),
    externalURL: options.externalURL,
    version: '4',
    groupKey: options.groupKey ?? `{}:${labelSetString(groupLabels)}`,
    truncatedAlerts: 0,
  };
}

import { describe, expect, it } from 'vitest';
import type { Alert } from '../../domain/types.js';
import { ZERO_TIME, alertmanagerLabels, webhookPayload } from './alertmanager.js';
import { alertFingerprint } from './fingerprint.js';
import { AlertRule } from './rule.js';

const OPTIONS = { receiver: 'ops', externalURL: 'https://mlfp.example.com' };

/** A firing and a resolved alert of one rule, as AlertRule emits them. */
function ruleAlerts(): [Alert, Alert] {
  const rule = new AlertRule({
    name: 'FeatureDrift',
    type: 'drift',
    severity: 'warning',
    forMs: 0,
    keepFiringForMs: 0,
    fireAt: 0.25,
    resolveBelow: 0.2,
    description: 'PSI over the bound',
  });
  const alerts: Alert[] = [];
  rule.observe({ subject: 'model-a@1', feature: 'rsi_14' }, 0.4, Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  rule.observe({ subject: 'model-b@1', feature: 'rsi_14' }, 0.3, Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  rule.evaluate(Date.UTC(2026, 0, 2, 3, 4, 5, 678), (alert) => alerts.push(alert));
  rule.observe({ subject: 'model-b@1', feature: 'rsi_14' }, 0.1, Date.UTC(2026, 0, 2, 3, 9, 0));
  alerts.length = 1;
  rule.evaluate(Date.UTC(2026, 0, 2, 3, 9, 0), (alert) => alerts.push(alert));
  return alerts as [Alert, Alert];
}

describe('webhookPayload', () => {
  it("is Alertmanager's webhook version 4 body, field for field", () => {
    const [firing, resolved] = ruleAlerts();
    const payload = webhookPayload([firing, resolved], OPTIONS);
    expect(Object.keys(payload)).toStrictEqual([
      'receiver',
      'status',
      'alerts',
      'groupLabels',
      'commonLabels',
      'commonAnnotations',
      'externalURL',
      'version',
      'groupKey',
      'truncatedAlerts',
    ]);
    expect(payload).toMatchObject({
      receiver: 'ops',
      status: 'firing',
      groupLabels: { alertname: 'FeatureDrift' },
      commonLabels: { alertname: 'FeatureDrift', type: 'drift', severity: 'warning', feature: 'rsi_14' },
      commonAnnotations: { description: 'PSI over the bound', threshold: '0.25' },
      externalURL: 'https://mlfp.example.com',
      version: '4',
      groupKey: '{}:{alertname="FeatureDrift"}',
      truncatedAlerts: 0,
    });
    expect(payload.alerts[0]).toStrictEqual({
      status: 'firing',
      labels: {
        alertname: 'FeatureDrift',
        feature: 'rsi_14',
        severity: 'warning',
        subject: 'model-a@1',
        type: 'drift',
      },
      annotations: {
        summary: 'FeatureDrift model-a@1: 0.4 >= 0.25',
        description: 'PSI over the bound',
        value: '0.4',
        threshold: '0.25',
      },
      startsAt: '2026-01-02T03:04:05.678Z',
      endsAt: ZERO_TIME,
      generatorURL: 'https://mlfp.example.com',
      fingerprint: firing.fingerprint,
    });
    expect(payload.alerts[1]).toMatchObject({
      status: 'resolved',
      startsAt: '2026-01-02T03:04:05.678Z',
      endsAt: '2026-01-02T03:09:00.000Z',
      fingerprint: resolved.fingerprint,
    });
  });

  it("gives each alert the fingerprint of its payload labels (the rule's own, computed once)", () => {
    const [firing, resolved] = ruleAlerts();
    for (const alert of webhookPayload([firing, resolved], OPTIONS).alerts)
      expect(alert.fingerprint).toBe(alertFingerprint(alert.labels));
    expect(firing.fingerprint).not.toBe(resolved.fingerprint);
  });

  it('is resolved when no alert fires, and empty groups when alertnames differ', () => {
    const [, resolved] = ruleAlerts();
    const quality: Alert = {
      type: 'system',
      state: 'resolved',
      severity: 'warning',
      subject: 'source:t[3]:late',
      value: 0.02,
      threshold: 0.05,
      ts: 5_000,
    };
    const payload = webhookPayload([resolved, quality], { ...OPTIONS, groupKey: 'engine-1' });
    expect(payload).toMatchObject({ status: 'resolved', groupLabels: {}, groupKey: 'engine-1' });
    expect(payload.commonLabels).toStrictEqual({ severity: 'warning' });
    // an alert raised outside a rule (data quality) is named after its type, fingerprinted on the way out
    expect(payload.alerts[1]).toMatchObject({
      labels: { alertname: 'system', type: 'system', severity: 'warning', subject: 'source:t[3]:late' },
      annotations: { summary: 'source:t[3]:late: system 0.02 (threshold 0.05)' },
      startsAt: '1970-01-01T00:00:05.000Z',
      endsAt: '1970-01-01T00:00:05.000Z',
    });
    expect(payload.alerts[1]!.fingerprint).toBe(alertFingerprint(payload.alerts[1]!.labels));
    expect(webhookPayload([], OPTIONS)).toMatchObject({ status: 'resolved', alerts: [], groupKey: '{}:{}' });
  });

  it("lets the rule's identity win over a label of the same name", () => {
    expect(
      alertmanagerLabels({
        rule: 'R',
        type: 'latency',
        severity: 'critical',
        subject: 's',
        labels: { alertname: 'x', severity: 'info', zone: 'eu' },
      }),
    ).toStrictEqual({ alertname: 'R', severity: 'critical', zone: 'eu', type: 'latency', subject: 's' });
  });

  it('quotes group label values as Go does', () => {
    const [firing] = ruleAlerts();
    const odd = { ...firing, rule: 'say "hi"', fingerprint: undefined };
    expect(webhookPayload([odd], OPTIONS).groupKey).toBe('{}:{alertname="say \\"hi\\""}');
  });
});

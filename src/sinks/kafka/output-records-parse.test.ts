import { describe, expect, it } from 'vitest';
import {
  FEATURE_COUNT,
  type Alert,
  type Bar,
  type FeatureVector,
  type Prediction,
} from '../../domain/types.js';
import { alertValue, barValue, featuresValue, predictionValue } from './kafka-records.js';
import { parseOutputValue } from './output-records-parse.js';

const TS = Date.UTC(2024, 2, 4, 14, 5);

describe('parseOutputValue: what kafka-records.ts writes, read back', () => {
  it('round-trips an alert of the alert lifecycle with its rule, labels, fingerprint, startsAt, annotations', () => {
    const alert: Alert = {
      type: 'drift',
      state: 'resolved',
      severity: 'warning',
      subject: 'xgb-direction@1.0.0 input:rsi_14',
      value: 0.12,
      threshold: 0.25,
      ts: TS + 60_000,
      message: 'DataDriftPSI: 0.12 < 0.15',
      rule: 'DataDriftPSI',
      labels: { model: 'xgb-direction', input: 'input:rsi_14', detector: 'psi' },
      fingerprint: '0123456789abcdef',
      startsAt: TS,
      annotations: { error_detector: 'quiet' },
    };
    expect(parseOutputValue('alert', alertValue(alert))).toEqual({ kind: 'alert', value: alert });
    const performance: Alert = { ...alert, type: 'performance', rule: 'ConceptDrift' };
    expect(parseOutputValue('alert', alertValue(performance))).toEqual({ kind: 'alert', value: performance });
    expect(parseOutputValue('alert', alertValue({ ...alert, fingerprint: 'not-hex' })).kind).toBe('refused');
  });

  it('round-trips bars, feature vectors, predictions and alerts', () => {
    const bar: Bar = {
      symbol: 'AAPL',
      timeframe: '5m',
      ts: TS,
      end: TS + 300_000,
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 10,
      vwap: 1.25,
      trades: 3,
      revision: 1,
    };
    expect(parseOutputValue('bar', barValue(bar))).toEqual({ kind: 'bar', value: bar });
    const values = new Float64Array(FEATURE_COUNT).map((_, i) => (i === 3 ? Number.NaN : i * 0.5));
    const vector: FeatureVector = {
      symbol: 'AAPL',
      timeframe: '1h',
      ts: TS,
      revision: 0,
      close: 1.5,
      values,
    };
    const parsed = parseOutputValue('features', featuresValue(vector));
    expect(parsed.kind).toBe('features');
    expect(parsed.kind === 'features' && [...parsed.value.values]).toEqual([...values]);
    const prediction: Prediction = {
      symbol: 'AAPL',
      timeframe: '5m',
      ts: TS,
      model: 'm',
      version: '1',
      kind: 'classifier',
      output: { label: 'up', p_up: 0.6, p_down: 0.4 },
      latencyMs: 2,
    };
    expect(parseOutputValue('prediction', predictionValue(prediction))).toEqual({
      kind: 'prediction',
      value: prediction,
    });
    const alert: Alert = {
      type: 'model_error',
      state: 'firing',
      severity: 'critical',
      subject: 'm@1',
      value: 3,
      threshold: 0,
      ts: TS,
      message: 'boom',
    };
    expect(parseOutputValue('alert', alertValue(alert))).toEqual({ kind: 'alert', value: alert });
  });

  it.each([
    ['not JSON', 'bar', '{', /not JSON/],
    ['a missing field', 'bar', '{"symbol":"A","timeframe":"5m"}', /ts/],
    [
      'a bad time',
      'prediction',
      '{"symbol":"A","timeframe":"5m","ts":"soon","model":"m","version":"1","kind":"regressor","output":{},"latencyMs":1}',
      /ts: not a time/,
    ],
    [
      'an unknown timeframe',
      'bar',
      barValue({
        symbol: 'A',
        timeframe: '5m',
        ts: TS,
        end: TS,
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
        vwap: 1,
        trades: 1,
        revision: 0,
      }).replace('"5m"', '"2m"'),
      /timeframe/,
    ],
    [
      'an alert of an unknown type',
      'alert',
      '{"type":"party","state":"firing","severity":"info","subject":"s","value":1,"threshold":0,"ts":0}',
      /type/,
    ],
  ] as const)('refuses %s with the reason, never throwing', (_name, kind, text, reason) => {
    const parsed = parseOutputValue(kind, text);
    expect(parsed.kind).toBe('refused');
    expect(parsed.kind === 'refused' && parsed.reason).toMatch(reason);
  });
});

// The output topics read back (the public API of another instance, `mlfp serve`): each JSON value that
// kafka-records.ts writes, parsed and checked into the engine's record again. Anything else — a foreign
// producer, a truncated value — is refused with the reason, never thrown.

import { z } from 'zod';
import {
  FEATURE_COLUMNS,
  FEATURE_COUNT,
  type Alert,
  type Bar,
  type FeatureVector,
  type Prediction,
} from '../../domain/types.js';

const time = z.union([z.string(), z.number()]).transform((value, context) => {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) context.addIssue({ code: 'custom', message: 'not a time' });
  return ms;
});
const timeframe = z.enum(['5m', '1h', '1d']);
const symbol = z.string().min(1).max(64);
const num = z.number().finite();

const barSchema = z.object({
  symbol,
  timeframe,
  ts: time,
  end: time,
  open: num,
  high: num,
  low: num,
  close: num,
  volume: num,
  vwap: num,
  trades: z.number().int().min(0),
  revision: z.number().int().min(0),
});

const featuresSchema = z.object({
  symbol,
  timeframe,
  ts: time,
  revision: z.number().int().min(0),
  close: num,
  features: z.record(z.string(), z.number().finite().nullable()),
});

const predictionSchema = z.object({
  symbol,
  timeframe,
  ts: time,
  model: z.string().min(1).max(64),
  version: z.string().min(1).max(64),
  kind: z.enum(['classifier', 'regressor', 'sequence']),
  output: z.record(z.string(), z.union([z.number(), z.string()])),
  latencyMs: num,
});

const alertSchema = z.object({
  type: z.enum(['drift', 'latency', 'model_error', 'system', 'performance']),
  state: z.enum(['firing', 'resolved']),
  severity: z.enum(['info', 'warning', 'critical']),
  subject: z.string().min(1).max(256),
  value: num,
  threshold: num,
  ts: time,
  message: z.string().max(4_000).optional(),
  // the alert lifecycle's fields (src/monitoring/alerts/), absent on data-quality alerts
  rule: z.string().min(1).max(256).optional(),
  labels: z.record(z.string().max(256), z.string().max(1_024)).optional(),
  fingerprint: z
    .string()
    .regex(/^[0-9a-f]{16}$/u)
    .optional(),
  startsAt: time.optional(),
  annotations: z.record(z.string().max(256), z.string().max(4_000)).optional(),
});

export type ParsedOutput =
  | { kind: 'bar'; value: Bar }
  | { kind: 'features'; value: FeatureVector }
  | { kind: 'prediction'; value: Prediction }
  | { kind: 'alert'; value: Alert }
  | { kind: 'refused'; reason: string };

export type OutputTopicKind = 'bar' | 'features' | 'prediction' | 'alert';

/** Parses one output-topic value of the given kind. */
export function parseOutputValue(kind: OutputTopicKind, text: string): ParsedOutput {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'refused', reason: 'not JSON' };
  }
  const refused = (error: z.ZodError): ParsedOutput => {
    const issue = error.issues[0];
    return { kind: 'refused', reason: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}` };
  };
  switch (kind) {
    case 'bar': {
      const parsed = barSchema.safeParse(raw);
      return parsed.success ? { kind, value: parsed.data } : refused(parsed.error);
    }
    case 'features': {
      const parsed = featuresSchema.safeParse(raw);
      if (!parsed.success) return refused(parsed.error);
      const values = new Float64Array(FEATURE_COUNT);
      for (let i = 0; i < FEATURE_COUNT; i++)
        values[i] = parsed.data.features[FEATURE_COLUMNS[i]!] ?? Number.NaN;
      const { features: _features, ...rest } = parsed.data;
      return { kind, value: { ...rest, values } };
    }
    case 'prediction': {
      const parsed = predictionSchema.safeParse(raw);
      return parsed.success ? { kind, value: parsed.data } : refused(parsed.error);
    }
    case 'alert': {
      const parsed = alertSchema.safeParse(raw);
      if (!parsed.success) return refused(parsed.error);
      // optional fields the record lacks stay absent (not undefined-valued keys)
      const value: Alert = { ...parsed.data };
      for (const key of Object.keys(value) as Array<keyof Alert>)
        if (value[key] === undefined) delete value[key];
      return { kind, value };
    }
  }
}

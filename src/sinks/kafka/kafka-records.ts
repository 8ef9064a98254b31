// Engine records as Kafka records: topic, key (symbol; alerts: subject; dead letters: source topic-partition)
// and the JSON value documented in src/sinks/README.md. Times are ISO-8601 in payloads; the record timestamp is
// left to the producer (time of production), so replayed history is not aged out by time-based retention.

import type {
  Alert,
  Bar,
  DeadLetter,
  FeatureVector,
  LabelRecord,
  PerformanceRecord,
  Prediction,
  Timeframe,
} from '../../domain/types.js';
import { FEATURE_COLUMNS, FEATURE_COUNT } from '../../domain/types.js';

export interface OutputRecord {
  topic: string;
  key: string | null;
  value: string;
}

/** ISO-8601 for valid epoch-ms times; anything else passes through as the number (or null), never throws. */
export function isoOrNumber(ms: number): string | number | null {
  if (!Number.isFinite(ms)) return null;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? ms : date.toISOString();
}

export function topicFor(template: string, timeframe: Timeframe): string {
  return template.replace('{timeframe}', timeframe);
}

export function barValue(bar: Bar): string {
  return JSON.stringify({
    symbol: bar.symbol,
    timeframe: bar.timeframe,
    ts: isoOrNumber(bar.ts),
    end: isoOrNumber(bar.end),
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    vwap: bar.vwap,
    trades: bar.trades,
    revision: bar.revision,
  });
}

/** Features by name; undefined values (warm-up, NaN) are null. */
export function featuresValue(vector: FeatureVector): string {
  const features: Record<string, number | null> = {};
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const value = vector.values[i];
    features[FEATURE_COLUMNS[i] as string] = value !== undefined && Number.isFinite(value) ? value : null;
  }
  return JSON.stringify({
    symbol: vector.symbol,
    timeframe: vector.timeframe,
    ts: isoOrNumber(vector.ts),
    revision: vector.revision,
    close: vector.close,
    features,
  });
}

export function predictionValue(prediction: Prediction): string {
  return JSON.stringify({
    symbol: prediction.symbol,
    timeframe: prediction.timeframe,
    ts: isoOrNumber(prediction.ts),
    model: prediction.model,
    version: prediction.version,
    kind: prediction.kind,
    output: prediction.output,
    latencyMs: prediction.latencyMs,
  });
}

export function alertValue(alert: Alert): string {
  const value: Record<string, unknown> = {
    type: alert.type,
    state: alert.state,
    severity: alert.severity,
    subject: alert.subject,
    value: alert.value,
    threshold: alert.threshold,
    ts: isoOrNumber(alert.ts),
  };
  if (alert.message !== undefined) value['message'] = bounded(alert.message);
  if (alert.rule !== undefined) value['rule'] = alert.rule;
  if (alert.labels !== undefined) value['labels'] = alert.labels;
  if (alert.fingerprint !== undefined) value['fingerprint'] = alert.fingerprint;
  if (alert.startsAt !== undefined) value['startsAt'] = isoOrNumber(alert.startsAt);
  if (alert.annotations !== undefined) value['annotations'] = alert.annotations;
  return JSON.stringify(value);
}

/** A non-finite number as null (JSON has no NaN). */
const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

export function labelValue(label: LabelRecord): string {
  const value: Record<string, unknown> = {
    symbol: label.symbol,
    timeframe: label.timeframe,
    ts: isoOrNumber(label.ts),
    model: label.model,
    version: label.version,
    kind: label.kind,
    horizonBars: label.horizonBars,
    labelTs: isoOrNumber(label.labelTs),
    state: label.state,
    revision: label.revision,
    realisedReturn: finiteOrNull(label.realisedReturn),
    actual: typeof label.actual === 'number' ? finiteOrNull(label.actual) : label.actual,
    predicted: typeof label.predicted === 'number' ? finiteOrNull(label.predicted) : label.predicted,
  };
  if (label.reason !== undefined) value['reason'] = label.reason;
  return JSON.stringify(value);
}

export function performanceValue(record: PerformanceRecord): string {
  const metrics: Record<string, number | null> = {};
  for (const [name, number] of Object.entries(record.metrics)) metrics[name] = finiteOrNull(number);
  return JSON.stringify({
    model: record.model,
    version: record.version,
    kind: record.kind,
    timeframe: record.timeframe,
    ts: isoOrNumber(record.ts),
    count: record.count,
    metrics,
    errorDrift: {
      statistic: finiteOrNull(record.errorDrift.statistic),
      threshold: finiteOrNull(record.errorDrift.threshold),
      alarm: record.errorDrift.alarm,
    },
  });
}

/** Longest text field kept in a DLQ record (message, value, field, file). */
export const MAX_DEAD_LETTER_TEXT = 4_000;
const bounded = (text: string): string =>
  text.length > MAX_DEAD_LETTER_TEXT ? `${text.slice(0, MAX_DEAD_LETTER_TEXT - 1)}…` : text;

/**
 * The DLQ record: reason, field/value/message, source coordinates, and the original bytes as base64 — at most
 * `maxOriginalBytes` of them; `originalBytes` always has the full length and `truncated: true` says some were
 * dropped. With the 64 KiB default a record stays under ~100 KB, far below Kafka's 1 MB message limit.
 */
export function deadLetterValue(letter: DeadLetter, maxOriginalBytes: number): string {
  const value: Record<string, unknown> = { reason: letter.reason };
  if (letter.field !== undefined) value['field'] = bounded(letter.field);
  if (letter.value !== undefined) value['value'] = bounded(letter.value);
  value['message'] = bounded(letter.message);
  const source = letter.source;
  value['topic'] = source?.topic ?? null;
  value['partition'] = source?.partition ?? null;
  value['offset'] = source?.offset ?? null;
  if (source?.file !== undefined) value['file'] = bounded(source.file);
  if (source?.line !== undefined) value['line'] = source.line;
  const original = letter.original;
  if (original === undefined) value['original'] = null;
  else {
    const bytes =
      typeof original === 'string'
        ? Buffer.from(original, 'utf8')
        : Buffer.from(original.buffer, original.byteOffset, original.byteLength);
    value['original'] = bytes.subarray(0, maxOriginalBytes).toString('base64');
    value['originalBytes'] = bytes.length;
    if (bytes.length > maxOriginalBytes) value['truncated'] = true;
  }
  return JSON.stringify(value);
}

export function deadLetterKey(letter: DeadLetter): string | null {
  const source = letter.source;
  return source?.topic !== undefined && source.partition !== undefined
    ? `${source.topic}/${source.partition}`
    : null;
}

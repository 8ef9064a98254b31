// Engine records as PostgreSQL rows: the bars, features, predictions and alerts codecs (COPY text, COPY binary,
// UNNEST columns). NaN never reaches the database: undefined features are NULL, a non-finite bar price refuses
// the record. Re-exports the codec contract, value helpers, dead-letter and monitoring (labels, performance) rows
// kept in their own files.

import type { Alert, Bar, FeatureVector, Prediction } from '../../domain/types.js';
import { FEATURE_COUNT } from '../../domain/types.js';
import type { RowCodec } from './postgres-row-codec.js';
import { TABLES } from './postgres-tables.js';
import {
  arrayText,
  copyText,
  finite,
  finiteValue,
  int4Value,
  int8Value,
  integer,
  isoTime,
  jsonValue,
  NULL_TEXT,
  optionalIsoTime,
  optionalJson,
  optionalNumber,
  optionalNumberText,
  optionalText,
  rejected,
  optionalTimeValue,
  safeIso,
  timeValue,
} from './postgres-values.js';

export {
  deadLetterCodec,
  deadLetterKey,
  originalBytes,
  type KeyedDeadLetter,
} from './postgres-dead-letter-rows.js';
export { labelCodec, performanceCodec } from './postgres-monitoring-rows.js';
export { latestPerKey, type RowCodec } from './postgres-row-codec.js';
export { copyText, isoTime, jsonValue } from './postgres-values.js';

const describeBar = (bar: Bar): string =>
  `${bar.symbol} ${bar.timeframe} ${safeIso(bar.ts)} revision ${bar.revision}`;
const describeVector = (vector: FeatureVector): string =>
  `${vector.symbol} ${vector.timeframe} ${safeIso(vector.ts)} revision ${vector.revision}`;
const describePrediction = (p: Prediction): string =>
  `${p.model}@${p.version} ${p.symbol} ${p.timeframe} ${safeIso(p.ts)}`;
const describeAlert = (a: Alert): string => `${a.type} ${a.state} ${a.subject} ${safeIso(a.ts)}`;

export const barCodec: RowCodec<Bar> = {
  spec: TABLES.bars,
  keyOf: (bar) => `${bar.symbol}\u0001${bar.timeframe}\u0001${bar.ts}`,
  revisionOf: (bar) => bar.revision,
  copyLine(bar) {
    return (
      `${copyText(bar.symbol)}\t${bar.timeframe}\t${isoTime(bar.ts, 'bars', bar, describeBar)}\t${isoTime(bar.end, 'bars', bar, describeBar)}\t` +
      `${finite(bar.open, 'bars', 'open', bar, describeBar)}\t${finite(bar.high, 'bars', 'high', bar, describeBar)}\t` +
      `${finite(bar.low, 'bars', 'low', bar, describeBar)}\t${finite(bar.close, 'bars', 'close', bar, describeBar)}\t` +
      `${finite(bar.volume, 'bars', 'volume', bar, describeBar)}\t${finite(bar.vwap, 'bars', 'vwap', bar, describeBar)}\t` +
      `${integer(bar.trades, 'bars', 'trades', bar, describeBar)}\t${integer(bar.revision, 'bars', 'revision', bar, describeBar)}\n`
    );
  },
  pushColumns(bar, c) {
    (c[0] as unknown[]).push(arrayText(bar.symbol));
    (c[1] as unknown[]).push(bar.timeframe);
    (c[2] as unknown[]).push(isoTime(bar.ts, 'bars', bar, describeBar));
    (c[3] as unknown[]).push(isoTime(bar.end, 'bars', bar, describeBar));
    (c[4] as unknown[]).push(finite(bar.open, 'bars', 'open', bar, describeBar));
    (c[5] as unknown[]).push(finite(bar.high, 'bars', 'high', bar, describeBar));
    (c[6] as unknown[]).push(finite(bar.low, 'bars', 'low', bar, describeBar));
    (c[7] as unknown[]).push(finite(bar.close, 'bars', 'close', bar, describeBar));
    (c[8] as unknown[]).push(finite(bar.volume, 'bars', 'volume', bar, describeBar));
    (c[9] as unknown[]).push(finite(bar.vwap, 'bars', 'vwap', bar, describeBar));
    (c[10] as unknown[]).push(integer(bar.trades, 'bars', 'trades', bar, describeBar));
    (c[11] as unknown[]).push(integer(bar.revision, 'bars', 'revision', bar, describeBar));
  },
  writeBinary(bar, w) {
    w.row(12);
    w.text(bar.symbol);
    w.text(bar.timeframe);
    w.timestamptz(timeValue(bar.ts, 'bars', bar, describeBar));
    w.timestamptz(timeValue(bar.end, 'bars', bar, describeBar));
    w.float8(finiteValue(bar.open, 'bars', 'open', bar, describeBar));
    w.float8(finiteValue(bar.high, 'bars', 'high', bar, describeBar));
    w.float8(finiteValue(bar.low, 'bars', 'low', bar, describeBar));
    w.float8(finiteValue(bar.close, 'bars', 'close', bar, describeBar));
    w.float8(finiteValue(bar.volume, 'bars', 'volume', bar, describeBar));
    w.float8(finiteValue(bar.vwap, 'bars', 'vwap', bar, describeBar));
    w.int8(int8Value(bar.trades, 'bars', 'trades', bar, describeBar));
    w.int4(int4Value(bar.revision, 'bars', 'revision', bar, describeBar));
  },
  describe: describeBar,
};

export const featuresCodec: RowCodec<FeatureVector> = {
  spec: TABLES.features,
  keyOf: (v) => `${v.symbol}\u0001${v.timeframe}\u0001${v.ts}`,
  revisionOf: (v) => v.revision,
  copyLine(v) {
    if (v.values.length !== FEATURE_COUNT)
      throw rejected('features', describeVector(v), `${v.values.length} values, expected ${FEATURE_COUNT}`);
    let line =
      `${copyText(v.symbol)}\t${v.timeframe}\t${isoTime(v.ts, 'features', v, describeVector)}\t` +
      `${integer(v.revision, 'features', 'revision', v, describeVector)}\t${finite(v.close, 'features', 'close', v, describeVector)}`;
    for (let i = 0; i < FEATURE_COUNT; i++) line += `\t${optionalNumberText(v.values[i])}`;
    return `${line}\n`;
  },
  pushColumns(v, c) {
    if (v.values.length !== FEATURE_COUNT)
      throw rejected('features', describeVector(v), `${v.values.length} values, expected ${FEATURE_COUNT}`);
    (c[0] as unknown[]).push(arrayText(v.symbol));
    (c[1] as unknown[]).push(v.timeframe);
    (c[2] as unknown[]).push(isoTime(v.ts, 'features', v, describeVector));
    (c[3] as unknown[]).push(integer(v.revision, 'features', 'revision', v, describeVector));
    (c[4] as unknown[]).push(finite(v.close, 'features', 'close', v, describeVector));
    for (let i = 0; i < FEATURE_COUNT; i++) (c[5 + i] as unknown[]).push(optionalNumber(v.values[i]));
  },
  writeBinary(v, w) {
    if (v.values.length !== FEATURE_COUNT)
      throw rejected('features', describeVector(v), `${v.values.length} values, expected ${FEATURE_COUNT}`);
    w.row(5 + FEATURE_COUNT);
    w.text(v.symbol);
    w.text(v.timeframe);
    w.timestamptz(timeValue(v.ts, 'features', v, describeVector));
    w.int4(int4Value(v.revision, 'features', 'revision', v, describeVector));
    w.float8(finiteValue(v.close, 'features', 'close', v, describeVector));
    for (let i = 0; i < FEATURE_COUNT; i++) w.finiteOrNull(v.values[i]);
  },
  describe: describeVector,
};

export const predictionCodec: RowCodec<Prediction> = {
  spec: TABLES.predictions,
  keyOf: (p) => `${p.symbol}\u0001${p.timeframe}\u0001${p.ts}\u0001${p.model}\u0001${p.version}`,
  copyLine(p) {
    return (
      `${copyText(p.symbol)}\t${p.timeframe}\t${isoTime(p.ts, 'predictions', p, describePrediction)}\t${copyText(p.model)}\t` +
      `${copyText(p.version)}\t${copyText(p.kind)}\t${copyText(jsonValue(p.output))}\t` +
      `${finite(p.latencyMs, 'predictions', 'latency_ms', p, describePrediction)}\n`
    );
  },
  pushColumns(p, c) {
    (c[0] as unknown[]).push(arrayText(p.symbol));
    (c[1] as unknown[]).push(p.timeframe);
    (c[2] as unknown[]).push(isoTime(p.ts, 'predictions', p, describePrediction));
    (c[3] as unknown[]).push(arrayText(p.model));
    (c[4] as unknown[]).push(arrayText(p.version));
    (c[5] as unknown[]).push(arrayText(p.kind));
    (c[6] as unknown[]).push(jsonValue(p.output));
    (c[7] as unknown[]).push(finite(p.latencyMs, 'predictions', 'latency_ms', p, describePrediction));
  },
  writeBinary(p, w) {
    w.row(8);
    w.text(p.symbol);
    w.text(p.timeframe);
    w.timestamptz(timeValue(p.ts, 'predictions', p, describePrediction));
    w.text(p.model);
    w.text(p.version);
    w.text(p.kind);
    w.jsonb(jsonValue(p.output));
    w.float8(finiteValue(p.latencyMs, 'predictions', 'latency_ms', p, describePrediction));
  },
  describe: describePrediction,
};

export const alertCodec: RowCodec<Alert> = {
  spec: TABLES.alerts,
  keyOf: (a) => `${a.type}\u0001${a.subject}\u0001${a.ts}\u0001${a.state}`,
  copyLine(a) {
    const labels = optionalJson(a.labels);
    const annotations = optionalJson(a.annotations);
    return (
      `${copyText(a.type)}\t${copyText(a.state)}\t${copyText(a.severity)}\t${copyText(a.subject)}\t` +
      `${optionalNumberText(a.value)}\t${optionalNumberText(a.threshold)}\t${isoTime(a.ts, 'alerts', a, describeAlert)}\t` +
      `${optionalText(a.message)}\t${optionalText(a.rule)}\t${optionalText(a.fingerprint)}\t` +
      `${labels === null ? NULL_TEXT : copyText(labels)}\t` +
      `${optionalIsoTime(a.startsAt, 'alerts', a, describeAlert) ?? NULL_TEXT}\t` +
      `${annotations === null ? NULL_TEXT : copyText(annotations)}\n`
    );
  },
  pushColumns(a, c) {
    (c[0] as unknown[]).push(arrayText(a.type));
    (c[1] as unknown[]).push(arrayText(a.state));
    (c[2] as unknown[]).push(arrayText(a.severity));
    (c[3] as unknown[]).push(arrayText(a.subject));
    (c[4] as unknown[]).push(optionalNumber(a.value));
    (c[5] as unknown[]).push(optionalNumber(a.threshold));
    (c[6] as unknown[]).push(isoTime(a.ts, 'alerts', a, describeAlert));
    (c[7] as unknown[]).push(a.message === undefined ? null : arrayText(a.message));
    (c[8] as unknown[]).push(a.rule === undefined ? null : arrayText(a.rule));
    (c[9] as unknown[]).push(a.fingerprint === undefined ? null : arrayText(a.fingerprint));
    (c[10] as unknown[]).push(optionalJson(a.labels));
    (c[11] as unknown[]).push(optionalIsoTime(a.startsAt, 'alerts', a, describeAlert));
    (c[12] as unknown[]).push(optionalJson(a.annotations));
  },
  writeBinary(a, w) {
    const startsAt = optionalTimeValue(a.startsAt, 'alerts', a, describeAlert);
    const labels = optionalJson(a.labels);
    const annotations = optionalJson(a.annotations);
    const text = (value: string | undefined): void => (value === undefined ? w.null() : w.text(value));
    w.row(13);
    w.text(a.type);
    w.text(a.state);
    w.text(a.severity);
    w.text(a.subject);
    w.finiteOrNull(a.value);
    w.finiteOrNull(a.threshold);
    w.timestamptz(timeValue(a.ts, 'alerts', a, describeAlert));
    text(a.message);
    text(a.rule);
    text(a.fingerprint);
    if (labels === null) w.null();
    else w.jsonb(labels);
    if (startsAt === null) w.null();
    else w.timestamptz(startsAt);
    if (annotations === null) w.null();
    else w.jsonb(annotations);
  },
  describe: describeAlert,
};

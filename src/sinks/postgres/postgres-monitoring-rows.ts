// Model-monitoring records as rows: labels (realised outcomes; a classifier's classes go to *_class, a
// regressor's values to *_value) and model_performance (metrics as jsonb). Non-finite doubles are NULL; a time
// or integer PostgreSQL cannot hold refuses the record, naming it, like the other codecs.

import type { LabelRecord, PerformanceRecord } from '../../domain/types.js';
import type { RowCodec } from './postgres-row-codec.js';
import { TABLES } from './postgres-tables.js';
import {
  arrayText,
  copyText,
  int4Value,
  isoTime,
  jsonValue,
  optionalNumber,
  optionalNumberText,
  optionalText,
  safeIso,
  timeValue,
} from './postgres-values.js';

const describeLabel = (l: LabelRecord): string =>
  `${l.model}@${l.version} ${l.symbol} ${l.timeframe} ${safeIso(l.ts)} revision ${l.revision}`;
const describePerformance = (p: PerformanceRecord): string =>
  `${p.model}@${p.version} ${p.timeframe} ${safeIso(p.ts)}`;

/** The class (string) of an outcome, for the *_class column. */
const classOf = (value: number | string | null): string | undefined =>
  typeof value === 'string' ? value : undefined;
/** The value (number) of an outcome, for the *_value column; non-finite is NULL. */
const valueOf = (value: number | string | null): number | undefined =>
  typeof value === 'number' ? value : undefined;

/** Metrics with non-finite numbers as null (JSON has no NaN), as jsonValue writes them. */
const metricsJson = (p: PerformanceRecord): string => jsonValue(p.metrics);

export const labelCodec: RowCodec<LabelRecord> = {
  spec: TABLES.labels,
  keyOf: (l) => `${l.symbol}\u0001${l.timeframe}\u0001${l.ts}\u0001${l.model}\u0001${l.version}`,
  revisionOf: (l) => l.revision,
  copyLine(l) {
    return (
      `${copyText(l.symbol)}\t${l.timeframe}\t${isoTime(l.ts, 'labels', l, describeLabel)}\t` +
      `${copyText(l.model)}\t${copyText(l.version)}\t${copyText(l.kind)}\t` +
      `${int4Value(l.horizonBars, 'labels', 'horizon_bars', l, describeLabel)}\t` +
      `${isoTime(l.labelTs, 'labels', l, describeLabel)}\t${copyText(l.state)}\t${optionalText(l.reason)}\t` +
      `${int4Value(l.revision, 'labels', 'revision', l, describeLabel)}\t${optionalNumberText(l.realisedReturn)}\t` +
      `${optionalText(classOf(l.actual))}\t${optionalNumberText(valueOf(l.actual))}\t` +
      `${optionalText(classOf(l.predicted))}\t${optionalNumberText(valueOf(l.predicted))}\n`
    );
  },
  pushColumns(l, c) {
    const actualClass = classOf(l.actual);
    const predictedClass = classOf(l.predicted);
    (c[0] as unknown[]).push(arrayText(l.symbol));
    (c[1] as unknown[]).push(l.timeframe);
    (c[2] as unknown[]).push(isoTime(l.ts, 'labels', l, describeLabel));
    (c[3] as unknown[]).push(arrayText(l.model));
    (c[4] as unknown[]).push(arrayText(l.version));
    (c[5] as unknown[]).push(arrayText(l.kind));
    (c[6] as unknown[]).push(int4Value(l.horizonBars, 'labels', 'horizon_bars', l, describeLabel));
    (c[7] as unknown[]).push(isoTime(l.labelTs, 'labels', l, describeLabel));
    (c[8] as unknown[]).push(arrayText(l.state));
    (c[9] as unknown[]).push(l.reason === undefined ? null : arrayText(l.reason));
    (c[10] as unknown[]).push(int4Value(l.revision, 'labels', 'revision', l, describeLabel));
    (c[11] as unknown[]).push(optionalNumber(l.realisedReturn));
    (c[12] as unknown[]).push(actualClass === undefined ? null : arrayText(actualClass));
    (c[13] as unknown[]).push(optionalNumber(valueOf(l.actual)));
    (c[14] as unknown[]).push(predictedClass === undefined ? null : arrayText(predictedClass));
    (c[15] as unknown[]).push(optionalNumber(valueOf(l.predicted)));
  },
  writeBinary(l, w) {
    const ts = timeValue(l.ts, 'labels', l, describeLabel);
    const labelTs = timeValue(l.labelTs, 'labels', l, describeLabel);
    const horizonBars = int4Value(l.horizonBars, 'labels', 'horizon_bars', l, describeLabel);
    const revision = int4Value(l.revision, 'labels', 'revision', l, describeLabel);
    const text = (value: string | undefined): void => (value === undefined ? w.null() : w.text(value));
    w.row(16);
    w.text(l.symbol);
    w.text(l.timeframe);
    w.timestamptz(ts);
    w.text(l.model);
    w.text(l.version);
    w.text(l.kind);
    w.int4(horizonBars);
    w.timestamptz(labelTs);
    w.text(l.state);
    text(l.reason);
    w.int4(revision);
    w.finiteOrNull(l.realisedReturn);
    text(classOf(l.actual));
    w.finiteOrNull(valueOf(l.actual));
    text(classOf(l.predicted));
    w.finiteOrNull(valueOf(l.predicted));
  },
  describe: describeLabel,
};

export const performanceCodec: RowCodec<PerformanceRecord> = {
  spec: TABLES.model_performance,
  keyOf: (p) => `${p.model}\u0001${p.version}\u0001${p.ts}`,
  copyLine(p) {
    return (
      `${copyText(p.model)}\t${copyText(p.version)}\t${copyText(p.kind)}\t${p.timeframe}\t` +
      `${isoTime(p.ts, 'model_performance', p, describePerformance)}\t` +
      `${int4Value(p.count, 'model_performance', 'count', p, describePerformance)}\t` +
      `${copyText(metricsJson(p))}\t${optionalNumberText(p.errorDrift.statistic)}\t` +
      `${optionalNumberText(p.errorDrift.threshold)}\t${p.errorDrift.alarm}\n`
    );
  },
  pushColumns(p, c) {
    (c[0] as unknown[]).push(arrayText(p.model));
    (c[1] as unknown[]).push(arrayText(p.version));
    (c[2] as unknown[]).push(arrayText(p.kind));
    (c[3] as unknown[]).push(p.timeframe);
    (c[4] as unknown[]).push(isoTime(p.ts, 'model_performance', p, describePerformance));
    (c[5] as unknown[]).push(int4Value(p.count, 'model_performance', 'count', p, describePerformance));
    (c[6] as unknown[]).push(metricsJson(p));
    (c[7] as unknown[]).push(optionalNumber(p.errorDrift.statistic));
    (c[8] as unknown[]).push(optionalNumber(p.errorDrift.threshold));
    (c[9] as unknown[]).push(p.errorDrift.alarm);
  },
  writeBinary(p, w) {
    const ts = timeValue(p.ts, 'model_performance', p, describePerformance);
    const count = int4Value(p.count, 'model_performance', 'count', p, describePerformance);
    w.row(10);
    w.text(p.model);
    w.text(p.version);
    w.text(p.kind);
    w.text(p.timeframe);
    w.timestamptz(ts);
    w.int4(count);
    w.jsonb(metricsJson(p));
    w.finiteOrNull(p.errorDrift.statistic);
    w.finiteOrNull(p.errorDrift.threshold);
    w.bool(p.errorDrift.alarm);
  },
  describe: describePerformance,
};

// Engine records as PostgreSQL rows: COPY text lines and UNNEST column arrays for each table, the rules that keep
// bad values out (NaN never reaches the database: undefined features are NULL, a non-finite bar price refuses
// the record) and the in-batch de-duplication an ON CONFLICT statement needs (one row per key per statement).

import { randomUUID } from 'node:crypto';
import type { Alert, Bar, DeadLetter, FeatureVector, Prediction } from '../../domain/types.js';
import { FEATURE_COUNT } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import type { BinaryCopyWriter } from './postgres-binary.js';
import { TABLES, type TableSpec } from './postgres-tables.js';

/** A dead letter with the idempotency key it is stored under. */
export interface KeyedDeadLetter {
  key: string;
  letter: DeadLetter;
}

/** How one table's records become rows. */
export interface RowCodec<R> {
  spec: TableSpec;
  keyOf(row: R): string;
  /** rows with a revision: the highest wins (equal: the later one) */
  revisionOf?: (row: R) => number;
  /** one line of COPY text format, newline-terminated */
  copyLine(row: R): string;
  /** one tuple of COPY binary format */
  writeBinary(row: R, writer: BinaryCopyWriter): void;
  /** appends the row's values to one array per column (UNNEST parameters) */
  pushColumns(row: R, columns: unknown[][]): void;
  /** a short description naming the record, for error messages */
  describe(row: R): string;
}

/** 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z: where toISOString and PostgreSQL agree */
const FIRST_MS = -62_135_596_800_000;
const LAST_MS = 253_402_300_799_999;
const NULL_TEXT = '\\N';
const SPECIAL = /[\\\t\n\r\0]/;

function rejected(table: string, what: string, detail: string): MlfpError {
  return new MlfpError('sink_rejected', `postgres: ${table}: ${what}: ${detail}`, {
    field: table,
    value: what,
    retriable: false,
  });
}

/** ISO-8601 text of an epoch-ms time in PostgreSQL's range; refuses anything else naming the record. */
export function isoTime<R>(ms: number, table: string, row: R, describe: (row: R) => string): string {
  return new Date(timeValue(ms, table, row, describe)).toISOString();
}

/** A finite number as text; NaN or ±Infinity refuse the record (PostgreSQL would store 'NaN'). */
function finite<R>(
  value: number,
  table: string,
  columnName: string,
  row: R,
  describe: (row: R) => string,
): string {
  return String(finiteValue(value, table, columnName, row, describe));
}

function integer<R>(
  value: number,
  table: string,
  columnName: string,
  row: R,
  describe: (row: R) => string,
): string {
  return String(int8Value(value, table, columnName, row, describe));
}

/** The checks, returning the value itself (the binary format; the text helpers above format it). */
function timeValue<R>(ms: number, table: string, row: R, describe: (row: R) => string): number {
  if (!Number.isFinite(ms) || ms < FIRST_MS || ms > LAST_MS)
    throw rejected(table, describe(row), `time ${ms} is outside 0001-01-01..9999-12-31`);
  return ms;
}

function finiteValue<R>(
  value: number,
  table: string,
  columnName: string,
  row: R,
  describe: (row: R) => string,
): number {
  if (!Number.isFinite(value)) throw rejected(table, describe(row), `${columnName} is ${value}`);
  return value;
}

const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;

function int4Value<R>(
  value: number,
  table: string,
  columnName: string,
  row: R,
  describe: (row: R) => string,
): number {
  if (!Number.isInteger(value) || value < INT4_MIN || value > INT4_MAX)
    throw rejected(table, describe(row), `${columnName} is ${value}, not a 32-bit integer`);
  return value;
}

function int8Value<R>(
  value: number,
  table: string,
  columnName: string,
  row: R,
  describe: (row: R) => string,
): number {
  if (!Number.isSafeInteger(value))
    throw rejected(table, describe(row), `${columnName} is ${value}, not an integer`);
  return value;
}

/** Text for a COPY field: backslash, tab, newline and carriage return escaped; NUL (illegal in text) → U+FFFD. */
export function copyText(text: string): string {
  if (!SPECIAL.test(text)) return text;
  return text
    .replaceAll('\\', '\\\\')
    .replaceAll('\t', '\\t')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\0', '\uFFFD');
}

/** Text for an UNNEST text element: only NUL needs replacing (pg quotes array elements itself). */
function arrayText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
}

const optionalNumberText = (value: number | undefined): string =>
  value !== undefined && Number.isFinite(value) ? String(value) : NULL_TEXT;
const optionalNumber = (value: number | undefined): number | null =>
  value !== undefined && Number.isFinite(value) ? value : null;

/** JSON for a jsonb column: NaN/Infinity become null (JSON has neither), NUL in strings → U+FFFD. */
export function jsonValue(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'string' && item.includes('\0') ? item.replaceAll('\0', '\uFFFD') : item,
  );
}

const describeBar = (bar: Bar): string =>
  `${bar.symbol} ${bar.timeframe} ${safeIso(bar.ts)} revision ${bar.revision}`;
const describeVector = (vector: FeatureVector): string =>
  `${vector.symbol} ${vector.timeframe} ${safeIso(vector.ts)} revision ${vector.revision}`;
const describePrediction = (p: Prediction): string =>
  `${p.model}@${p.version} ${p.symbol} ${p.timeframe} ${safeIso(p.ts)}`;
const describeAlert = (a: Alert): string => `${a.type} ${a.state} ${a.subject} ${safeIso(a.ts)}`;

function safeIso(ms: number): string {
  return Number.isFinite(ms) && ms >= FIRST_MS && ms <= LAST_MS ? new Date(ms).toISOString() : String(ms);
}

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

const optionalText = (text: string | undefined): string => (text === undefined ? NULL_TEXT : copyText(text));

export const alertCodec: RowCodec<Alert> = {
  spec: TABLES.alerts,
  keyOf: (a) => `${a.type}\u0001${a.subject}\u0001${a.ts}\u0001${a.state}`,
  copyLine(a) {
    return (
      `${copyText(a.type)}\t${copyText(a.state)}\t${copyText(a.severity)}\t${copyText(a.subject)}\t` +
      `${optionalNumberText(a.value)}\t${optionalNumberText(a.threshold)}\t${isoTime(a.ts, 'alerts', a, describeAlert)}\t` +
      `${optionalText(a.message)}\n`
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
  },
  writeBinary(a, w) {
    w.row(8);
    w.text(a.type);
    w.text(a.state);
    w.text(a.severity);
    w.text(a.subject);
    w.finiteOrNull(a.value);
    w.finiteOrNull(a.threshold);
    w.timestamptz(timeValue(a.ts, 'alerts', a, describeAlert));
    if (a.message === undefined) w.null();
    else w.text(a.message);
  },
  describe: describeAlert,
};

/** The original bytes of a dead letter (strings as UTF-8). */
export function originalBytes(original: Uint8Array | string | undefined): Buffer | undefined {
  if (original === undefined) return undefined;
  return typeof original === 'string'
    ? Buffer.from(original, 'utf8')
    : Buffer.from(original.buffer, original.byteOffset, original.byteLength);
}

/**
 * The key a dead letter is stored under: its source coordinates and reason when known (a replay rewrites the
 * same row), else a fresh random id (nothing identifies it across a replay).
 */
export function deadLetterKey(letter: DeadLetter): string {
  const source = letter.source;
  if (source?.topic !== undefined && source.partition !== undefined && source.offset !== undefined)
    return `kafka:${source.topic}:${source.partition}:${source.offset}:${letter.reason}`;
  if (source?.file !== undefined && source.line !== undefined)
    return `file:${source.file}:${source.line}:${letter.reason}`;
  return `random:${randomUUID()}`;
}

const isInt4 = (value: number | undefined): boolean =>
  value !== undefined && Number.isInteger(value) && value >= INT4_MIN && value <= INT4_MAX;

const MAX_TEXT = 4_000;
const bounded = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);
const OFFSET = /^\d{1,19}$/;
const INT8_MAX = 2n ** 63n - 1n;

/** Dead letters keep up to `maxOriginalBytes` of their original; `original_bytes` has the full length. */
export function deadLetterCodec(maxOriginalBytes: number): RowCodec<KeyedDeadLetter> {
  const parts = ({ letter }: KeyedDeadLetter) => {
    const bytes = originalBytes(letter.original);
    const kept = bytes === undefined ? undefined : bytes.subarray(0, maxOriginalBytes);
    const source = letter.source;
    return {
      bytes,
      kept,
      partition: isInt4(source?.partition) ? (source?.partition as number) : null,
      offset:
        source?.offset !== undefined && OFFSET.test(source.offset) && BigInt(source.offset) <= INT8_MAX
          ? source.offset
          : null,
      line: isInt4(source?.line) ? (source?.line as number) : null,
    };
  };
  return {
    spec: TABLES.dead_letters,
    keyOf: (row) => row.key,
    copyLine(row) {
      const { letter } = row;
      const p = parts(row);
      const t = (text: string | undefined): string =>
        text === undefined ? NULL_TEXT : copyText(bounded(text));
      return (
        `${copyText(row.key)}\t${copyText(letter.reason)}\t${t(letter.field)}\t${t(letter.value)}\t` +
        `${t(letter.message)}\t${t(letter.source?.topic)}\t${p.partition ?? NULL_TEXT}\t${p.offset ?? NULL_TEXT}\t` +
        `${t(letter.source?.file)}\t${p.line ?? NULL_TEXT}\t` +
        `${p.kept === undefined ? NULL_TEXT : `\\\\x${p.kept.toString('hex')}`}\t` +
        `${p.bytes === undefined ? NULL_TEXT : p.bytes.length}\t` +
        `${p.bytes !== undefined && p.bytes.length > maxOriginalBytes}\n`
      );
    },
    pushColumns(row, c) {
      const { letter } = row;
      const p = parts(row);
      const t = (text: string | undefined): string | null =>
        text === undefined ? null : arrayText(bounded(text));
      (c[0] as unknown[]).push(arrayText(row.key));
      (c[1] as unknown[]).push(letter.reason);
      (c[2] as unknown[]).push(t(letter.field));
      (c[3] as unknown[]).push(t(letter.value));
      (c[4] as unknown[]).push(t(letter.message));
      (c[5] as unknown[]).push(t(letter.source?.topic));
      (c[6] as unknown[]).push(p.partition);
      (c[7] as unknown[]).push(p.offset);
      (c[8] as unknown[]).push(t(letter.source?.file));
      (c[9] as unknown[]).push(p.line);
      (c[10] as unknown[]).push(p.kept === undefined ? null : Buffer.from(p.kept));
      (c[11] as unknown[]).push(p.bytes === undefined ? null : p.bytes.length);
      (c[12] as unknown[]).push(p.bytes !== undefined && p.bytes.length > maxOriginalBytes);
    },
    writeBinary(row, w) {
      const { letter } = row;
      const p = parts(row);
      const t = (text: string | undefined): void => (text === undefined ? w.null() : w.text(bounded(text)));
      const n = (value: number | null, write: (value: number) => void): void =>
        value === null ? w.null() : write(value);
      w.row(13);
      w.text(row.key);
      w.text(letter.reason);
      t(letter.field);
      t(letter.value);
      t(letter.message);
      t(letter.source?.topic);
      n(p.partition, (value) => w.int4(value));
      if (p.offset === null) w.null();
      else w.int8Decimal(p.offset);
      t(letter.source?.file);
      n(p.line, (value) => w.int4(value));
      if (p.kept === undefined) w.null();
      else w.bytea(p.kept);
      n(p.bytes === undefined ? null : p.bytes.length, (value) => w.int4(value));
      w.bool(p.bytes !== undefined && p.bytes.length > maxOriginalBytes);
    },
    describe: (row) => `dead letter ${row.key}`,
  };
}

/**
 * One row per key, as a single INSERT … ON CONFLICT must have: the highest revision wins, equal revisions (or
 * tables without one) keep the later record. Returns `rows` itself when no key repeats. Order: first appearance.
 */
export function latestPerKey<R>(rows: readonly R[], codec: RowCodec<R>): readonly R[] {
  if (rows.length < 2) return rows;
  const positions = new Map<string, number>();
  const kept: R[] = [];
  const revisionOf = codec.revisionOf;
  for (const row of rows) {
    const key = codec.keyOf(row);
    const at = positions.get(key);
    if (at === undefined) {
      positions.set(key, kept.length);
      kept.push(row);
    } else if (revisionOf === undefined || revisionOf(row) >= revisionOf(kept[at] as R)) kept[at] = row;
  }
  return kept.length === rows.length ? rows : kept;
}

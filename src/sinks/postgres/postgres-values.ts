// Values checked and escaped for PostgreSQL: times in its range, finite numbers, 32/64-bit integers (a bad
// value refuses the record, sink_rejected, naming it), COPY text and UNNEST text escaping, jsonb text.

import { MlfpError } from '../../errors.js';

/** 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z: where toISOString and PostgreSQL agree */
const FIRST_MS = -62_135_596_800_000;
const LAST_MS = 253_402_300_799_999;
export const NULL_TEXT = '\\N';
const SPECIAL = /[\\\t\n\r\0]/;

export function rejected(table: string, what: string, detail: string): MlfpError {
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
export function finite<R>(
  value: number,
  table: string,
  columnName: string,
  row: R,
  describe: (row: R) => string,
): string {
  return String(finiteValue(value, table, columnName, row, describe));
}

export function integer<R>(
  value: number,
  table: string,
  columnName: string,
  row: R,
  describe: (row: R) => string,
): string {
  return String(int8Value(value, table, columnName, row, describe));
}

/** The checks, returning the value itself (the binary format; the text helpers above format it). */
export function timeValue<R>(ms: number, table: string, row: R, describe: (row: R) => string): number {
  if (!Number.isFinite(ms) || ms < FIRST_MS || ms > LAST_MS)
    throw rejected(table, describe(row), `time ${ms} is outside 0001-01-01..9999-12-31`);
  return ms;
}

export function finiteValue<R>(
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

export function int4Value<R>(
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

export function int8Value<R>(
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
export function arrayText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
}

export const optionalNumberText = (value: number | undefined): string =>
  value !== undefined && Number.isFinite(value) ? String(value) : NULL_TEXT;
export const optionalNumber = (value: number | undefined): number | null =>
  value !== undefined && Number.isFinite(value) ? value : null;

/** JSON for a jsonb column: NaN/Infinity become null (JSON has neither), NUL in strings → U+FFFD. */
export function jsonValue(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'string' && item.includes('\0') ? item.replaceAll('\0', '\uFFFD') : item,
  );
}

/** ISO text of a time for messages, or the raw number when out of range (never throws). */
export function safeIso(ms: number): string {
  return Number.isFinite(ms) && ms >= FIRST_MS && ms <= LAST_MS ? new Date(ms).toISOString() : String(ms);
}

/** A nullable timestamptz: absent or non-finite is NULL; a finite time PostgreSQL cannot hold refuses the row. */
export function optionalTimeValue<R>(
  ms: number | undefined,
  table: string,
  row: R,
  describe: (row: R) => string,
): number | null {
  return ms === undefined || !Number.isFinite(ms) ? null : timeValue(ms, table, row, describe);
}

export function optionalIsoTime<R>(
  ms: number | undefined,
  table: string,
  row: R,
  describe: (row: R) => string,
): string | null {
  const value = optionalTimeValue(ms, table, row, describe);
  return value === null ? null : new Date(value).toISOString();
}

/** jsonb text of an optional value, or null when absent. */
export const optionalJson = (value: unknown): string | null =>
  value === undefined ? null : jsonValue(value);

export const optionalText = (text: string | undefined): string =>
  text === undefined ? NULL_TEXT : copyText(text);

export const isInt4 = (value: number | undefined): boolean =>
  value !== undefined && Number.isInteger(value) && value >= INT4_MIN && value <= INT4_MAX;

// Time parsing and formatting at the edges: ISO-8601 strings or epoch milliseconds in, epoch ms inside.

import type { Timeframe } from './types.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const TIMEFRAME_MS: Readonly<Record<Timeframe, number>> = {
  '5m': 5 * MINUTE_MS,
  '1h': HOUR_MS,
  '1d': DAY_MS,
};

/** Periods per year used to annualise volatility. 1d: 252 trading days; intraday bars assume 24/7 markets. */
export const PERIODS_PER_YEAR: Readonly<Record<Timeframe, number>> = {
  '5m': 252 * 24 * 12,
  '1h': 252 * 24,
  '1d': 252,
};

const MIN_TS = 0; // 1970-01-01T00:00:00Z
const MAX_TS = Date.UTC(2200, 0, 1);
/** Longest time string worth reading ("2024-03-04T14:30:00.123456789+05:30" is 35); longer is rejected unread. */
const MAX_TIME_CHARS = 40;

/**
 * Parses an event time: epoch ms (number, or a string of digits with an optional fraction) or ISO-8601
 * `YYYY-MM-DD[(T|t| )hh:mm[:ss[(.|,)f{1,9}]][Z|z|±hh[:mm]|±hhmm]]` (date only = 00:00 UTC; no offset = UTC;
 * surrounding blanks allowed). Sub-millisecond digits are floored. Returns NaN when unparseable, when a field
 * is out of range (2024-02-30, 24:00, second 60, offset hour > 23) or outside [1970-01-01, 2200-01-01).
 * Hand-written (no regex, no allocation): it runs once per tick.
 */
export function parseTime(value: unknown): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') ms = parseTimeText(value);
  else return Number.NaN;
  // `>= MIN_TS` and `< MAX_TS` are false for NaN, so NaN and ±Infinity fall through to NaN
  if (!(ms >= MIN_TS && ms < MAX_TS)) return Number.NaN;
  return Math.floor(ms) + 0; // + 0 turns -0 into 0
}

function parseTimeText(text: string): number {
  let end = text.length;
  if (end > MAX_TIME_CHARS) return Number.NaN;
  let at = 0;
  while (at < end && isBlank(text.charCodeAt(at))) at++;
  while (end > at && isBlank(text.charCodeAt(end - 1))) end--;
  if (at === end) return Number.NaN;
  // epoch milliseconds as digits, with an optional fraction: 1709562600123 or 1709562600123.5
  let digitsEnd = at;
  while (digitsEnd < end && isDigit(text.charCodeAt(digitsEnd))) digitsEnd++;
  if (digitsEnd === end || text.charCodeAt(digitsEnd) === DOT) {
    if (digitsEnd - at > 16) return Number.NaN;
    if (digitsEnd < end) {
      let fractionEnd = digitsEnd + 1;
      while (fractionEnd < end && isDigit(text.charCodeAt(fractionEnd))) fractionEnd++;
      if (fractionEnd === digitsEnd + 1 || fractionEnd !== end) return Number.NaN;
    }
    return Number(text); // the grammar above is a strict subset of Number's, blanks included
  }
  return parseIso(text, at, end, digitsEnd);
}

function parseIso(text: string, at: number, end: number, yearEnd: number): number {
  if (yearEnd - at !== 4 || end - at < 10) return Number.NaN;
  const year = readDigits(text, at, 4);
  if (text.charCodeAt(at + 4) !== DASH || text.charCodeAt(at + 7) !== DASH) return Number.NaN;
  const month = readDigits(text, at + 5, 2);
  const day = readDigits(text, at + 8, 2);
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month))) return Number.NaN;
  let cursor = at + 10;
  let timeMs = 0;
  if (cursor < end) {
    const separator = text.charCodeAt(cursor);
    if (separator !== UPPER_T && separator !== LOWER_T && separator !== SPACE) return Number.NaN;
    if (end - cursor < 6 || text.charCodeAt(cursor + 3) !== COLON) return Number.NaN;
    const hour = readDigits(text, cursor + 1, 2);
    const minute = readDigits(text, cursor + 4, 2);
    if (!(hour <= 23 && minute <= 59)) return Number.NaN;
    timeMs = hour * 3_600_000 + minute * 60_000;
    cursor += 6;
    if (cursor < end && text.charCodeAt(cursor) === COLON) {
      if (end - cursor < 3) return Number.NaN;
      const second = readDigits(text, cursor + 1, 2);
      if (!(second <= 59)) return Number.NaN;
      timeMs += second * 1000;
      cursor += 3;
      const mark = cursor < end ? text.charCodeAt(cursor) : 0;
      if (mark === DOT || mark === COMMA) {
        cursor++;
        let fractionDigits = 0;
        let millis = 0;
        while (cursor < end && isDigit(text.charCodeAt(cursor))) {
          if (fractionDigits < 3) millis = millis * 10 + (text.charCodeAt(cursor) - ZERO);
          fractionDigits++;
          cursor++;
        }
        if (fractionDigits === 0 || fractionDigits > 9) return Number.NaN;
        for (let padding = fractionDigits; padding < 3; padding++) millis *= 10;
        timeMs += millis;
      }
    }
    if (cursor < end) {
      const zone = text.charCodeAt(cursor);
      if (zone === UPPER_Z || zone === LOWER_Z) cursor++;
      else if (zone === PLUS || zone === MINUS) {
        const sign = zone === MINUS ? -1 : 1;
        if (end - cursor < 3) return Number.NaN;
        const offsetHours = readDigits(text, cursor + 1, 2);
        let offsetMinutes = 0;
        cursor += 3;
        if (cursor < end) {
          if (text.charCodeAt(cursor) === COLON) cursor++;
          if (end - cursor < 2) return Number.NaN;
          offsetMinutes = readDigits(text, cursor, 2);
          cursor += 2;
        }
        if (!(offsetHours <= 23 && offsetMinutes <= 59)) return Number.NaN;
        timeMs -= sign * (offsetHours * 3_600_000 + offsetMinutes * 60_000);
      } else return Number.NaN;
      if (cursor !== end) return Number.NaN;
    }
  }
  return daysFromCivil(year, month, day) * DAY_MS + timeMs;
}

/** The two-or-four digit number at text[at, at + count), or NaN when any character is not a digit. */
function readDigits(text: string, at: number, count: number): number {
  let value = 0;
  for (let index = at; index < at + count; index++) {
    const code = text.charCodeAt(index);
    if (!isDigit(code)) return Number.NaN;
    value = value * 10 + (code - ZERO);
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil); no Date object. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** ISO-8601 UTC with milliseconds: 2024-03-04T14:30:00.000Z */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

const ZERO = 48;
const NINE = 57;
const DOT = 46;
const COMMA = 44;
const DASH = 45;
const MINUS = 45;
const PLUS = 43;
const COLON = 58;
const SPACE = 32;
const TAB = 9;
const UPPER_T = 84;
const LOWER_T = 116;
const UPPER_Z = 90;
const LOWER_Z = 122;

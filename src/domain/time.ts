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

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const MIN_TS = Date.UTC(1970, 0, 1);
const MAX_TS = Date.UTC(2200, 0, 1);

/**
 * Parses an event time: epoch ms (number, or a string of digits) or ISO-8601 (date only = 00:00 UTC; no
 * offset = UTC). Returns NaN when unparseable or outside 1970..2200.
 */
export function parseTime(value: unknown): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d{1,16}(\.\d+)?$/.test(text)) ms = Number(text);
    else {
      const m = ISO_RE.exec(text);
      if (m === null) return Number.NaN;
      const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
      const month = Number(mo);
      const day = Number(d);
      const hour = Number(h);
      const minute = Number(mi);
      const second = Number(s);
      if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
        return Number.NaN;
      ms = Date.UTC(
        Number(y),
        month - 1,
        day,
        hour,
        minute,
        second,
        frac === '' ? 0 : Number(frac.padEnd(3, '0').slice(0, 3)),
      );
      // reject 2024-02-31 and the like: Date.UTC rolls them over
      if (new Date(ms).getUTCDate() !== day) return Number.NaN;
      if (zone !== undefined && zone !== 'Z') {
        const sign = zone[0] === '-' ? -1 : 1;
        const digits = zone.slice(1).replace(':', '');
        const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
        ms -= sign * offset * MINUTE_MS;
      }
    }
  } else return Number.NaN;
  if (!Number.isFinite(ms) || ms < MIN_TS || ms >= MAX_TS) return Number.NaN;
  return Math.floor(ms);
}

/** ISO-8601 UTC with milliseconds: 2024-03-04T14:30:00.000Z */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}

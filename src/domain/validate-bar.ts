// Validation of bar records from outside (bars CSV for `mlfp features`, warm-up rows from the database):
// every field checked, the first problem reported as a DeadLetter naming the field, value and reason.

import type { ErrorCode } from '../errors.js';
import { describeValue } from '../errors.js';
import { TIMEFRAME_MS, parseTime } from './time.js';
import type { Bar, DeadLetter, SourceRef, Timeframe } from './types.js';
import { DEFAULT_SYMBOL_PATTERN, readNumber } from './validate-tick.js';

export interface RawBar {
  symbol: unknown;
  ts: unknown;
  open: unknown;
  high: unknown;
  low: unknown;
  close: unknown;
  volume: unknown;
}

function reject(
  reason: ErrorCode,
  field: string,
  value: unknown,
  message: string,
  source?: SourceRef,
): DeadLetter {
  return { reason, field, value: describeValue(value), message, source };
}

function numberField(raw: RawBar, field: keyof RawBar, source?: SourceRef): number | DeadLetter {
  const value = raw[field];
  const n = readNumber(value);
  if (n === 'missing_field') return reject('missing_field', field, value, `${field} is missing`, source);
  if (n === 'not_finite')
    return reject('not_finite', field, value, `${field} must be a finite number`, source);
  if (n === 'wrong_type') return reject('wrong_type', field, value, `${field} must be a number`, source);
  return n;
}

/** Checks one bar record; returns the Bar (revision 0) or the first problem found. */
export function validateBar(raw: RawBar, timeframe: Timeframe, source?: SourceRef): Bar | DeadLetter {
  const symbol = raw.symbol;
  if (symbol === undefined || symbol === null || symbol === '') {
    return reject('missing_field', 'symbol', symbol, 'symbol is missing', source);
  }
  if (typeof symbol !== 'string' || !DEFAULT_SYMBOL_PATTERN.test(symbol)) {
    return reject('bad_symbol', 'symbol', symbol, `symbol must match ${DEFAULT_SYMBOL_PATTERN}`, source);
  }
  if (raw.ts === undefined || raw.ts === null || raw.ts === '') {
    return reject('missing_field', 'ts', raw.ts, 'ts is missing', source);
  }
  const ts = parseTime(raw.ts);
  if (Number.isNaN(ts)) {
    return reject(
      'bad_time',
      'ts',
      raw.ts,
      'ts must be ISO-8601 or epoch milliseconds between 1970 and 2200',
      source,
    );
  }
  const values: number[] = [];
  for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) {
    const n = numberField(raw, field, source);
    if (typeof n !== 'number') return n;
    if (field === 'volume' ? n < 0 : n <= 0) {
      return field === 'volume'
        ? reject('negative_size', field, raw[field], 'volume must be ≥ 0', source)
        : reject('non_positive_price', field, raw[field], `${field} must be > 0`, source);
    }
    values.push(n);
  }
  const [open, high, low, close, volume] = values as [number, number, number, number, number];
  if (high < low || high < open || high < close || low > open || low > close) {
    return reject(
      'inconsistent_bar',
      high < Math.max(open, close, low) ? 'high' : 'low',
      { open, high, low, close },
      'high must be ≥ open, close, low and low must be ≤ open, close',
      source,
    );
  }
  return {
    symbol,
    timeframe,
    ts,
    end: ts + TIMEFRAME_MS[timeframe],
    open,
    high,
    low,
    close,
    volume,
    vwap: Number.NaN,
    trades: 0,
    revision: 0,
  };
}

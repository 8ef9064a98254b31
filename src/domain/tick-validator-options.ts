// Options of the TickValidator: the default symbol and exchange patterns, and the checks of its settings
// (config_invalid) run once in its constructor.

import { MlfpError } from '../errors.js';

export const DEFAULT_SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9._:/-]{0,31}$/;
export const DEFAULT_EXCHANGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$/;

export interface TickValidatorOptions {
  /** Symbols must match it (default DEFAULT_SYMBOL_PATTERN, checked by an equivalent hand-written scan). */
  symbolPattern?: RegExp;
  /** Longest symbol read before the pattern is tried (default 32); bounds the cost of a custom pattern. */
  maxSymbolLength?: number;
  /** Exchanges must match it (default DEFAULT_EXCHANGE_PATTERN: case-insensitive, 1..32 characters). */
  exchangePattern?: RegExp;
  /** Reject ticks whose ts is more than this ahead of now() (future_time). Default: no such check (replays). */
  maxFutureMs?: number;
  /** Wall clock for maxFutureMs, epoch ms (default Date.now); the operator passes its scheduler's now(). */
  now?: () => number;
  /** Accept bid > ask (default false: crossed_quote). */
  allowCrossedQuotes?: boolean;
  /** Most (exchange, symbol) keys remembered for duplicate detection (default 1,000,000); past it the oldest key of the same exchange is forgotten. */
  maxSequenceKeys?: number;
  /**
   * Accept numeric strings ("170.5") for price, size, bid, ask, seq and digit strings for ts. Default true:
   * CSV rows are text. The Kafka engine passes config validation.numbersAsStrings (default false).
   */
  numbersAsStrings?: boolean;
}

export function checkPattern(name: string, pattern: unknown): void {
  if (!(pattern instanceof RegExp))
    throw new MlfpError('config_invalid', `${name} must be a RegExp`, { field: name, value: pattern });
  // test() on a global or sticky RegExp depends on lastIndex, so the same symbol would alternate
  if (pattern.global || pattern.sticky)
    throw new MlfpError('config_invalid', `${name} must not have the g or y flag`, {
      field: name,
      value: pattern.source,
    });
}

export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new MlfpError('config_invalid', `${name} must be an integer in ${min}..${max}`, {
      field: name,
      value,
    });
  return value;
}

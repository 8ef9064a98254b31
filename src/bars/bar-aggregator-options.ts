// Options of the bar aggregator: their defaults and the one check of them (config_invalid) in its constructor.

import { MlfpError } from '../errors.js';
import { FIVE_MINUTES_MS } from './bar-slots.js';
import type { SessionOptions } from './session-calendar.js';

export interface BarAggregatorOptions {
  /** Event-time lateness tolerated before a 5m bar closes: integer ms in 0..300000 (default 2000). */
  allowedLatenessMs?: number;
  /** Wall time without ticks after which onIdle() closes bars: ms > 0, or Infinity = never (default 5000). */
  idleTimeoutMs?: number;
  /** Daily session; undefined = UTC days (24/7 markets). */
  session?: SessionOptions;
  /** Most symbols one instance tracks (default 100,000); ticks of further symbols are dead letters `too_large`. */
  maxSymbols?: number;
}

export const DEFAULT_ALLOWED_LATENESS_MS = 2000;
export const DEFAULT_IDLE_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_SYMBOLS = 100_000;
const MAX_LATENESS_MS = FIVE_MINUTES_MS;

/** Options with defaults applied, each checked; throws config_invalid. */
export function checkBarAggregatorOptions(options: BarAggregatorOptions): {
  allowedLatenessMs: number;
  idleTimeoutMs: number;
  maxSymbols: number;
} {
  const lateness = options.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS;
  if (!(Number.isInteger(lateness) && lateness >= 0 && lateness <= MAX_LATENESS_MS))
    throw new MlfpError('config_invalid', `allowedLatenessMs must be an integer in 0..${MAX_LATENESS_MS}`, {
      field: 'allowedLatenessMs',
      value: lateness,
    });
  const idle = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!(typeof idle === 'number' && idle > 0))
    throw new MlfpError('config_invalid', 'idleTimeoutMs must be a number > 0 (Infinity = never)', {
      field: 'idleTimeoutMs',
      value: idle,
    });
  const maxSymbols = options.maxSymbols ?? DEFAULT_MAX_SYMBOLS;
  if (!(Number.isInteger(maxSymbols) && maxSymbols >= 1 && maxSymbols <= 10_000_000))
    throw new MlfpError('config_invalid', 'maxSymbols must be an integer in 1..10000000', {
      field: 'maxSymbols',
      value: maxSymbols,
    });
  return { allowedLatenessMs: lateness, idleTimeoutMs: idle, maxSymbols };
}

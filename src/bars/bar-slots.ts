// Layout of the bar aggregator's flat Float64Array (7 accumulators per symbol: two open 5m by bar-index
// parity, open 1h, open 1d, last closed 5m/1h/1d) and the close times read from it.

import { MINUTE_MS } from '../domain/time.js';
import { ACCUMULATOR_FIELDS, END, TRADES } from './bar-accumulator.js';

/** Slot order of a symbol's accumulators in the buffer and in snapshots. */
export const SLOT_NAMES = [
  'open5mEven',
  'open5mOdd',
  'open1h',
  'open1d',
  'closed5m',
  'closed1h',
  'closed1d',
] as const;

export const FIVE_MINUTES_MS = 5 * MINUTE_MS;
export const OPEN_5M = 0; // + parity of the 5m bar index
export const OPEN_1H = 2 * ACCUMULATOR_FIELDS;
export const OPEN_1D = 3 * ACCUMULATOR_FIELDS;
export const CLOSED_5M = 4 * ACCUMULATOR_FIELDS;
export const CLOSED_1H = 5 * ACCUMULATOR_FIELDS;
export const CLOSED_1D = 6 * ACCUMULATOR_FIELDS;
export const SYMBOL_STRIDE = SLOT_NAMES.length * ACCUMULATOR_FIELDS;
export const MAX_EVENT_TIME_MS = Date.UTC(2200, 0, 1);

/** A daily bar closes when the watermark reaches its session close, rounded up to the 5m grid. */
export function dailyCloseAt(endMs: number): number {
  const remainder = endMs % FIVE_MINUTES_MS;
  return remainder === 0 ? endMs : endMs - remainder + FIVE_MINUTES_MS;
}

export function nextCloseOf(state: Float64Array, base: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (let open = base + OPEN_5M; open <= base + OPEN_1H; open += ACCUMULATOR_FIELDS) {
    if (state[open + TRADES] !== 0 && state[open + END]! < next) next = state[open + END]!;
  }
  const day = base + OPEN_1D;
  if (state[day + TRADES] !== 0) next = Math.min(next, dailyCloseAt(state[day + END]!));
  return next;
}

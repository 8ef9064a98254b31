// One OHLCV+VWAP accumulator = 12 consecutive float64 slots in a caller-owned Float64Array, so an
// aggregator keeps every symbol's bars in one flat buffer. Pure arithmetic: no close logic, no allocation
// except accumulatorToBar(). open = price of the earliest-ts tick, close = price of the latest-ts tick,
// ties by arrival (the later arrival wins close, the earlier keeps open); merge() treats `from` as later.

import type { Bar, Timeframe } from '../domain/types.js';

/** Field offsets inside one accumulator. */
export const START = 0;
export const END = 1;
export const OPEN = 2;
export const HIGH = 3;
export const LOW = 4;
export const CLOSE = 5;
export const VOLUME = 6;
/** Σ price·size, for VWAP */
export const TURNOVER = 7;
/** tick count; 0 marks an empty accumulator */
export const TRADES = 8;
export const FIRST_TS = 9;
export const LAST_TS = 10;
export const REVISION = 11;
export const ACCUMULATOR_FIELDS = 12;

export function isEmpty(state: Float64Array, at: number): boolean {
  return state[at + TRADES] === 0;
}

export function clearAccumulator(state: Float64Array, at: number): void {
  state.fill(0, at, at + ACCUMULATOR_FIELDS);
}

/** Starts an empty accumulator for the window [startMs, endMs) with one tick. */
export function startAccumulator(
  state: Float64Array,
  at: number,
  startMs: number,
  endMs: number,
  ts: number,
  price: number,
  size: number,
): void {
  state[at + START] = startMs;
  state[at + END] = endMs;
  state[at + OPEN] = price;
  state[at + HIGH] = price;
  state[at + LOW] = price;
  state[at + CLOSE] = price;
  state[at + VOLUME] = size;
  state[at + TURNOVER] = price * size;
  state[at + TRADES] = 1;
  state[at + FIRST_TS] = ts;
  state[at + LAST_TS] = ts;
  state[at + REVISION] = 0;
}

/** Adds one tick to a non-empty accumulator. */
export function addTick(state: Float64Array, at: number, ts: number, price: number, size: number): void {
  if (ts < state[at + FIRST_TS]!) {
    state[at + FIRST_TS] = ts;
    state[at + OPEN] = price;
  }
  if (ts >= state[at + LAST_TS]!) {
    state[at + LAST_TS] = ts;
    state[at + CLOSE] = price;
  }
  if (price > state[at + HIGH]!) state[at + HIGH] = price;
  if (price < state[at + LOW]!) state[at + LOW] = price;
  state[at + VOLUME]! += size;
  state[at + TURNOVER]! += price * size;
  state[at + TRADES]!++;
}

/**
 * Merges accumulator `from` into `to` (rollup). An empty `to` becomes a copy of `from` over the window
 * [startMs, endMs) with revision 0; a non-empty `to` keeps its window and revision.
 */
export function mergeAccumulator(
  state: Float64Array,
  to: number,
  from: number,
  startMs: number,
  endMs: number,
): void {
  if (state[to + TRADES] === 0) {
    state.copyWithin(to, from, from + ACCUMULATOR_FIELDS);
    state[to + START] = startMs;
    state[to + END] = endMs;
    state[to + REVISION] = 0;
    return;
  }
  if (state[from + FIRST_TS]! < state[to + FIRST_TS]!) {
    state[to + FIRST_TS] = state[from + FIRST_TS]!;
    state[to + OPEN] = state[from + OPEN]!;
  }
  if (state[from + LAST_TS]! >= state[to + LAST_TS]!) {
    state[to + LAST_TS] = state[from + LAST_TS]!;
    state[to + CLOSE] = state[from + CLOSE]!;
  }
  if (state[from + HIGH]! > state[to + HIGH]!) state[to + HIGH] = state[from + HIGH]!;
  if (state[from + LOW]! < state[to + LOW]!) state[to + LOW] = state[from + LOW]!;
  state[to + VOLUME]! += state[from + VOLUME]!;
  state[to + TURNOVER]! += state[from + TURNOVER]!;
  state[to + TRADES]! += state[from + TRADES]!;
}

/**
 * VWAP = turnover / volume, clamped to [low, high] (rounding of Σ price·size can land one ulp outside);
 * when every tick had size 0 (volume 0) there is no weight, so VWAP = close.
 */
export function vwapOf(state: Float64Array, at: number): number {
  const volume = state[at + VOLUME]!;
  if (!(volume > 0)) return state[at + CLOSE]!;
  const vwap = state[at + TURNOVER]! / volume;
  const low = state[at + LOW]!;
  const high = state[at + HIGH]!;
  return vwap < low ? low : vwap > high ? high : vwap;
}

export function accumulatorToBar(state: Float64Array, at: number, symbol: string, timeframe: Timeframe): Bar {
  return {
    symbol,
    timeframe,
    ts: state[at + START]!,
    end: state[at + END]!,
    open: state[at + OPEN]!,
    high: state[at + HIGH]!,
    low: state[at + LOW]!,
    close: state[at + CLOSE]!,
    volume: state[at + VOLUME]!,
    vwap: vwapOf(state, at),
    trades: state[at + TRADES]!,
    revision: state[at + REVISION]!,
  };
}

/**
 * A standalone accumulator (one window, one symbol) over the same arithmetic, for callers that build a
 * single bar, and for tests. The aggregator uses the functions above on its flat buffer instead.
 */
export class BarAccumulator {
  readonly state = new Float64Array(ACCUMULATOR_FIELDS);

  constructor(
    readonly startMs: number,
    readonly endMs: number,
  ) {}

  get isEmpty(): boolean {
    return isEmpty(this.state, 0);
  }

  add(ts: number, price: number, size: number): void {
    if (isEmpty(this.state, 0)) startAccumulator(this.state, 0, this.startMs, this.endMs, ts, price, size);
    else addTick(this.state, 0, ts, price, size);
  }

  /** Merges `other` (taken as the later arrival) into this one. */
  merge(other: BarAccumulator): void {
    if (other.isEmpty) return;
    const pair = new Float64Array(2 * ACCUMULATOR_FIELDS);
    pair.set(this.state, 0);
    pair.set(other.state, ACCUMULATOR_FIELDS);
    mergeAccumulator(pair, 0, ACCUMULATOR_FIELDS, this.startMs, this.endMs);
    this.state.set(pair.subarray(0, ACCUMULATOR_FIELDS));
  }

  toBar(symbol: string, timeframe: Timeframe): Bar {
    return accumulatorToBar(this.state, 0, symbol, timeframe);
  }
}

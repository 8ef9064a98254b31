// Folding into a symbol's 1h/1d accumulators of the bar aggregator's flat state: a closing 5m bar rolled up,
// or a revising tick (rule 2) applied to its open or already-closed coarser bars. Pure: no clock, no I/O.

import { MlfpError } from '../errors.js';
import { formatTime, HOUR_MS } from '../domain/time.js';
import type { Bar, Timeframe } from '../domain/types.js';
import { accumulatorToBar, addTick, mergeAccumulator, REVISION, START, TRADES } from './bar-accumulator.js';
import { CLOSED_1D, CLOSED_1H, CLOSED_5M, OPEN_1D, OPEN_1H } from './bar-slots.js';
import type { SessionCalendar } from './session-calendar.js';

/** Rolls the symbol's just-closed 5m bar (at base + CLOSED_5M) into its hour and, when in session, its day. */
export function rollUpClosed5m(
  state: Float64Array,
  calendar: SessionCalendar,
  symbol: string,
  base: number,
  out: Bar[],
): void {
  const closed = base + CLOSED_5M;
  const barStart = state[closed + START]!;
  const hourStart = Math.floor(barStart / HOUR_MS) * HOUR_MS;
  rollUp(state, symbol, closed, base + OPEN_1H, base + CLOSED_1H, hourStart, hourStart + HOUR_MS, '1h', out);
  if (calendar.locate(barStart)) {
    const dayStart = calendar.dayStartMs;
    rollUp(state, symbol, closed, base + OPEN_1D, base + CLOSED_1D, dayStart, calendar.dayEndMs, '1d', out);
  }
}

/** Rule 2 past the 5m bar: a tick that revised the closed 5m bar reaches its hour and (in session) its day. */
export function reviseCoarseBars(
  state: Float64Array,
  calendar: SessionCalendar,
  symbol: string,
  base: number,
  ts: number,
  price: number,
  size: number,
  out: Bar[],
): void {
  const barStart = state[base + CLOSED_5M + START]!;
  const hourStart = Math.floor(barStart / HOUR_MS) * HOUR_MS;
  reviseCoarse(state, symbol, base + OPEN_1H, base + CLOSED_1H, hourStart, '1h', ts, price, size, out);
  if (calendar.locate(barStart)) {
    const dayStart = calendar.dayStartMs;
    reviseCoarse(state, symbol, base + OPEN_1D, base + CLOSED_1D, dayStart, '1d', ts, price, size, out);
  }
}

/** Merges a closed 5m bar into its open coarser bar, or revises the closed one, or opens it. */
function rollUp(
  state: Float64Array,
  symbol: string,
  from: number,
  open: number,
  closed: number,
  startMs: number,
  endMs: number,
  timeframe: Timeframe,
  out: Bar[],
): void {
  if (state[open + TRADES] !== 0) {
    if (state[open + START] !== startMs) inconsistent(state, symbol, timeframe, open, startMs);
    mergeAccumulator(state, open, from, startMs, endMs);
  } else if (state[closed + TRADES] !== 0 && state[closed + START] === startMs) {
    // the coarser bar was closed early (idle close) and a 5m bar of it closed since: revise it
    mergeAccumulator(state, closed, from, startMs, endMs);
    state[closed + REVISION]!++;
    out.push(accumulatorToBar(state, closed, symbol, timeframe));
  } else {
    mergeAccumulator(state, open, from, startMs, endMs);
  }
}

/** A revising tick reaches the coarser bar: absorbed silently when open, re-emitted (revision + 1) when closed. */
function reviseCoarse(
  state: Float64Array,
  symbol: string,
  open: number,
  closed: number,
  startMs: number,
  timeframe: Timeframe,
  ts: number,
  price: number,
  size: number,
  out: Bar[],
): void {
  if (state[open + TRADES] !== 0 && state[open + START] === startMs) {
    addTick(state, open, ts, price, size);
  } else if (state[closed + TRADES] !== 0 && state[closed + START] === startMs) {
    addTick(state, closed, ts, price, size);
    state[closed + REVISION]!++;
    out.push(accumulatorToBar(state, closed, symbol, timeframe));
  } else {
    inconsistent(state, symbol, timeframe, open, startMs);
  }
}

function inconsistent(
  state: Float64Array,
  symbol: string,
  timeframe: Timeframe,
  at: number,
  startMs: number,
): never {
  throw new MlfpError(
    'internal',
    `bar aggregator: ${symbol} ${timeframe} state holds ${formatTime(state[at + START]!)} while ${formatTime(startMs)} is expected`,
  );
}

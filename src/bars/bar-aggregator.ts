// Event-time OHLCV+VWAP bars (5m, and 1h/1d rolled up from closed 5m bars) for every symbol of one input
// stream (one instance per Kafka partition or per file). Pure state machine: no RxJS, no clock, no I/O.
//
// Watermark. watermark = maxEventTimeSeen − allowedLatenessMs, one per instance, monotone, −∞ before the
// first tick. allowedLatenessMs ∈ [0, 5m], so a symbol has at most two open 5m bars (kept in two slots by
// the parity of the bar index).
// Closing. When the watermark reaches a bar's end (watermark ≥ end), the bar closes for every symbol of
// the instance and is emitted with revision 0; bars without ticks are never emitted. A closing 5m bar is
// merged into its hour and (when in session) its day. A 1h bar closes at its end, after its last 5m bar;
// a 1d bar closes at its session close (rounded up to 5m). Emission order: by end time, then 5m, 1h, 1d,
// then symbols in the order they were first seen; a revision caused by a closing bar follows that bar.
// Ticks, per symbol, with w = the tick's 5m window:
//   1. w is open                                      → merged (even if tick.ts < watermark)
//   2. w is the symbol's most recent closed 5m bar and tick.ts ≥ watermark
//                                                     → merged, re-emitted with revision + 1; its open
//                                                       1h/1d bars absorb the tick silently, closed ones are
//                                                       re-emitted with revision + 1 as well
//   3. w is at or before the most recent closed 5m bar (case 2 aside), or w ended at or before the watermark
//                                                     → dead letter `late` (field ts, value ISO time)
//   4. otherwise                                      → w opens.
// Idle close (onIdle): after idleTimeoutMs of wall time without ticks, every open bar whose end ≤
// maxEventTimeSeen + wall time elapsed since the last tick is closed, exactly as the watermark would close
// it; the watermark itself does not move, so later ticks of those bars revise them (rule 2).
// flush() closes every open bar (end of a file). State: one Float64Array, 7 accumulators × 12 numbers per
// symbol (two open 5m, open 1h, open 1d, last closed 5m/1h/1d for revisions); snapshot() is versioned JSON.

import { MlfpError } from '../errors.js';
import { formatTime } from '../domain/time.js';
import type { Bar, DeadLetter, Tick, Timeframe } from '../domain/types.js';
import {
  ACCUMULATOR_FIELDS,
  accumulatorToBar,
  addTick,
  clearAccumulator,
  END,
  REVISION,
  START,
  startAccumulator,
  TRADES,
} from './bar-accumulator.js';
import { checkBarAggregatorOptions, type BarAggregatorOptions } from './bar-aggregator-options.js';
import {
  parseBarAggregatorSnapshot,
  writeBarAggregatorSnapshot,
  type BarAggregatorSnapshot,
} from './bar-aggregator-snapshot.js';
import { lateTick, unvalidatedTick } from './bar-dead-letters.js';
import { reviseCoarseBars, rollUpClosed5m } from './bar-rollup.js';
import {
  CLOSED_1D,
  CLOSED_1H,
  CLOSED_5M,
  dailyCloseAt,
  FIVE_MINUTES_MS,
  MAX_EVENT_TIME_MS,
  nextCloseOf,
  OPEN_1D,
  OPEN_1H,
  OPEN_5M,
  SYMBOL_STRIDE,
} from './bar-slots.js';
import { SessionCalendar, type SessionOptions } from './session-calendar.js';

export {
  DEFAULT_ALLOWED_LATENESS_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_SYMBOLS,
  type BarAggregatorOptions,
} from './bar-aggregator-options.js';
export type { BarAggregatorSnapshot } from './bar-aggregator-snapshot.js';
export { SLOT_NAMES } from './bar-slots.js';

export class BarAggregator {
  readonly allowedLatenessMs: number;
  readonly idleTimeoutMs: number;
  readonly maxSymbols: number;
  private readonly calendar: SessionCalendar;
  private state: Float64Array;
  private symbols: string[] = [];
  private indexBySymbol = new Map<string, number>();
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private watermark = Number.NEGATIVE_INFINITY;
  /** Smallest close time of any open accumulator (+∞ when none): the watermark test per tick is one compare. */
  private nextCloseAtMs = Number.POSITIVE_INFINITY;

  constructor(options: BarAggregatorOptions = {}) {
    const checked = checkBarAggregatorOptions(options);
    this.allowedLatenessMs = checked.allowedLatenessMs;
    this.idleTimeoutMs = checked.idleTimeoutMs;
    this.maxSymbols = checked.maxSymbols;
    this.calendar = new SessionCalendar(options.session);
    this.state = new Float64Array(16 * SYMBOL_STRIDE);
  }

  /** maxEventTimeSeen − allowedLatenessMs; −Infinity before the first tick. */
  get watermarkMs(): number {
    return this.watermark;
  }

  /** Largest tick ts seen; −Infinity before the first tick. */
  get maxEventTimeMs(): number {
    return this.maxEventTime;
  }

  get symbolCount(): number {
    return this.symbols.length;
  }

  /** Bytes of the flat accumulator buffer (capacity, not just the symbols in use). */
  get stateBytes(): number {
    return this.state.byteLength;
  }

  /**
   * Applies one tick; bars it closes or revises are pushed onto `out` in emission order. Returns undefined,
   * or the dead letter when the tick is rejected (`late`; `too_large` past maxSymbols; bad_time /
   * non_positive_price / negative_size for a Tick that skipped validation).
   */
  add(tick: Tick, out: Bar[]): DeadLetter | undefined {
    const ts = tick.ts;
    const price = tick.price;
    const size = tick.size;
    if (!(ts >= 0 && ts < MAX_EVENT_TIME_MS && price > 0 && price < Infinity && size >= 0 && size < Infinity))
      return unvalidatedTick(tick);
    if (ts > this.maxEventTime) {
      this.maxEventTime = ts;
      const watermark = ts - this.allowedLatenessMs;
      if (watermark > this.watermark) {
        this.watermark = watermark;
        if (watermark >= this.nextCloseAtMs) this.closeThrough(watermark, out);
      }
    }
    const bucket = Math.floor(ts / FIVE_MINUTES_MS); // not ts % 5m: a float modulo is a slow fmod call
    const start = bucket * FIVE_MINUTES_MS;
    let index = this.indexBySymbol.get(tick.symbol);
    if (index === undefined) {
      if (start + FIVE_MINUTES_MS <= this.watermark) return this.late(tick, start, 'its 5m bar has closed');
      if (this.symbols.length >= this.maxSymbols) {
        return {
          reason: 'too_large',
          field: 'symbol',
          value: tick.symbol,
          message: `bar aggregator already tracks maxSymbols = ${this.maxSymbols} symbols`,
        };
      }
      index = this.addSymbol(tick.symbol);
    }
    const state = this.state;
    const base = index * SYMBOL_STRIDE;
    const open = base + OPEN_5M + (bucket & 1) * ACCUMULATOR_FIELDS;
    if (state[open + TRADES] !== 0 && state[open + START] === start) {
      addTick(state, open, ts, price, size);
      return undefined;
    }
    const closed = base + CLOSED_5M;
    if (state[closed + TRADES] !== 0 && start <= state[closed + START]!) {
      if (start === state[closed + START] && ts >= this.watermark) {
        this.revise(index, ts, price, size, out);
        return undefined;
      }
      return this.late(
        tick,
        start,
        start === state[closed + START] ? 'its 5m bar has closed' : 'a later 5m bar of the symbol has closed',
      );
    }
    if (start + FIVE_MINUTES_MS <= this.watermark) return this.late(tick, start, 'its 5m bar has closed');
    if (state[open + TRADES] !== 0) {
      throw new MlfpError(
        'internal',
        `bar aggregator: ${tick.symbol} 5m slot holds ${formatTime(state[open + START]!)} while opening ${formatTime(start)}`,
      );
    }
    startAccumulator(state, open, start, start + FIVE_MINUTES_MS, ts, price, size);
    if (start + FIVE_MINUTES_MS < this.nextCloseAtMs) this.nextCloseAtMs = start + FIVE_MINUTES_MS;
    return undefined;
  }

  /**
   * Idle close: `idleForMs` is the wall time since the last tick. When it is at least idleTimeoutMs, closes
   * (and pushes onto `out`) every open bar ending at or before maxEventTimeSeen + idleForMs.
   */
  onIdle(idleForMs: number, out: Bar[]): void {
    if (!(idleForMs >= this.idleTimeoutMs)) return;
    this.closeThrough(this.maxEventTime + idleForMs, out);
  }

  /**
   * The wall time since the last tick at which onIdle() will next close something: at least idleTimeoutMs;
   * +Infinity when no bar is open. Lets a timer sleep until then instead of polling.
   */
  nextIdleCloseAfterMs(): number {
    if (this.nextCloseAtMs === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    const untilClose = this.nextCloseAtMs - this.maxEventTime;
    return untilClose > this.idleTimeoutMs ? untilClose : this.idleTimeoutMs;
  }

  /** Closes every open bar (end of input), pushing them onto `out` in emission order. */
  flush(out: Bar[]): void {
    this.closeThrough(Number.POSITIVE_INFINITY, out);
  }

  /** The whole state as versioned plain JSON (numbers and nulls only; −∞ written as null). */
  snapshot(): BarAggregatorSnapshot {
    const { state, symbols, maxEventTime, watermark } = this;
    return writeBarAggregatorSnapshot({ state, symbols, maxEventTime, watermark }, this.settings());
  }

  /**
   * Replaces the state with a snapshot taken with the same allowedLatenessMs and session. Validates all of
   * it first (snapshot_invalid) so a bad snapshot leaves this instance unchanged.
   */
  restore(snapshot: unknown): void {
    const parsed = parseBarAggregatorSnapshot(snapshot, { ...this.settings(), maxSymbols: this.maxSymbols });
    this.state = parsed.state;
    this.symbols = parsed.symbols;
    this.indexBySymbol = parsed.indexBySymbol;
    this.maxEventTime = parsed.maxEventTime;
    this.watermark = parsed.watermark;
    this.nextCloseAtMs = this.scanNextCloseAt();
  }

  private settings(): { allowedLatenessMs: number; session: SessionOptions | undefined } {
    return { allowedLatenessMs: this.allowedLatenessMs, session: this.calendar.session };
  }

  private addSymbol(symbol: string): number {
    const index = this.symbols.length;
    if ((index + 1) * SYMBOL_STRIDE > this.state.length) {
      // amortised O(1): double the buffer
      const grown = new Float64Array(this.state.length * 2);
      grown.set(this.state);
      this.state = grown;
    }
    this.symbols.push(symbol);
    this.indexBySymbol.set(symbol, index);
    return index;
  }

  /** Closes, in emission order, every open bar whose close time is ≤ limitMs. */
  private closeThrough(limitMs: number, out: Bar[]): void {
    const symbolCount = this.symbols.length;
    while (this.nextCloseAtMs !== Number.POSITIVE_INFINITY && this.nextCloseAtMs <= limitMs) {
      const endMs = this.nextCloseAtMs;
      const state = this.state;
      for (let index = 0; index < symbolCount; index++) {
        const base = index * SYMBOL_STRIDE;
        for (
          let open = base + OPEN_5M;
          open <= base + OPEN_5M + ACCUMULATOR_FIELDS;
          open += ACCUMULATOR_FIELDS
        ) {
          if (state[open + TRADES] !== 0 && state[open + END] === endMs) this.close5m(index, open, out);
        }
      }
      for (let index = 0; index < symbolCount; index++) {
        const at = index * SYMBOL_STRIDE + OPEN_1H;
        if (state[at + TRADES] !== 0 && state[at + END] === endMs)
          this.closeCoarse(index, at, CLOSED_1H, '1h', out);
      }
      let next = Number.POSITIVE_INFINITY;
      for (let index = 0; index < symbolCount; index++) {
        const base = index * SYMBOL_STRIDE;
        const day = base + OPEN_1D;
        if (state[day + TRADES] !== 0 && dailyCloseAt(state[day + END]!) === endMs)
          this.closeCoarse(index, day, CLOSED_1D, '1d', out);
        next = Math.min(next, nextCloseOf(state, base));
      }
      this.nextCloseAtMs = next;
    }
  }

  private close5m(index: number, open: number, out: Bar[]): void {
    const state = this.state;
    const base = index * SYMBOL_STRIDE;
    const closed = base + CLOSED_5M;
    state.copyWithin(closed, open, open + ACCUMULATOR_FIELDS);
    clearAccumulator(state, open);
    const symbol = this.symbols[index]!;
    out.push(accumulatorToBar(state, closed, symbol, '5m'));
    rollUpClosed5m(state, this.calendar, symbol, base, out);
  }

  private closeCoarse(
    index: number,
    open: number,
    closedSlot: number,
    timeframe: Timeframe,
    out: Bar[],
  ): void {
    const state = this.state;
    const closed = index * SYMBOL_STRIDE + closedSlot;
    state.copyWithin(closed, open, open + ACCUMULATOR_FIELDS);
    clearAccumulator(state, open);
    out.push(accumulatorToBar(state, closed, this.symbols[index]!, timeframe));
  }

  /** Rule 2: a tick for the most recent closed 5m bar, not behind the watermark. */
  private revise(index: number, ts: number, price: number, size: number, out: Bar[]): void {
    const state = this.state;
    const base = index * SYMBOL_STRIDE;
    const closed = base + CLOSED_5M;
    addTick(state, closed, ts, price, size);
    state[closed + REVISION]!++;
    const symbol = this.symbols[index]!;
    out.push(accumulatorToBar(state, closed, symbol, '5m'));
    reviseCoarseBars(state, this.calendar, symbol, base, ts, price, size, out);
  }

  private late(tick: Tick, barStartMs: number, why: string): DeadLetter {
    return lateTick(tick, barStartMs, why, this.watermark, this.allowedLatenessMs);
  }

  private scanNextCloseAt(): number {
    let next = Number.POSITIVE_INFINITY;
    for (let index = 0; index < this.symbols.length; index++)
      next = Math.min(next, nextCloseOf(this.state, index * SYMBOL_STRIDE));
    return next;
  }
}

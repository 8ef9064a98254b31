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
import { formatTime, HOUR_MS, MINUTE_MS } from '../domain/time.js';
import type { Bar, DeadLetter, Tick, Timeframe } from '../domain/types.js';
import {
  ACCUMULATOR_FIELDS,
  accumulatorToBar,
  addTick,
  clearAccumulator,
  END,
  HIGH,
  LOW,
  mergeAccumulator,
  REVISION,
  START,
  startAccumulator,
  TRADES,
  VOLUME,
} from './bar-accumulator.js';
import { SessionCalendar, type SessionOptions } from './session-calendar.js';

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

export interface BarAggregatorSnapshot {
  version: 1;
  kind: 'mlfp.bar-aggregator';
  allowedLatenessMs: number;
  session: SessionOptions | null;
  /** null before the first tick */
  maxEventTimeMs: number | null;
  /** maxEventTimeMs − allowedLatenessMs, or null */
  watermarkMs: number | null;
  /** in first-seen order; `slots` = 7 accumulators (see SLOT_NAMES), each 12 numbers or null when empty */
  symbols: Array<{ symbol: string; slots: Array<number[] | null> }>;
}

export const DEFAULT_ALLOWED_LATENESS_MS = 2000;
export const DEFAULT_IDLE_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_SYMBOLS = 100_000;
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

const FIVE_MINUTES_MS = 5 * MINUTE_MS;
const MAX_LATENESS_MS = FIVE_MINUTES_MS;
const OPEN_5M = 0; // + parity of the 5m bar index
const OPEN_1H = 2 * ACCUMULATOR_FIELDS;
const OPEN_1D = 3 * ACCUMULATOR_FIELDS;
const CLOSED_5M = 4 * ACCUMULATOR_FIELDS;
const CLOSED_1H = 5 * ACCUMULATOR_FIELDS;
const CLOSED_1D = 6 * ACCUMULATOR_FIELDS;
const SYMBOL_STRIDE = SLOT_NAMES.length * ACCUMULATOR_FIELDS;
const MAX_EVENT_TIME_MS = Date.UTC(2200, 0, 1);

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
    this.allowedLatenessMs = lateness;
    this.idleTimeoutMs = idle;
    this.maxSymbols = maxSymbols;
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
      return unvalidated(tick);
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
    const symbols: BarAggregatorSnapshot['symbols'] = [];
    for (let index = 0; index < this.symbols.length; index++) {
      const slots: Array<number[] | null> = [];
      for (let slot = 0; slot < SLOT_NAMES.length; slot++) {
        const at = index * SYMBOL_STRIDE + slot * ACCUMULATOR_FIELDS;
        slots.push(
          this.state[at + TRADES] === 0 ? null : Array.from(this.state.subarray(at, at + ACCUMULATOR_FIELDS)),
        );
      }
      symbols.push({ symbol: this.symbols[index]!, slots });
    }
    const started = this.maxEventTime !== Number.NEGATIVE_INFINITY;
    return {
      version: 1,
      kind: 'mlfp.bar-aggregator',
      allowedLatenessMs: this.allowedLatenessMs,
      session: this.calendar.session === undefined ? null : { ...this.calendar.session },
      maxEventTimeMs: started ? this.maxEventTime : null,
      watermarkMs: started ? this.watermark : null,
      symbols,
    };
  }

  /**
   * Replaces the state with a snapshot taken with the same allowedLatenessMs and session. Validates all of
   * it first (snapshot_invalid) so a bad snapshot leaves this instance unchanged.
   */
  restore(snapshot: unknown): void {
    const parsed = this.parseSnapshot(snapshot);
    this.state = parsed.state;
    this.symbols = parsed.symbols;
    this.indexBySymbol = parsed.indexBySymbol;
    this.maxEventTime = parsed.maxEventTime;
    this.watermark = parsed.watermark;
    this.nextCloseAtMs = this.scanNextCloseAt();
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
    const barStart = state[closed + START]!;
    const hourStart = Math.floor(barStart / HOUR_MS) * HOUR_MS;
    this.rollUp(index, closed, base + OPEN_1H, base + CLOSED_1H, hourStart, hourStart + HOUR_MS, '1h', out);
    if (this.calendar.locate(barStart)) {
      const dayStart = this.calendar.dayStartMs;
      this.rollUp(
        index,
        closed,
        base + OPEN_1D,
        base + CLOSED_1D,
        dayStart,
        this.calendar.dayEndMs,
        '1d',
        out,
      );
    }
  }

  /** Merges a closed 5m bar into its open coarser bar, or revises the closed one, or opens it. */
  private rollUp(
    index: number,
    from: number,
    open: number,
    closed: number,
    startMs: number,
    endMs: number,
    timeframe: Timeframe,
    out: Bar[],
  ): void {
    const state = this.state;
    if (state[open + TRADES] !== 0) {
      if (state[open + START] !== startMs) this.inconsistent(index, timeframe, open, startMs);
      mergeAccumulator(state, open, from, startMs, endMs);
    } else if (state[closed + TRADES] !== 0 && state[closed + START] === startMs) {
      // the coarser bar was closed early (idle close) and a 5m bar of it closed since: revise it
      mergeAccumulator(state, closed, from, startMs, endMs);
      state[closed + REVISION]!++;
      out.push(accumulatorToBar(state, closed, this.symbols[index]!, timeframe));
    } else {
      mergeAccumulator(state, open, from, startMs, endMs);
    }
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
    const barStart = state[closed + START]!;
    this.reviseCoarse(
      index,
      base + OPEN_1H,
      base + CLOSED_1H,
      Math.floor(barStart / HOUR_MS) * HOUR_MS,
      '1h',
      ts,
      price,
      size,
      out,
    );
    if (this.calendar.locate(barStart)) {
      this.reviseCoarse(
        index,
        base + OPEN_1D,
        base + CLOSED_1D,
        this.calendar.dayStartMs,
        '1d',
        ts,
        price,
        size,
        out,
      );
    }
  }

  private reviseCoarse(
    index: number,
    open: number,
    closed: number,
    startMs: number,
    timeframe: Timeframe,
    ts: number,
    price: number,
    size: number,
    out: Bar[],
  ): void {
    const state = this.state;
    if (state[open + TRADES] !== 0 && state[open + START] === startMs) {
      addTick(state, open, ts, price, size);
    } else if (state[closed + TRADES] !== 0 && state[closed + START] === startMs) {
      addTick(state, closed, ts, price, size);
      state[closed + REVISION]!++;
      out.push(accumulatorToBar(state, closed, this.symbols[index]!, timeframe));
    } else {
      this.inconsistent(index, timeframe, open, startMs);
    }
  }

  private late(tick: Tick, barStartMs: number, why: string): DeadLetter {
    const watermark = this.watermark === Number.NEGATIVE_INFINITY ? '-' : formatTime(this.watermark);
    return {
      reason: 'late',
      field: 'ts',
      value: formatTime(tick.ts),
      message: `${tick.symbol} tick at ${formatTime(tick.ts)} is late: ${why} (5m bar ${formatTime(barStartMs)}, watermark ${watermark}, allowedLatenessMs ${this.allowedLatenessMs})`,
    };
  }

  private inconsistent(index: number, timeframe: Timeframe, at: number, startMs: number): never {
    throw new MlfpError(
      'internal',
      `bar aggregator: ${this.symbols[index]} ${timeframe} state holds ${formatTime(this.state[at + START]!)} while ${formatTime(startMs)} is expected`,
    );
  }

  private scanNextCloseAt(): number {
    let next = Number.POSITIVE_INFINITY;
    for (let index = 0; index < this.symbols.length; index++)
      next = Math.min(next, nextCloseOf(this.state, index * SYMBOL_STRIDE));
    return next;
  }

  private parseSnapshot(snapshot: unknown): {
    state: Float64Array;
    symbols: string[];
    indexBySymbol: Map<string, number>;
    maxEventTime: number;
    watermark: number;
  } {
    const fail = (message: string): never => {
      throw new MlfpError('snapshot_invalid', `bar aggregator snapshot: ${message}`);
    };
    if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
    const candidate = snapshot as Partial<Record<keyof BarAggregatorSnapshot, unknown>>;
    if (candidate.version !== 1 || candidate.kind !== 'mlfp.bar-aggregator')
      return fail(`unsupported version/kind ${String(candidate.version)}/${String(candidate.kind)}`);
    if (candidate.allowedLatenessMs !== this.allowedLatenessMs)
      return fail(
        `taken with allowedLatenessMs ${String(candidate.allowedLatenessMs)}, this instance has ${this.allowedLatenessMs}`,
      );
    const own = this.calendar.session;
    const theirs = candidate.session as SessionOptions | null | undefined;
    const sameSession =
      own === undefined
        ? theirs === null
        : typeof theirs === 'object' &&
          theirs !== null &&
          theirs.timezone === own.timezone &&
          theirs.open === own.open &&
          theirs.close === own.close;
    if (!sameSession) return fail('taken with a different session');
    let maxEventTime = Number.NEGATIVE_INFINITY;
    let watermark = Number.NEGATIVE_INFINITY;
    if (candidate.maxEventTimeMs !== null) {
      if (
        typeof candidate.maxEventTimeMs !== 'number' ||
        !(candidate.maxEventTimeMs >= 0 && candidate.maxEventTimeMs < MAX_EVENT_TIME_MS)
      )
        return fail('maxEventTimeMs must be null or an epoch ms');
      maxEventTime = candidate.maxEventTimeMs;
      watermark = maxEventTime - this.allowedLatenessMs;
    }
    if ((candidate.watermarkMs ?? null) !== (candidate.maxEventTimeMs === null ? null : watermark))
      return fail('watermarkMs must equal maxEventTimeMs − allowedLatenessMs');
    if (!Array.isArray(candidate.symbols)) return fail('symbols must be an array');
    const entries = candidate.symbols as unknown[];
    if (entries.length > this.maxSymbols)
      return fail(`${entries.length} symbols exceed maxSymbols ${this.maxSymbols}`);
    let capacity = 16;
    while (capacity < entries.length) capacity *= 2;
    const state = new Float64Array(capacity * SYMBOL_STRIDE);
    const symbols: string[] = [];
    const indexBySymbol = new Map<string, number>();
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index] as { symbol?: unknown; slots?: unknown } | null;
      if (typeof entry !== 'object' || entry === null) return fail(`symbols[${index}] must be an object`);
      const symbol = entry.symbol;
      if (typeof symbol !== 'string' || symbol === '' || indexBySymbol.has(symbol))
        return fail(`symbols[${index}].symbol must be a unique non-empty string`);
      if (!Array.isArray(entry.slots) || entry.slots.length !== SLOT_NAMES.length)
        return fail(`${symbol}: slots must be an array of ${SLOT_NAMES.length}`);
      for (let slot = 0; slot < SLOT_NAMES.length; slot++) {
        const values = (entry.slots as unknown[])[slot];
        if (values === null) continue;
        const at = index * SYMBOL_STRIDE + slot * ACCUMULATOR_FIELDS;
        const problem = checkAccumulator(values, slot);
        if (problem !== undefined) return fail(`${symbol} ${SLOT_NAMES[slot]}: ${problem}`);
        // an open bar always ends after the watermark (reaching it closes the bar)
        const closeAt = slot === 3 ? dailyCloseAt((values as number[])[END]!) : (values as number[])[END]!;
        if (slot <= 3 && !(closeAt > watermark))
          return fail(`${symbol} ${SLOT_NAMES[slot]}: open bar ends at or before the watermark`);
        state.set(values as number[], at);
      }
      symbols.push(symbol);
      indexBySymbol.set(symbol, index);
    }
    return { state, symbols, indexBySymbol, maxEventTime, watermark };
  }
}

/** A daily bar closes when the watermark reaches its session close, rounded up to the 5m grid. */
function dailyCloseAt(endMs: number): number {
  const remainder = endMs % FIVE_MINUTES_MS;
  return remainder === 0 ? endMs : endMs - remainder + FIVE_MINUTES_MS;
}

function nextCloseOf(state: Float64Array, base: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (let open = base + OPEN_5M; open <= base + OPEN_1H; open += ACCUMULATOR_FIELDS) {
    if (state[open + TRADES] !== 0 && state[open + END]! < next) next = state[open + END]!;
  }
  const day = base + OPEN_1D;
  if (state[day + TRADES] !== 0) next = Math.min(next, dailyCloseAt(state[day + END]!));
  return next;
}

function checkAccumulator(values: unknown, slot: number): string | undefined {
  if (!Array.isArray(values) || values.length !== ACCUMULATOR_FIELDS)
    return `must be null or ${ACCUMULATOR_FIELDS} numbers`;
  for (const value of values)
    if (typeof value !== 'number' || !Number.isFinite(value)) return 'numbers must be finite';
  const numbers = values as number[];
  const start = numbers[START]!;
  const end = numbers[END]!;
  if (!(start >= 0 && end > start)) return 'needs 0 <= start < end';
  if (!(Number.isInteger(numbers[TRADES]) && numbers[TRADES]! >= 1)) return 'trades must be an integer >= 1';
  if (!(Number.isInteger(numbers[REVISION]) && numbers[REVISION]! >= 0))
    return 'revision must be an integer >= 0';
  if (!(numbers[LOW]! > 0 && numbers[LOW]! <= numbers[HIGH]!)) return 'needs 0 < low <= high';
  if (!(numbers[VOLUME]! >= 0)) return 'volume must be >= 0';
  const isFiveMinute = slot <= 1 || slot === 4;
  if (isFiveMinute && (start % FIVE_MINUTES_MS !== 0 || end !== start + FIVE_MINUTES_MS))
    return 'not a 5m window';
  if (slot <= 1 && ((start / FIVE_MINUTES_MS) & 1) !== slot) return 'in the wrong parity slot';
  if ((slot === 2 || slot === 5) && (start % HOUR_MS !== 0 || end !== start + HOUR_MS))
    return 'not a 1h window';
  return undefined;
}

function unvalidated(tick: Tick): DeadLetter {
  const ts = tick.ts;
  if (!(ts >= 0 && ts < MAX_EVENT_TIME_MS))
    return {
      reason: 'bad_time',
      field: 'ts',
      value: String(ts),
      message: 'tick ts must be epoch ms in 1970..2200',
    };
  if (!(tick.price > 0 && tick.price < Infinity))
    return {
      reason: 'non_positive_price',
      field: 'price',
      value: String(tick.price),
      message: 'price must be finite and > 0',
    };
  return {
    reason: 'negative_size',
    field: 'size',
    value: String(tick.size),
    message: 'size must be finite and >= 0',
  };
}

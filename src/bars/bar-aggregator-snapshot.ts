// The bar aggregator's versioned JSON snapshot: writing it from the flat state, and validating one in full
// (snapshot_invalid) before restore() swaps it in, so a bad snapshot leaves the instance unchanged.

import { MlfpError } from '../errors.js';
import { HOUR_MS } from '../domain/time.js';
import { ACCUMULATOR_FIELDS, END, HIGH, LOW, REVISION, START, TRADES, VOLUME } from './bar-accumulator.js';
import { dailyCloseAt, FIVE_MINUTES_MS, MAX_EVENT_TIME_MS, SLOT_NAMES, SYMBOL_STRIDE } from './bar-slots.js';
import type { SessionOptions } from './session-calendar.js';

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

/** The aggregator's mutable state, as restore() swaps it in. */
export interface BarAggregatorState {
  state: Float64Array;
  symbols: string[];
  indexBySymbol: Map<string, number>;
  maxEventTime: number;
  watermark: number;
}

/** The settings a snapshot must have been taken with. */
export interface BarAggregatorSettings {
  allowedLatenessMs: number;
  session: SessionOptions | undefined;
  maxSymbols: number;
}

/** The whole state as versioned plain JSON (numbers and nulls only; −∞ written as null). */
export function writeBarAggregatorSnapshot(
  from: Omit<BarAggregatorState, 'indexBySymbol'>,
  settings: Omit<BarAggregatorSettings, 'maxSymbols'>,
): BarAggregatorSnapshot {
  const symbols: BarAggregatorSnapshot['symbols'] = [];
  for (let index = 0; index < from.symbols.length; index++) {
    const slots: Array<number[] | null> = [];
    for (let slot = 0; slot < SLOT_NAMES.length; slot++) {
      const at = index * SYMBOL_STRIDE + slot * ACCUMULATOR_FIELDS;
      slots.push(
        from.state[at + TRADES] === 0 ? null : Array.from(from.state.subarray(at, at + ACCUMULATOR_FIELDS)),
      );
    }
    symbols.push({ symbol: from.symbols[index]!, slots });
  }
  const started = from.maxEventTime !== Number.NEGATIVE_INFINITY;
  return {
    version: 1,
    kind: 'mlfp.bar-aggregator',
    allowedLatenessMs: settings.allowedLatenessMs,
    session: settings.session === undefined ? null : { ...settings.session },
    maxEventTimeMs: started ? from.maxEventTime : null,
    watermarkMs: started ? from.watermark : null,
    symbols,
  };
}

/** Validates a snapshot taken with the same allowedLatenessMs and session; throws snapshot_invalid. */
export function parseBarAggregatorSnapshot(
  snapshot: unknown,
  settings: BarAggregatorSettings,
): BarAggregatorState {
  const fail = (message: string): never => {
    throw new MlfpError('snapshot_invalid', `bar aggregator snapshot: ${message}`);
  };
  if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
  const candidate = snapshot as Partial<Record<keyof BarAggregatorSnapshot, unknown>>;
  if (candidate.version !== 1 || candidate.kind !== 'mlfp.bar-aggregator')
    return fail(`unsupported version/kind ${String(candidate.version)}/${String(candidate.kind)}`);
  if (candidate.allowedLatenessMs !== settings.allowedLatenessMs)
    return fail(
      `taken with allowedLatenessMs ${String(candidate.allowedLatenessMs)}, this instance has ${settings.allowedLatenessMs}`,
    );
  const own = settings.session;
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
    watermark = maxEventTime - settings.allowedLatenessMs;
  }
  if ((candidate.watermarkMs ?? null) !== (candidate.maxEventTimeMs === null ? null : watermark))
    return fail('watermarkMs must equal maxEventTimeMs − allowedLatenessMs');
  if (!Array.isArray(candidate.symbols)) return fail('symbols must be an array');
  const entries = candidate.symbols as unknown[];
  if (entries.length > settings.maxSymbols)
    return fail(`${entries.length} symbols exceed maxSymbols ${settings.maxSymbols}`);
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

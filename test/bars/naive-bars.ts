// Independent reference for bar tests: group ticks by window directly (no rollup, no watermark, no typed
// arrays), sort each group by (ts, arrival), and read OHLCV off the sorted list. Slow and obviously right.

import type { Bar, Tick, Timeframe } from '../../src/domain/types.js';

export interface NaiveSession {
  timezone: string;
  open: string;
  close: string;
}

const FIVE_MINUTES_MS = 300_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Bars of every non-empty window, keyed `${symbol}|${timeframe}|${ts}`; `ticks` in arrival order. */
export function naiveBars(ticks: readonly Tick[], session?: NaiveSession): Map<string, Bar> {
  const groups = new Map<
    string,
    { symbol: string; timeframe: Timeframe; ts: number; end: number; ticks: Tick[] }
  >();
  const add = (tick: Tick, timeframe: Timeframe, ts: number, end: number) => {
    const key = barKey(tick.symbol, timeframe, ts);
    let group = groups.get(key);
    if (group === undefined)
      groups.set(key, (group = { symbol: tick.symbol, timeframe, ts, end, ticks: [] }));
    group.ticks.push(tick);
  };
  for (const tick of ticks) {
    const fiveStart = Math.floor(tick.ts / FIVE_MINUTES_MS) * FIVE_MINUTES_MS;
    add(tick, '5m', fiveStart, fiveStart + FIVE_MINUTES_MS);
    const hourStart = Math.floor(tick.ts / HOUR_MS) * HOUR_MS;
    add(tick, '1h', hourStart, hourStart + HOUR_MS);
    if (session === undefined) {
      const dayStart = Math.floor(tick.ts / DAY_MS) * DAY_MS;
      add(tick, '1d', dayStart, dayStart + DAY_MS);
    } else {
      const day = naiveSessionDay(fiveStart, session);
      if (day !== undefined) add(tick, '1d', day.open, day.close);
    }
  }
  const bars = new Map<string, Bar>();
  for (const [key, group] of groups) {
    // stable sort: equal ts keep arrival order, so first = open, last = close
    const sorted = group.ticks
      .map((tick, arrival) => ({ tick, arrival }))
      .sort((a, b) => a.tick.ts - b.tick.ts || a.arrival - b.arrival)
      .map((entry) => entry.tick);
    const prices = sorted.map((tick) => tick.price);
    const volume = sorted.reduce((sum, tick) => sum + tick.size, 0);
    const turnover = sorted.reduce((sum, tick) => sum + tick.price * tick.size, 0);
    bars.set(key, {
      symbol: group.symbol,
      timeframe: group.timeframe,
      ts: group.ts,
      end: group.end,
      open: sorted[0]!.price,
      high: Math.max(...prices),
      low: Math.min(...prices),
      close: sorted[sorted.length - 1]!.price,
      volume,
      vwap: volume > 0 ? turnover / volume : sorted[sorted.length - 1]!.price,
      trades: sorted.length,
      revision: 0,
    });
  }
  return bars;
}

export function barKey(symbol: string, timeframe: Timeframe, ts: number): string {
  return `${symbol}|${timeframe}|${ts}`;
}

/** The latest revision of every bar in an emission list, keyed like naiveBars(). */
export function latestBars(bars: readonly Bar[]): Map<string, Bar> {
  const latest = new Map<string, Bar>();
  for (const bar of bars) {
    const key = barKey(bar.symbol, bar.timeframe, bar.ts);
    const previous = latest.get(key);
    if (previous === undefined || bar.revision > previous.revision) latest.set(key, bar);
  }
  return latest;
}

/**
 * The session a 5m bar start belongs to, by formatting instants in the zone (toLocaleString) and scanning
 * minute by minute for the open/close instants: independent of SessionCalendar's arithmetic.
 */
export function naiveSessionDay(
  instantMs: number,
  session: NaiveSession,
): { open: number; close: number } | undefined {
  const wall = localParts(instantMs, session.timezone);
  const minutes = wall.hour * 60 + wall.minute;
  const [openMinutes, closeMinutes] = [session.open, session.close].map((text) => {
    const [hours, mins] = text.split(':').map(Number);
    return hours! * 60 + mins!;
  });
  if (minutes < openMinutes! || minutes >= closeMinutes!) return undefined;
  return {
    open: findLocal(instantMs, wall.date, openMinutes!, session),
    close: findLocal(instantMs, wall.date, closeMinutes!, session),
  };
}

const foundLocal = new Map<string, number>();

function findLocal(nearMs: number, date: string, minutes: number, session: NaiveSession): number {
  const key = `${session.timezone} ${date} ${minutes}`;
  const known = foundLocal.get(key);
  if (known !== undefined) return known;
  const found = searchLocal(nearMs, date, minutes, session);
  foundLocal.set(key, found);
  return found;
}

function searchLocal(nearMs: number, date: string, minutes: number, session: NaiveSession): number {
  // first instant (on the 5-minute grid, within ±30h) whose local date/time reaches `date` + minutes
  const from = Math.floor(nearMs / FIVE_MINUTES_MS) * FIVE_MINUTES_MS - 30 * HOUR_MS;
  for (let instant = from; instant < from + 60 * HOUR_MS; instant += FIVE_MINUTES_MS) {
    const wall = localParts(instant, session.timezone);
    const wallMinutes = wall.hour * 60 + wall.minute;
    if (wall.date > date || (wall.date === date && wallMinutes >= minutes)) return instant;
  }
  throw new Error('naive session search failed');
}

const partsCache = new Map<string, { date: string; hour: number; minute: number }>();

function localParts(instantMs: number, timezone: string): { date: string; hour: number; minute: number } {
  const key = `${timezone} ${instantMs}`;
  const known = partsCache.get(key);
  if (known !== undefined) return known;
  const parts = formatLocal(instantMs, timezone);
  if (partsCache.size > 1_000_000) partsCache.clear();
  partsCache.set(key, parts);
  return parts;
}

function formatLocal(instantMs: number, timezone: string): { date: string; hour: number; minute: number } {
  const text = new Date(instantMs).toLocaleString('sv-SE', { timeZone: timezone, hourCycle: 'h23' });
  // sv-SE prints "2024-03-10 09:30:00"
  const [date, time] = text.split(' ');
  const [hour, minute] = time!.split(':').map(Number);
  return { date: date!, hour: hour!, minute: minute! };
}
